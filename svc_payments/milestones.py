"""What payments tells contracts after a payment (API.md X4), and how it
checks that contracts already knows."""

from __future__ import annotations

import dataclasses

from google.protobuf.message import Message

from common.runtime.context import CallHook, CommandContext
from svc_payments import ids
from svc_payments.store import OutboxMessage
from workup_pb.contracts_pb2 import (
    GetMilestoneRequest,
    GetMilestoneResponse,
    MarkMilestoneAsPaidRequest,
    MilestoneState,
)

MARK_PAID = "MarkMilestoneAsPaid"


def mark_paid_message(
    payment_request_id: str, milestone_id: str, payer_id: str
) -> OutboxMessage:
    """The outbox row that asks contracts to mark the milestone PAID.

    It is sent on behalf of the paying client, the one party contracts
    could check it against.
    """
    request = MarkMilestoneAsPaidRequest(user_id=payer_id, milestone_id=milestone_id)
    return OutboxMessage(
        id=ids.mark_paid_message_id(payment_request_id),
        command=MARK_PAID,
        payload=request.SerializeToString(),
        caller_id=payer_id,
        caller_role="CLIENT",
    )


class MilestonePaidCheck:
    """Asks contracts whether a milestone is PAID already.

    Contracts refuses to mark a PAID milestone again (400 "Milestone is not
    accepted for payment"); that refusal means our message arrived before,
    so the relay counts it as delivered. Any other state means the refusal
    is real.
    """

    def __init__(self, call: CallHook) -> None:
        self._call = call

    def __call__(self, request: Message, context: CommandContext) -> bool:
        if not isinstance(request, MarkMilestoneAsPaidRequest):
            return False
        lookup = GetMilestoneRequest(
            user_id=request.user_id, milestone_id=request.milestone_id
        )
        # A read: no idempotency key, so the answer is never a recorded one.
        read_context = dataclasses.replace(context, idempotency_key="")
        milestone = self._call(
            "GetMilestone", lookup, GetMilestoneResponse, read_context
        )
        return milestone.status == MilestoneState.PAID
