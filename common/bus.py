"""Calls a command on another service over RabbitMQ and waits for its reply.

`RpcClient` is what the edge uses for every HTTP request and what services use
for the cross-service calls of API.md section 6. One I/O thread owns the pika
connection, because pika is not thread-safe: callers on any thread (or on the
edge's event loop) hand their publish to that thread through
`add_callback_threadsafe` and get a future that the reply completes.

A publish is `mandatory` with publisher confirms, and the client checks that
the work queue has a consumer (cached for a moment), so a command that no
instance would take fails at once with `Unavailable` (503) instead of
waiting for its deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
import uuid

import pika
from google.protobuf.message import DecodeError, Message
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError, ChannelClosedByBroker, NackError, UnroutableError

from common.errors import DeadlineExceeded, Unavailable
from workup_pb.envelope_pb2 import Envelope, Reply

logger = logging.getLogger(__name__)

#: Seconds a "this queue has consumers" answer is trusted before asking again.
CONSUMER_CHECK_TTL_S = 1.0
#: Longest pause between two reconnection attempts, in seconds.
MAX_RECONNECT_DELAY_S = 5.0
#: Seconds `start()` waits for the first connection before going on without it.
START_WAIT_S = 5.0


def new_envelope(
    command: str,
    request: Message,
    *,
    timeout_s: float,
    caller_id: str = "",
    caller_role: str = "",
    idempotency_key: str = "",
    request_id: str | None = None,
) -> Envelope:
    """Wraps a request message for `command`, due back within `timeout_s`."""
    return Envelope(
        command=command,
        request_id=request_id or uuid.uuid4().hex,
        caller_id=caller_id,
        caller_role=caller_role,
        deadline_unix_ms=int((time.time() + timeout_s) * 1000),
        idempotency_key=idempotency_key,
        attempt=1,
        payload=request.SerializeToString(),
    )


class RpcClient:
    """Publishes envelopes to work queues and collects their replies."""

    def __init__(self, amqp_url: str, *, name: str = "rpc") -> None:
        self._parameters = pika.URLParameters(amqp_url)
        self._parameters.heartbeat = 30
        self._name = name
        self._pending: dict[str, concurrent.futures.Future[Reply]] = {}
        self._pending_lock = threading.Lock()
        self._consumer_counts: dict[str, tuple[int, float]] = {}
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._check_channel: BlockingChannel | None = None
        self._reply_queue = ""
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"{name}-io", daemon=True
        )

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Starts the I/O thread and waits briefly for the first connection."""
        self._thread.start()
        self._connected.wait(START_WAIT_S)

    def stop(self) -> None:
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            # Wakes the I/O thread so it sees the stop flag at once.
            with contextlib.suppress(AMQPError):
                connection.add_callback_threadsafe(lambda: None)
        self._thread.join(timeout=10)

    def call(self, queue: str, envelope: Envelope, timeout_s: float) -> Reply:
        """Sends the command and blocks until its reply or the deadline.

        Raises:
            Unavailable: the broker or every instance of the service is gone.
            DeadlineExceeded: no reply within `timeout_s`.
        """
        future = self.submit(queue, envelope)
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            self._forget(envelope.request_id)
            raise DeadlineExceeded(
                f"No reply to {envelope.command} within {timeout_s:g} s"
            ) from None

    async def acall(self, queue: str, envelope: Envelope, timeout_s: float) -> Reply:
        """Like `call`, without blocking the event loop."""
        future = self.submit(queue, envelope)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except TimeoutError:
            self._forget(envelope.request_id)
            raise DeadlineExceeded(
                f"No reply to {envelope.command} within {timeout_s:g} s"
            ) from None

    def submit(
        self, queue: str, envelope: Envelope
    ) -> concurrent.futures.Future[Reply]:
        """Queues the publish on the I/O thread; the future gets the reply."""
        future: concurrent.futures.Future[Reply] = concurrent.futures.Future()
        connection = self._connection
        if connection is None or not self.connected:
            future.set_exception(Unavailable("The message broker is unavailable"))
            return future

        correlation_id = envelope.request_id
        with self._pending_lock:
            self._pending[correlation_id] = future
        body = envelope.SerializeToString()
        try:
            connection.add_callback_threadsafe(
                lambda: self._publish(queue, envelope.command, correlation_id, body)
            )
        except (AMQPError, OSError):
            self._fail(correlation_id, Unavailable("The message broker is unavailable"))
        return future

    def _forget(self, correlation_id: str) -> None:
        with self._pending_lock:
            self._pending.pop(correlation_id, None)

    def _fail(self, correlation_id: str, error: Exception) -> None:
        with self._pending_lock:
            future = self._pending.pop(correlation_id, None)
        if future is not None and not future.done():
            future.set_exception(error)

    # Everything below runs on the I/O thread only.

    def _run(self) -> None:
        delay_s = 0.1
        while not self._stopping.is_set():
            try:
                self._connect()
                delay_s = 0.1
                while not self._stopping.is_set():
                    self._connection_or_raise().process_data_events(time_limit=1)
            except (AMQPError, OSError) as error:
                self._on_connection_lost(error)
                self._stopping.wait(delay_s)
                delay_s = min(delay_s * 2, MAX_RECONNECT_DELAY_S)
        self._close()

    def _connection_or_raise(self) -> pika.BlockingConnection:
        if self._connection is None:
            raise AMQPError("not connected")
        return self._connection

    def _connect(self) -> None:
        connection = pika.BlockingConnection(self._parameters)
        channel = connection.channel()
        channel.confirm_delivery()
        declared = channel.queue_declare(queue="", exclusive=True, auto_delete=True)
        self._reply_queue = declared.method.queue
        channel.basic_consume(self._reply_queue, self._on_reply, auto_ack=True)
        self._connection, self._channel = connection, channel
        self._check_channel = connection.channel()
        self._consumer_counts.clear()
        self._connected.set()
        logger.info("Connected to the message broker.", extra={"client": self._name})

    def _on_connection_lost(self, error: BaseException) -> None:
        if self._connected.is_set():
            logger.critical(
                "Lost the message broker; reconnecting.",
                extra={"client": self._name, "error": repr(error)},
            )
        self._connected.clear()
        self._connection = self._channel = self._check_channel = None
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(Unavailable("The message broker is unavailable"))

    def _close(self) -> None:
        self._connected.clear()
        if self._connection is not None and self._connection.is_open:
            with contextlib.suppress(AMQPError):
                self._connection.close()

    def _publish(
        self, queue: str, command: str, correlation_id: str, body: bytes
    ) -> None:
        if correlation_id not in self._pending:
            return  # the caller gave up before we got to it
        if not self._has_consumers(queue):
            self._fail(correlation_id, Unavailable(f"No instance serves {command} now"))
            return
        properties = pika.BasicProperties(
            reply_to=self._reply_queue,
            correlation_id=correlation_id,
            content_type="application/x-protobuf",
            type=command,
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        if self._channel is None:
            self._fail(correlation_id, Unavailable("The message broker is unavailable"))
            return
        try:
            self._channel.basic_publish(
                exchange="",
                routing_key=queue,
                body=body,
                properties=properties,
                mandatory=True,
            )
        except (UnroutableError, NackError):
            self._fail(correlation_id, Unavailable(f"No instance serves {command} now"))

    def _has_consumers(self, queue: str) -> bool:
        count, checked_at = self._consumer_counts.get(queue, (0, 0.0))
        if time.monotonic() - checked_at < CONSUMER_CHECK_TTL_S:
            return count > 0
        count = self._count_consumers(queue)
        self._consumer_counts[queue] = (count, time.monotonic())
        return count > 0

    def _count_consumers(self, queue: str) -> int:
        connection = self._connection_or_raise()
        if self._check_channel is None or not self._check_channel.is_open:
            self._check_channel = connection.channel()
        try:
            declared = self._check_channel.queue_declare(queue=queue, passive=True)
        except ChannelClosedByBroker:
            # A passive declare of a missing queue closes the channel (404):
            # no service ever declared it, so nobody consumes it.
            self._check_channel = None
            return 0
        return int(declared.method.consumer_count)

    def _on_reply(
        self,
        _channel: BlockingChannel,
        _method: object,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> None:
        with self._pending_lock:
            future = self._pending.pop(properties.correlation_id or "", None)
        if future is None or future.done():
            return  # a late reply to a call that already timed out
        try:
            future.set_result(Reply.FromString(body))
        except DecodeError:
            future.set_exception(Unavailable("The service sent an unreadable reply"))
        except concurrent.futures.InvalidStateError:
            pass  # cancelled by the caller between the check and now
