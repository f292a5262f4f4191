"""The consumer: one I/O thread owns the broker connection, a pool does the work.

pika is not thread-safe, so one thread owns the BlockingConnection and its
channel and is the only one to call them; it never runs handler code. Other
threads reach it only through `connection.add_callback_threadsafe`. The path
of one message is in common/runtime/delivery.py.

When the broker goes away the I/O thread reconnects on its own, with capped
exponential backoff, logging CRITICAL once per outage. Messages in flight on
the lost connection are redelivered by the broker to whoever consumes next.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pika
import pika.exceptions

from common.runtime.backoff import Backoff
from common.runtime.delivery import Delivery, process
from common.runtime.dispatcher import Outcome
from common.runtime.executor import ResizableExecutor
from common.runtime.topology import declare_work_queue

logger = logging.getLogger(__name__ + ".Consumer")

#: Seconds before the first reconnect; doubles per failure up to the cap.
RECONNECT_INITIAL_S = 0.5
#: Seconds between reconnects at most, however long the outage.
RECONNECT_MAX_S = 30.0
#: Seconds the idle I/O loop blocks per turn; callbacks wake it sooner.
EVENT_TURN_S = 1.0
#: Seconds freeze and stop let in-flight work finish before going on anyway.
DRAIN_TIMEOUT_S = 30.0
#: Seconds start() waits for the broker to confirm the new consumer.
CONSUME_TIMEOUT_S = 10.0

#: What a lost or refused broker connection raises.
AMQP_ERRORS = (pika.exceptions.AMQPError, OSError)


class Consumer:
    """Consumes one work queue on an I/O thread and feeds a handler pool.

    `connect` opens a pika BlockingConnection; `on_connection_change` is
    called on the I/O thread with True after each connect, False after
    each loss. Releasing the service's own resources on freeze is the
    caller's part (ServiceRuntime).
    """

    def __init__(
        self,
        *,
        connect: Callable[[], Any],
        queue: str,
        executor: ResizableExecutor,
        dispatch: Callable[[bytes, int], Outcome],
        on_connection_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._connect = connect
        self._queue = queue
        self._executor = executor
        self._dispatch = dispatch
        self._on_connection_change = on_connection_change
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_timeout_s = DRAIN_TIMEOUT_S
        # Wanted state: set by any thread, applied by the I/O thread.
        self._want_consuming = True
        self._prefetch = executor.max_workers
        # Actual state: written by the I/O thread only.
        self._connection: Any = None
        self._channel: Any = None
        self._consumer_tag: str | None = None
        self._applied_prefetch = 0
        self._unsettled = 0
        self._cancelled_by_broker = False
        what = f"the broker (queue {queue})"
        self._backoff = Backoff(
            logger, what, initial_s=RECONNECT_INITIAL_S, max_s=RECONNECT_MAX_S
        )

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def in_flight(self) -> int:
        """Messages taken from the queue and not yet acknowledged."""
        return self._unsettled

    @property
    def prefetch_count(self) -> int:
        """The prefetch the broker applies to the current consumer (0: none)."""
        return self._applied_prefetch

    def open(self) -> None:
        """Starts the I/O thread, which connects and consumes."""
        self._thread = threading.Thread(
            target=self._run, name=f"workup-io-{self._queue}", daemon=True
        )
        self._thread.start()

    def wait_consuming(self, timeout_s: float) -> bool:
        return self._wait_for(lambda: self._consumer_tag is not None, timeout_s)

    def resize(self, max_threads: int) -> None:
        """Resizes the handler pool and makes the prefetch follow it.

        Raises:
            ValueError: when the size is below 1.
        """
        self._executor.resize(max_threads)
        with self._changed:
            self._prefetch = max_threads
        self._on_io(self._apply_prefetch)

    def freeze(self, timeout_s: float = DRAIN_TIMEOUT_S) -> bool:
        """Stops consuming (basic_cancel) and waits for in-flight work.

        Returns False when work was still in flight after `timeout_s`.
        """
        with self._changed:
            self._want_consuming = False
        self._on_io(self._cancel)
        return self._drain(timeout_s)

    def start(self, timeout_s: float = CONSUME_TIMEOUT_S) -> bool:
        """Resumes consuming after `freeze`.

        Returns False when the broker did not confirm the consumer in time
        (it is down); consuming then resumes once it is back.
        """
        with self._changed:
            self._want_consuming = True
        self._on_io(self._consume_if_wanted)
        return self.wait_consuming(timeout_s)

    def stop(self, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
        """Stops consuming, finishes in-flight work, closes the connection."""
        started = time.monotonic()
        self._drain_timeout_s = timeout_s
        self._stopping.set()
        self._on_io(_nothing)
        if self._thread is not None:
            self._thread.join(timeout_s + EVENT_TURN_S)
        remaining = timeout_s - (time.monotonic() - started)
        self._executor.drain(max(0.0, remaining))

    def _drain(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        settled = self._wait_for(
            lambda: self._consumer_tag is None and self._unsettled == 0, timeout_s
        )
        idle = self._executor.drain(max(0.0, deadline - time.monotonic()))
        if not (settled and idle):
            logger.warning(
                "Gave up waiting for in-flight work.",
                extra={"queue": self._queue, "in_flight": self._unsettled},
            )
        return settled and idle

    def _wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout_s)

    def _on_io(self, action: Callable[[], None]) -> bool:
        """Queues `action` for the I/O thread; False when not connected."""
        connection = self._connection
        if connection is None:
            return False
        try:
            connection.add_callback_threadsafe(action)
        except pika.exceptions.ConnectionWrongStateError:
            return False
        return True

    # Everything below runs on the I/O thread.

    def _run(self) -> None:
        while not self._stopping.is_set():
            delay_s = RECONNECT_INITIAL_S
            try:
                self._session()
            except AMQP_ERRORS as error:
                delay_s = self._backoff.failed(error)
            except Exception:
                # A bug, not an outage: retry, but not in a tight loop.
                logger.exception("The consumer's I/O loop failed; reconnecting.")
                delay_s = RECONNECT_MAX_S
            if self._stopping.wait(delay_s):
                break

    def _session(self) -> None:
        connection = self._connect()
        try:
            channel = connection.channel()
            declare_work_queue(channel, self._queue)
            channel.add_on_cancel_callback(self._on_broker_cancel)
            self._attach(connection, channel)
            self._apply_prefetch()
            while not (self._stopping.is_set() or self._cancelled_by_broker):
                connection.process_data_events(time_limit=EVENT_TURN_S)
            if self._stopping.is_set():
                self._finish(connection)
        finally:
            self._detach(connection)

    def _attach(self, connection: Any, channel: Any) -> None:
        with self._changed:
            self._connection = connection
            self._channel = channel
            self._cancelled_by_broker = False
            self._changed.notify_all()
        self._backoff.recovered()
        if self._on_connection_change is not None:
            self._on_connection_change(True)

    def _detach(self, connection: Any) -> None:
        with self._changed:
            self._connection = None
            self._channel = None
            self._consumer_tag = None
            self._applied_prefetch = 0
            self._unsettled = 0
            self._changed.notify_all()
        # A connection that broke may fail to close too; it is gone either way.
        with contextlib.suppress(*AMQP_ERRORS):
            if connection.is_open:
                connection.close()
        if self._on_connection_change is not None:
            self._on_connection_change(False)

    def _finish(self, connection: Any) -> None:
        """Stops consuming and keeps settling until nothing is in flight."""
        self._cancel()
        deadline = time.monotonic() + self._drain_timeout_s
        while self._unsettled and time.monotonic() < deadline:
            remaining = deadline - time.monotonic()
            connection.process_data_events(time_limit=min(remaining, EVENT_TURN_S))
        if self._unsettled:
            logger.warning(
                "Closed with messages unsettled; the broker will redeliver them.",
                extra={"queue": self._queue, "in_flight": self._unsettled},
            )

    def _apply_prefetch(self) -> None:
        if self._channel is None:
            return
        if self._prefetch != self._applied_prefetch:
            self._channel.basic_qos(prefetch_count=self._prefetch)
            self._applied_prefetch = self._prefetch
            # The broker keeps a consumer's prefetch from when it started, so
            # a running consumer is replaced to pick the new value up.
            self._cancel()
        self._consume_if_wanted()

    def _consume_if_wanted(self) -> None:
        with self._changed:
            wanted = self._want_consuming and not self._stopping.is_set()
        if not wanted or self._consumer_tag is not None or self._channel is None:
            return
        tag = self._channel.basic_consume(self._queue, self._on_message)
        with self._changed:
            self._consumer_tag = tag
            self._changed.notify_all()
        logger.debug("Consuming.", extra={"queue": self._queue})

    def _cancel(self) -> None:
        if self._consumer_tag is None or self._channel is None:
            return
        self._channel.basic_cancel(self._consumer_tag)
        with self._changed:
            self._consumer_tag = None
            self._changed.notify_all()
        logger.debug("Stopped consuming.", extra={"queue": self._queue})

    def _on_broker_cancel(self, _frame: Any) -> None:
        logger.warning(
            "The broker cancelled the consumer; reconnecting.",
            extra={"queue": self._queue},
        )
        self._cancelled_by_broker = True

    def _on_message(
        self, channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        with self._changed:
            self._unsettled += 1
        delivery = Delivery(
            self._connection, channel, method.delivery_tag, properties, body
        )
        self._executor.submit(partial(process, delivery, self._dispatch, self._settled))

    def _settled(self) -> None:
        with self._changed:
            self._unsettled -= 1
            self._changed.notify_all()


def _nothing() -> None:
    """Queued only to wake the I/O loop."""
