"""RequestContractTermination (R55) and HandleTerminationRequest (R57).

A party asks the administrator to end an ACTIVE contract; each party may
have one PENDING request per contract. Checks come in this order: the
contract exists (400), the caller is a party (401 "Unauthorized request",
kept from the reference; before any state check, so a stranger learns
nothing of the state), the contract is ACTIVE (400), no request of the
caller is pending (400).

Only the administrator handles a request, only while it is PENDING, and
only as ACCEPTED or REJECTED (API.md B16). Accepting one terminates the
contract in the same conditional write (store.py).
"""

from __future__ import annotations

import logging
import uuid

from common.errors import BadRequest, Forbidden, Unauthorized
from common.runtime.context import CommandContext
from svc_contracts.messages import termination_status_name
from svc_contracts.milestones import change_key
from svc_contracts.model import (
    ACCEPTED,
    ACTIVE,
    ADMIN,
    PENDING,
    TERMINATION_DECISIONS,
    Contract,
    TerminationRequest,
    parse_uuid,
    termination_id_for,
)
from svc_contracts.store import CassandraContractStore, Outcome, now
from workup_pb import contracts_pb2 as pb

logger = logging.getLogger(__name__)

CONTRACT_NOT_VALID = "The contract is not valid."
NOT_ACTIVE = "The contract is not active anymore."
NOT_A_PARTY = "Unauthorized request"
ALREADY_REQUESTED = "Termination Request already exists"
REQUEST_NOT_FOUND = "No Termination Requests Found"
ALREADY_ENDED = "The contract has already ended."
ALREADY_HANDLED = "The termination request was already handled"
BAD_DECISION = "chosenStatus must be ACCEPTED or REJECTED"
NOT_ADMIN = "Only the administrator may handle termination requests"


class Terminations:
    def __init__(self, store: CassandraContractStore) -> None:
        self._store = store

    def request_contract_termination(
        self, context: CommandContext, request: pb.RequestContractTerminationRequest
    ) -> pb.RequestContractTerminationResponse:
        contract_id = parse_uuid(request.contract_id)
        contract = self._store.contract(contract_id) if contract_id else None
        if contract is None:
            raise BadRequest(CONTRACT_NOT_VALID)
        if not contract.has_party(request.user_id):
            raise Unauthorized(NOT_A_PARTY)

        filed = TerminationRequest(
            id=termination_id_for(request.user_id, _request_key(context)),
            contract_id=contract.id,
            requester_id=request.user_id,
            reason=request.reason if request.HasField("reason") else None,
            status=PENDING,
            created_at=now(),
        )
        pending = contract.pending_terminations.get(request.user_id)
        if pending != filed.id:  # else: an earlier delivery filed it
            _ensure_may_file(contract.status, pending)
            outcome = self._store.add_termination(filed)
            if not outcome.applied and outcome.pending_request != filed.id:
                _ensure_may_file(outcome.contract_status, outcome.pending_request)
        return pb.RequestContractTerminationResponse(request_id=str(filed.id))

    def handle_termination_request(
        self, context: CommandContext, request: pb.HandleTerminationRequestRequest
    ) -> pb.HandleTerminationRequestResponse:
        decision = termination_status_name(request.chosen_status)
        if decision is None or decision not in TERMINATION_DECISIONS:
            raise BadRequest(BAD_DECISION)
        if context.caller_role != ADMIN:
            raise Forbidden(NOT_ADMIN)
        contract, filed = self._load(request.contract_termination_request_id)

        change = change_key(context)
        if not (filed.status == decision and filed.last_change == change):
            _ensure_decidable(contract, filed, decision)
            outcome = self._store.decide_termination(filed, decision, change)
            if not outcome.applied:
                _explain(outcome, decision)
            logger.info(
                "Handled a termination request.",
                extra={"request_id": str(filed.id), "decision": decision},
            )
        return pb.HandleTerminationRequestResponse(
            request_status=pb.TerminationRequestStatus.Value.Value(decision)
        )

    def _load(self, request_id: str) -> tuple[Contract, TerminationRequest]:
        parsed = parse_uuid(request_id)
        found = self._store.termination(parsed) if parsed else None
        if found is None:
            raise BadRequest(REQUEST_NOT_FOUND)
        return found


def _request_key(context: CommandContext) -> str:
    return context.idempotency_key or context.request_id


def _ensure_may_file(contract_status: str | None, pending: uuid.UUID | None) -> None:
    if contract_status != ACTIVE:
        raise BadRequest(NOT_ACTIVE)
    if pending is not None:
        raise BadRequest(ALREADY_REQUESTED)


def _ensure_decidable(
    contract: Contract, filed: TerminationRequest, decision: str
) -> None:
    if filed.status != PENDING:
        raise BadRequest(ALREADY_HANDLED)
    if decision == ACCEPTED and contract.status != ACTIVE:
        raise BadRequest(ALREADY_ENDED)


def _explain(outcome: Outcome, decision: str) -> None:
    """Raises the error for a decision whose conditional write did not apply."""
    if outcome.status is not None and outcome.status != PENDING:
        raise BadRequest(ALREADY_HANDLED)
    if decision == ACCEPTED and outcome.contract_status != ACTIVE:
        raise BadRequest(ALREADY_ENDED)
    raise BadRequest(ALREADY_HANDLED)
