"""The read commands: a contract, its milestones, one milestone, its pending
termination requests, and PrintContract.

Only the contract's client and freelancer, and the administrator, may read
it (API.md B18, a deviation: others get 403). A missing contract or an id
that is no UUID gets each command's own not-found answer (B21). Nothing is
cached, so a read always shows the latest state (B17).
"""

from __future__ import annotations

from common.errors import BadRequest, Forbidden, NotFound
from common.runtime.context import CommandContext
from svc_contracts.messages import (
    contract_response,
    milestone_message,
    milestone_response,
    termination_message,
)
from svc_contracts.model import Contract, ContractFile, parse_uuid
from svc_contracts.printing import contract_text
from svc_contracts.store import CassandraContractStore
from workup_pb import contracts_pb2 as pb

NOT_A_PARTY = "User is not a party to this contract"


def ensure_reader(contract: Contract, context: CommandContext, user_id: str) -> None:
    """Raises Forbidden unless the caller is a party or the administrator."""
    if not contract.may_be_read_by(user_id, context.caller_role):
        raise Forbidden(NOT_A_PARTY)


class ContractReads:
    def __init__(self, store: CassandraContractStore) -> None:
        self._store = store

    def get_contract(
        self, context: CommandContext, request: pb.GetContractRequest
    ) -> pb.GetContractResponse:
        contract_id = parse_uuid(request.contract_id)
        contract = self._store.contract(contract_id) if contract_id else None
        if contract is None:
            raise NotFound("Requested contract does not exist")
        ensure_reader(contract, context, request.user_id)
        return contract_response(contract)

    def view_contract_milestones(
        self, context: CommandContext, request: pb.ViewContractMilestonesRequest
    ) -> pb.ViewContractMilestonesResponse:
        file = self._file(request.contract_id, BadRequest("Invalid contract id"))
        ensure_reader(file.contract, context, request.user_id)
        milestones = file.milestones_in_order()
        return pb.ViewContractMilestonesResponse(
            contract_milestones=[milestone_message(m) for m in milestones]
        )

    def get_milestone(
        self, context: CommandContext, request: pb.GetMilestoneRequest
    ) -> pb.GetMilestoneResponse:
        milestone_id = parse_uuid(request.milestone_id)
        found = self._store.milestone(milestone_id) if milestone_id else None
        if found is None:
            # Two spaces, as the reference has it (API.md R53).
            raise NotFound("Requested milestone  does not exist")
        contract, milestone = found
        ensure_reader(contract, context, request.user_id)
        return milestone_response(milestone)

    def get_pending_terminations(
        self, context: CommandContext, request: pb.GetPendingTerminationsRequest
    ) -> pb.GetPendingTerminationsResponse:
        file = self._file(request.contract_id, BadRequest("Invalid Contract Id"))
        ensure_reader(file.contract, context, request.user_id)
        pending = file.pending_terminations()
        return pb.GetPendingTerminationsResponse(
            termination_requests=[termination_message(t) for t in pending]
        )

    def print_contract(
        self, _context: CommandContext, request: pb.PrintContractRequest
    ) -> pb.PrintContractResponse:
        # Internal only: no route reaches it, so there is no caller to check.
        missing = BadRequest("No Contract With This ID Is Found!")
        file = self._file(request.contract_id, missing)
        return pb.PrintContractResponse(
            with_formated_contract_details=contract_text(file)
        )

    def _file(self, contract_id: str, missing: Exception) -> ContractFile:
        parsed = parse_uuid(contract_id)
        file = self._store.contract_file(parsed) if parsed else None
        if file is None:
            raise missing
        return file
