"""The contracts service's command table."""

from __future__ import annotations

from common.runtime.context import Handler
from svc_contracts.initiate import ContractCreation
from svc_contracts.milestones import MilestoneMoves
from svc_contracts.reads import ContractReads
from svc_contracts.store import CassandraContractStore
from svc_contracts.terminations import Terminations


def contract_handlers(store: CassandraContractStore) -> dict[str, Handler]:
    """Command name -> handler, for all eleven contracts commands."""
    reads = ContractReads(store)
    moves = MilestoneMoves(store)
    terminations = Terminations(store)
    return {
        "InitiateContract": ContractCreation(store).initiate_contract,
        "RequestContractTermination": terminations.request_contract_termination,
        "HandleTerminationRequest": terminations.handle_termination_request,
        "MarkMilestoneAsPaid": moves.mark_milestone_as_paid,
        "ViewContractMilestones": reads.view_contract_milestones,
        "GetContract": reads.get_contract,
        "EvaluateMilestone": moves.evaluate_milestone,
        "ProgressMilestone": moves.progress_milestone,
        "GetPendingTerminations": reads.get_pending_terminations,
        "GetMilestone": reads.get_milestone,
        "PrintContract": reads.print_contract,
    }
