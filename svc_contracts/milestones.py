"""ProgressMilestone, EvaluateMilestone (with X3) and MarkMilestoneAsPaid (X4).

    OPEN -> IN_PROGRESS -> IN_REVIEW      the freelancer progresses
    IN_REVIEW -> IN_PROGRESS | ACCEPTED   the client evaluates
    ACCEPTED -> PAID                      payments reports the payment

Only the contract's freelancer progresses and only its client evaluates
(403 otherwise, API.md B14/B15), and only while the contract is ACTIVE. Each
move is one conditional write that checks the milestone's state and the
contract's together (store.py), and records the request that made it
(`last_change`): a redelivered request finds its own change and answers
without moving the milestone a second time.

Evaluating ACCEPTED bills the milestone through payments (X3): first the
milestone moves to ACCEPTED, so a concurrent verdict cannot slip in, then
CreatePaymentRequest is called with the milestone id as its reference (one
payment request per milestone on the payments side). If that call fails,
the milestone goes back to IN_REVIEW and the client gets the error: it is
never left ACCEPTED with nothing to pay.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from common.errors import (
    BadRequest,
    DeadlineExceeded,
    Forbidden,
    Unavailable,
    WorkUpError,
)
from common.runtime.context import CommandContext, deadline_passed
from svc_contracts.messages import milestone_state_name
from svc_contracts.model import (
    ACCEPTED,
    ACTIVE,
    EVALUATION_VERDICTS,
    IN_REVIEW,
    NEXT_PROGRESS,
    PAID,
    Contract,
    Milestone,
    parse_uuid,
)
from svc_contracts.store import CassandraContractStore
from workup_pb import contracts_pb2 as pb, payments_pb2

logger = logging.getLogger(__name__)

#: Seconds of the caller's deadline held back from the call to payments, so
#: that when payments does not answer we can still undo and answer in time.
CALL_RESERVE_S = 1.0
#: Times a move is tried again when another request moved the milestone
#: between our read and our conditional write.
MAX_MOVE_ATTEMPTS = 3

MILESTONE_NOT_FOUND = "Milestone is not found"
CANNOT_PROGRESS = "Milestone cannot be progressed through this command"
NOT_PROGRESSED = "Milestone cannot be evaluated as it has not progressed enough"
NOT_ACCEPTED = "Milestone is not accepted for payment"
NOT_ACTIVE = "The contract is not active anymore."
BAD_VERDICT = "evaluatedState must be ACCEPTED or IN_PROGRESS"
NOT_FREELANCER = "Only the contract's freelancer may progress its milestones"
NOT_CLIENT = "Only the contract's client may evaluate its milestones"
PAYMENTS_DOWN = "The payments service is unavailable; the milestone stays IN_REVIEW"
BILLING_FAILED = "An error occurred while creating the payment request"


def change_key(context: CommandContext) -> str:
    """Names the request behind a change, the same on every redelivery."""
    return f"{context.command}:{context.idempotency_key or context.request_id}"


class MilestoneMoves:
    def __init__(self, store: CassandraContractStore) -> None:
        self._store = store

    def progress_milestone(
        self, context: CommandContext, request: pb.ProgressMilestoneRequest
    ) -> pb.ProgressMilestoneResponse:
        contract, milestone = self._load(request.milestone_id)
        if request.user_id != contract.freelancer_id:
            raise Forbidden(NOT_FREELANCER)
        change = change_key(context)
        # Another request may move the milestone between our read and our
        # write; then read again and take the next step from where it is.
        for _ in range(MAX_MOVE_ATTEMPTS):
            if self._progressed(contract, milestone, change):
                return pb.ProgressMilestoneResponse()
            contract, milestone = self._load(request.milestone_id)
        raise Unavailable("The milestone is changing too fast; try again")

    def _progressed(
        self, contract: Contract, milestone: Milestone, change: str
    ) -> bool:
        """Takes one step; False when the milestone moved under us."""
        if milestone.last_change == change:
            return True  # an earlier delivery of this request took the step
        _ensure_active(contract)
        target = NEXT_PROGRESS.get(milestone.status)
        if target is None:
            raise BadRequest(CANNOT_PROGRESS)
        return self._store.advance_milestone(milestone, target, change).applied

    def evaluate_milestone(
        self, context: CommandContext, request: pb.EvaluateMilestoneRequest
    ) -> pb.EvaluateMilestoneResponse:
        verdict = milestone_state_name(request.evaluated_state)
        if verdict is None or verdict not in EVALUATION_VERDICTS:
            raise BadRequest(BAD_VERDICT)
        contract, milestone = self._load(request.milestone_id)
        if request.user_id != contract.client_id:
            raise Forbidden(NOT_CLIENT)

        change = change_key(context)
        redelivered = milestone.status == verdict and milestone.last_change == change
        if not redelivered:
            self._review(contract, milestone, verdict, change)
        if verdict == ACCEPTED:
            self._bill(context, contract, milestone, change)
        return pb.EvaluateMilestoneResponse()

    def mark_milestone_as_paid(
        self, context: CommandContext, request: pb.MarkMilestoneAsPaidRequest
    ) -> pb.MarkMilestoneAsPaidResponse:
        # Called by payments only, and a payment stands whatever the
        # contract's state, so neither the caller nor the contract is checked.
        _, milestone = self._load(request.milestone_id)
        if milestone.status != PAID:
            if milestone.status != ACCEPTED:
                raise BadRequest(NOT_ACCEPTED)
            outcome = self._store.pay_milestone(milestone, change_key(context))
            if not outcome.applied and outcome.status != PAID:
                raise BadRequest(NOT_ACCEPTED)
        return pb.MarkMilestoneAsPaidResponse()

    def _load(self, milestone_id: str) -> tuple[Contract, Milestone]:
        parsed = parse_uuid(milestone_id)
        found = self._store.milestone(parsed) if parsed else None
        if found is None:
            raise BadRequest(MILESTONE_NOT_FOUND)
        return found

    def _review(
        self, contract: Contract, milestone: Milestone, verdict: str, change: str
    ) -> None:
        """IN_REVIEW -> verdict, on an ACTIVE contract."""
        _ensure_active(contract)
        if milestone.status != IN_REVIEW:
            raise BadRequest(NOT_PROGRESSED)
        outcome = self._store.advance_milestone(milestone, verdict, change)
        if not outcome.applied:
            _ensure_active_status(outcome.contract_status)
            raise BadRequest(NOT_PROGRESSED)

    def _bill(
        self,
        context: CommandContext,
        contract: Contract,
        milestone: Milestone,
        change: str,
    ) -> None:
        """Creates the payment request of an ACCEPTED milestone, or puts the
        milestone back IN_REVIEW and raises."""
        try:
            if context.call is None:
                raise Unavailable(PAYMENTS_DOWN)
            context.call(
                "CreatePaymentRequest",
                payment_request_for(contract, milestone),
                payments_pb2.CreatePaymentRequestResponse,
                with_reserve(context),
            )
        except WorkUpError as error:
            accepted = replace(milestone, status=ACCEPTED)
            self._store.undo_milestone(accepted, IN_REVIEW, change)
            logger.warning(
                "Could not bill an accepted milestone; it is IN_REVIEW again.",
                extra={"milestone_id": str(milestone.id), "error": error.message},
            )
            if isinstance(error, Unavailable | DeadlineExceeded):
                raise Unavailable(PAYMENTS_DOWN) from error
            raise WorkUpError(BILLING_FAILED) from error


def with_reserve(context: CommandContext) -> CommandContext:
    """The context for a call that must give up CALL_RESERVE_S early.

    Raises:
        DeadlineExceeded: not even that much time is left.
    """
    if not context.deadline_unix_ms:
        return context
    earlier = context.deadline_unix_ms - int(CALL_RESERVE_S * 1000)
    if deadline_passed(earlier):
        raise DeadlineExceeded("No time is left for the call")
    return replace(context, deadline_unix_ms=earlier)


def payment_request_for(
    contract: Contract, milestone: Milestone
) -> payments_pb2.CreatePaymentRequestRequest:
    return payments_pb2.CreatePaymentRequestRequest(
        user_id=contract.client_id,
        client_id=contract.client_id,
        freelancer_id=contract.freelancer_id,
        amount=float(milestone.amount),
        reference_id=str(milestone.id),
    )


def _ensure_active(contract: Contract) -> None:
    _ensure_active_status(contract.status)


def _ensure_active_status(status: str | None) -> None:
    if status != ACTIVE:
        raise BadRequest(NOT_ACTIVE)
