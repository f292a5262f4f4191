"""InitiateContract (X2, internal): the contract of an accepted proposal.

The contract id is derived from the proposal id, and the milestone ids from
the contract id and their position, so the jobs service may call this as
often as it needs to (retries, redeliveries, two accepts at once): the first
call creates the contract in one conditional batch, every later call gets
the same id back with 201.
"""

from __future__ import annotations

import logging
import uuid

from common.dates import parse_date
from common.errors import BadRequest
from common.runtime.context import CommandContext
from svc_contracts.messages import milestone_state_name
from svc_contracts.model import (
    ACTIVE,
    OPEN,
    Contract,
    Milestone,
    contract_id_for,
    milestone_id_for,
    money,
    parse_uuid,
)
from svc_contracts.store import CassandraContractStore, now
from workup_pb import contracts_pb2 as pb

logger = logging.getLogger(__name__)

#: Most milestones one contract may have (they share one partition).
MAX_MILESTONES = 100


class ContractCreation:
    def __init__(self, store: CassandraContractStore) -> None:
        self._store = store

    def initiate_contract(
        self, _context: CommandContext, request: pb.InitiateContractRequest
    ) -> pb.InitiateContractResponse:
        _require_parties(request)
        contract_id = contract_id_for(request.proposal_id)
        milestones = [
            _milestone(contract_id, position, item)
            for position, item in enumerate(request.job_milestones)
        ]
        given = [
            m
            for m, item in zip(milestones, request.job_milestones, strict=True)
            if item.HasField("milestone_id")
        ]
        self._check_given_ids(contract_id, milestones, given)
        contract = Contract(
            id=contract_id,
            job_id=request.job_id,
            proposal_id=request.proposal_id,
            job_title=request.job_title if request.HasField("job_title") else None,
            freelancer_id=request.freelancer_id,
            client_id=request.client_id,
            milestone_ids=tuple(str(m.id) for m in milestones),
            status=ACTIVE,
            created_at=now(),
        )
        stored = self._store.create_contract(contract, milestones)
        if _parties(stored) != _parties(contract):
            raise BadRequest("A contract for this proposal exists with other parties")
        if stored is contract:
            logger.info("Created a contract.", extra={"contract_id": str(contract_id)})
        return pb.InitiateContractResponse(contract_id=str(stored.id))

    def _check_given_ids(
        self,
        contract_id: uuid.UUID,
        milestones: list[Milestone],
        given: list[Milestone],
    ) -> None:
        """A caller may choose milestone ids; they must be unique, and not
        another contract's. Derived ids are both by construction."""
        ids = [m.id for m in milestones]
        if len(set(ids)) != len(ids):
            raise BadRequest("jobMilestones has the same milestoneId twice")
        for milestone in given:
            owner = self._store.owner_of(milestone.id)
            if owner is not None and owner != contract_id:
                raise BadRequest(
                    f"milestone {milestone.id} belongs to another contract"
                )


def _require_parties(request: pb.InitiateContractRequest) -> None:
    for name in ("job_id", "proposal_id", "freelancer_id", "client_id"):
        if not getattr(request, name):
            raise BadRequest(f"{name} is required")
    if len(request.job_milestones) > MAX_MILESTONES:
        raise BadRequest(f"a contract may have at most {MAX_MILESTONES} milestones")


def _parties(contract: Contract) -> tuple[str, str, str]:
    return (contract.job_id, contract.client_id, contract.freelancer_id)


def _milestone(
    contract_id: uuid.UUID, position: int, item: pb.ContractMilestoneInput
) -> Milestone:
    if item.amount < 0:
        raise BadRequest("jobMilestones.amount must not be negative")
    return Milestone(
        id=_milestone_id(contract_id, position, item),
        contract_id=contract_id,
        position=position,
        description=item.description if item.HasField("description") else None,
        due_date=(
            parse_date(item.due_date, "jobMilestones.dueDate")
            if item.HasField("due_date")
            else None
        ),
        amount=money(item.amount),
        status=milestone_state_name(item.status) or OPEN,
    )


def _milestone_id(
    contract_id: uuid.UUID, position: int, item: pb.ContractMilestoneInput
) -> uuid.UUID:
    if not item.HasField("milestone_id"):
        return milestone_id_for(contract_id, position)
    given = parse_uuid(item.milestone_id)
    if given is None:
        raise BadRequest("jobMilestones.milestoneId must be a UUID")
    return given
