"""Delivers the outbox: commands for other services that a payment committed.

A payment writes "tell contracts the milestone is PAID" (API.md X4) to the
`outbox` table in its own transaction, so the message exists exactly when
the payment does. `OutboxRelay` runs a thread that sends due rows with the
RPC client until the receiver confirms, which survives a receiver outage and
a crash of this process between commit and send.

Per row, in one transaction:

1. take the oldest due row with `FOR UPDATE SKIP LOCKED`: while one
   instance sends it, the others skip it instead of sending it again;
2. send it with an idempotency key derived from the row id, so a resend
   after a lost reply is answered from the receiver's record;
3. record the outcome: delivered; retry later (5xx, timeout, receiver
   gone), with a per-row exponential backoff; or parked (a 4xx the
   receiver will give again), with an ERROR log.

A 4xx can still mean "already done": contracts answers 400 "Milestone is
not accepted for payment" when the milestone is PAID already, for instance
after our first send succeeded but its reply was lost past the receiver's
idempotency record. A command may therefore have a check (`already_done`)
that asks the receiver; the row counts as delivered when it says yes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from common.errors import TooManyRequests, WorkUpError
from common.remote import all_command_routes
from common.runtime.backoff import Backoff
from common.runtime.context import CallHook, CommandContext
from common.runtime.routes import CommandRoute
from svc_payments.database import Connection, Database
from svc_payments.store import OutboxMessage

logger = logging.getLogger(__name__)

#: Answers whether the receiver already has the effect `request` asks for.
AlreadyDone = Callable[[Message, CommandContext], bool]


@dataclass(frozen=True)
class RelaySettings:
    #: Seconds between two looks for due rows when nobody wakes the relay.
    poll_interval_s: float = 1.0
    #: Seconds before the first retry of a row; doubled per failed attempt.
    retry_initial_s: float = 0.5
    #: Longest wait between two attempts at one row.
    retry_max_s: float = 60.0
    #: Seconds one send may take before it counts as failed.
    call_timeout_s: float = 10.0
    #: Rows sent per pass at most, so a stop request is seen quickly.
    batch_size: int = 50


@dataclass(frozen=True)
class _Pending:
    message: OutboxMessage
    attempts: int


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    parked: bool = False
    error: str | None = None


_DELIVERED = _Outcome(delivered=True)


class OutboxRelay:
    """Sends due outbox rows from a background thread until each is confirmed."""

    def __init__(
        self,
        database: Database,
        call: CallHook,
        *,
        already_done: Mapping[str, AlreadyDone] | None = None,
        settings: RelaySettings | None = None,
    ) -> None:
        self._database = database
        self._call = call
        self._already_done = dict(already_done or {})
        self._settings = settings or RelaySettings()
        self._routes: dict[str, CommandRoute] = all_command_routes()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts the thread (again after `stop`); a no-op while it runs."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="payments-outbox", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread once its current send is over."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self._settings.call_timeout_s + 5)
            self._thread = None

    def wake(self) -> None:
        """Looks for due rows now, for instance right after a payment."""
        self._wake.set()

    def deliver_due(self) -> int:
        """Sends every due row this pass can take; returns how many it tried.

        Raises:
            Unavailable: the database is gone.
        """
        tried = 0
        while tried < self._settings.batch_size and not self._stopping.is_set():
            if not self._deliver_next():
                break
            tried += 1
        return tried

    def _run(self) -> None:
        outage = Backoff(
            logger,
            "the payments database (outbox relay)",
            initial_s=self._settings.retry_initial_s,
            max_s=self._settings.retry_max_s,
            level=logging.ERROR,
        )
        while not self._stopping.is_set():
            delay = self._settings.poll_interval_s
            try:
                self.deliver_due()
                outage.recovered()
            except WorkUpError as error:
                delay = outage.failed(error)
            except Exception as error:
                logger.exception("The outbox relay failed unexpectedly.")
                delay = outage.failed(error)
            self._wake.wait(delay)
            self._wake.clear()

    def _deliver_next(self) -> bool:
        with self._database.transaction() as conn:
            pending = _next_due(conn)
            if pending is None:
                return False
            outcome = self._send(pending)
            _record(conn, pending, outcome, self._retry_delay_s(pending.attempts))
        _log(pending, outcome)
        return True

    def _retry_delay_s(self, attempts: int) -> float:
        delay = self._settings.retry_initial_s * 2 ** min(attempts, 30)
        return float(min(delay, self._settings.retry_max_s))

    def _send(self, pending: _Pending) -> _Outcome:
        message = pending.message
        route = self._routes.get(message.command)
        if route is None:
            return _Outcome(False, parked=True, error=f"Unknown {message.command}")
        try:
            request = route.request_type.FromString(message.payload)
        except DecodeError:
            return _Outcome(False, parked=True, error="Unreadable payload")
        context = self._context(pending)
        try:
            self._call(message.command, request, route.response_type, context)
        except WorkUpError as error:
            return self._after_refusal(message.command, request, context, error)
        return _DELIVERED

    def _after_refusal(
        self,
        command: str,
        request: Message,
        context: CommandContext,
        error: WorkUpError,
    ) -> _Outcome:
        text = f"{error.status} {error.message or ''}".strip()
        if _retryable(error):
            return _Outcome(False, error=text)
        check = self._already_done.get(command)
        if check is None:
            return _Outcome(False, parked=True, error=text)
        try:
            done = check(request, context)
        except WorkUpError as check_error:
            text = f"{text}; check failed: {check_error.status} {check_error.message}"
            return _Outcome(False, parked=not _retryable(check_error), error=text)
        if done:
            return _Outcome(True, error=f"{text}; already done")
        return _Outcome(False, parked=True, error=text)

    def _context(self, pending: _Pending) -> CommandContext:
        message = pending.message
        deadline_ms = int((time.time() + self._settings.call_timeout_s) * 1000)
        return CommandContext(
            command=message.command,
            # One request id per attempt, so a late reply to an attempt that
            # timed out is never taken for the reply to this one.
            request_id=f"outbox-{message.id}-{pending.attempts + 1}",
            caller_id=message.caller_id,
            caller_role=message.caller_role,
            # The same on every attempt: the receiver applies it once.
            idempotency_key=f"outbox:{message.id}",
            deadline_unix_ms=deadline_ms,
            attempt=pending.attempts + 1,
            call=self._call,
        )


def _retryable(error: WorkUpError) -> bool:
    return error.status >= 500 or isinstance(error, TooManyRequests)


def _next_due(conn: Connection) -> _Pending | None:
    row = conn.execute(
        "SELECT id, command, payload, caller_id, caller_role, attempts FROM outbox"
        " WHERE delivered_at IS NULL AND parked_at IS NULL"
        " AND next_attempt_at <= clock_timestamp()"
        " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    ).fetchone()
    if row is None:
        return None
    message_id, command, payload, caller_id, caller_role, attempts = row
    message = OutboxMessage(message_id, command, bytes(payload), caller_id, caller_role)
    return _Pending(message, int(attempts))


def _record(
    conn: Connection, pending: _Pending, outcome: _Outcome, retry_delay_s: float
) -> None:
    message_id = pending.message.id
    if outcome.delivered:
        conn.execute(
            "UPDATE outbox SET delivered_at = clock_timestamp(),"
            " attempts = attempts + 1, last_error = %s WHERE id = %s",
            (outcome.error, message_id),
        )
    elif outcome.parked:
        conn.execute(
            "UPDATE outbox SET parked_at = clock_timestamp(),"
            " attempts = attempts + 1, last_error = %s WHERE id = %s",
            (outcome.error, message_id),
        )
    else:
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = clock_timestamp() + make_interval(secs => %s)"
            " WHERE id = %s",
            (outcome.error, retry_delay_s, message_id),
        )


def _log(pending: _Pending, outcome: _Outcome) -> None:
    extra = {
        "outbox_id": pending.message.id,
        "command": pending.message.command,
        "attempt": pending.attempts + 1,
        "error": outcome.error,
    }
    if outcome.delivered:
        logger.info("Delivered an outbox message.", extra=extra)
    elif outcome.parked:
        logger.error(
            "Parked an outbox message the receiver refused; it needs an operator.",
            extra=extra,
        )
    elif pending.attempts == 0:
        # Later failures of the same row stay at DEBUG: an outage of the
        # receiver must not flood the log.
        logger.warning("Could not deliver an outbox message; will retry.", extra=extra)
    else:
        logger.debug("Still could not deliver an outbox message.", extra=extra)
