"""What a handler thread does with one delivery: envelope in, outcome out.

The dispatcher never raises and never touches the broker. It decodes the
envelope, decides whether the command runs at all (deadline, attempts), runs
it through the idempotency guard and the registry, and returns an `Outcome`
that tells the consumer's I/O thread what to publish and how to settle the
message.

    past its deadline      -> ack, no reply (nobody waits any more)
    delivered too often    -> reply 500, reject without requeue (dead letter)
    not an envelope        -> reply 400, reject without requeue (dead letter)
    anything else          -> run it, reply, ack
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from functools import partial

from google.protobuf.message import DecodeError, Message

from common.errors import BadRequest, WorkUpError
from common.logs import request_context
from common.runtime.context import (
    CallHook,
    CommandContext,
    deadline_passed,
    seconds_until,
)
from common.runtime.idempotency import DUPLICATE_WAIT_S, IdempotencyGuard
from common.runtime.registry import CommandRegistry
from common.runtime.topology import DELIVERY_LIMIT
from workup_pb.envelope_pb2 import Envelope, Reply

logger = logging.getLogger(__name__)

#: Earlier deliveries (the broker's x-delivery-count) after which a message
#: is set aside. Equal to the broker's limit, so the consumer sees the last
#: delivery the broker allows and can still answer the caller.
MAX_ATTEMPTS = DELIVERY_LIMIT
#: errorMessage of the reply to a message set aside.
SET_ASIDE_MESSAGE = "The command failed repeatedly and was set aside."


class Settlement(enum.Enum):
    """How the I/O thread settles a message once its reply is out."""

    ACK = "ack"
    DEAD_LETTER = "dead-letter"
    #: Only when dispatching itself broke: the broker redelivers, up to its limit.
    REQUEUE = "requeue"


@dataclass(frozen=True)
class Outcome:
    """A serialised Reply to publish to reply_to (None: none), and a settlement."""

    reply: bytes | None
    settlement: Settlement = Settlement.ACK


DROPPED = Outcome(reply=None)


class Dispatcher:
    """Turns one message body into an Outcome; safe to call from many threads."""

    def __init__(
        self,
        registry: CommandRegistry,
        *,
        guard: IdempotencyGuard | None = None,
        call: CallHook | None = None,
    ) -> None:
        self._registry = registry
        self._guard = guard
        self._call = call
        self._lock = threading.Lock()
        self._handled_total = 0

    @property
    def handled_total(self) -> int:
        """Messages that ran through the registry since the process started."""
        return self._handled_total

    def dispatch(self, body: bytes, delivery_count: int) -> Outcome:
        """The Outcome for a message delivered `delivery_count` times before."""
        try:
            envelope = Envelope.FromString(body)
        except DecodeError:
            logger.warning("Set aside a message that is not an envelope.")
            error = BadRequest("The message is not a valid envelope.")
            return Outcome(
                _error_reply("", error).SerializeToString(), Settlement.DEAD_LETTER
            )
        with request_context(envelope.request_id):
            return self._dispatch(envelope, delivery_count)

    def _dispatch(self, envelope: Envelope, delivery_count: int) -> Outcome:
        extra: dict[str, object] = {
            "command": envelope.command,
            "attempt": delivery_count + 1,
        }
        if deadline_passed(envelope.deadline_unix_ms):
            logger.warning("Dropped a command past its deadline.", extra=extra)
            return DROPPED
        if delivery_count >= MAX_ATTEMPTS:
            logger.error("Set aside a command delivered too often.", extra=extra)
            reply = _error_reply(envelope.request_id, WorkUpError(SET_ASIDE_MESSAGE))
            return Outcome(reply.SerializeToString(), Settlement.DEAD_LETTER)

        started = time.monotonic()
        reply = self._reply_for(envelope, delivery_count + 1)
        with self._lock:
            self._handled_total += 1
        extra["status"] = reply.status
        extra["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        if reply.error_code:
            extra["error_code"] = reply.error_code
        logger.info("Handled a command.", extra=extra)
        return Outcome(reply.SerializeToString())

    def _reply_for(self, envelope: Envelope, attempt: int) -> Reply:
        run = partial(self._run, envelope, attempt)
        if self._guard is None or not envelope.idempotency_key:
            return run()
        # A duplicate waits for the first delivery no longer than its caller
        # does (the guard caps the wait at DUPLICATE_WAIT_S in any case).
        remaining_s = seconds_until(envelope.deadline_unix_ms)
        wait_s = DUPLICATE_WAIT_S if remaining_s is None else remaining_s
        try:
            reply = self._guard.run(
                record_id(envelope), run, wait_s, redelivered=attempt > 1
            )
        except WorkUpError as error:
            logger.warning(
                "The idempotency guard refused a command.",
                extra={"command": envelope.command, "error": error.message},
            )
            return _error_reply(envelope.request_id, error)
        # A duplicate may come with a new request id; answer under its own.
        reply.request_id = envelope.request_id
        return reply

    def _run(self, envelope: Envelope, attempt: int) -> Reply:
        try:
            command = self._registry.lookup(envelope.command)
            request = _parse(command.request_type, envelope.payload)
            response = command.handler(self._context(envelope, attempt), request)
        except WorkUpError as error:
            if error.status >= 500:
                logger.warning(
                    "A command failed.",
                    extra={"command": envelope.command, "error": error.message},
                )
            return _error_reply(envelope.request_id, error)
        except Exception:
            logger.exception(
                "A handler failed with an unexpected error.",
                extra={"command": envelope.command},
            )
            return _error_reply(envelope.request_id, WorkUpError())
        return _success_reply(envelope.request_id, command.success_status, response)

    def _context(self, envelope: Envelope, attempt: int) -> CommandContext:
        return CommandContext(
            command=envelope.command,
            request_id=envelope.request_id,
            caller_id=envelope.caller_id,
            caller_role=envelope.caller_role,
            idempotency_key=envelope.idempotency_key,
            deadline_unix_ms=envelope.deadline_unix_ms,
            attempt=attempt,
            trace_id=envelope.trace_id,
            call=self._call,
        )


def _parse(request_type: type[Message], payload: bytes) -> Message:
    try:
        return request_type.FromString(payload)
    except DecodeError:
        raise BadRequest("The request payload is malformed.") from None


def _success_reply(request_id: str, status: int, response: object) -> Reply:
    try:
        if not isinstance(response, Message):
            raise TypeError(f"{type(response).__name__} is not a protobuf message")
        payload = response.SerializeToString()
    except Exception:
        logger.exception("A handler returned a response that cannot be serialised.")
        return _error_reply(request_id, WorkUpError())
    return Reply(status=status, payload=payload, request_id=request_id)


def _error_reply(request_id: str, error: WorkUpError) -> Reply:
    reply = Reply(status=error.status, error_code=error.code, request_id=request_id)
    if error.message is not None:
        reply.error_message = error.message
    return reply


def record_id(envelope: Envelope) -> str:
    """What a reply is recorded under: the key the client chose, bound to the
    command, the caller and the exact request.

    The key alone is not enough: keys come from clients, and a recorded reply
    (a login's identity, a wallet's balance) must never be handed to another
    caller, or to a different request that reuses a key by mistake.
    """
    digest = hashlib.sha256()
    for part in (
        envelope.command.encode(),
        envelope.caller_id.encode(),
        envelope.caller_role.encode(),
        envelope.idempotency_key.encode(),
        envelope.payload,
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
