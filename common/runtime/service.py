"""ServiceRuntime: everything one service instance runs besides its handlers.

A service's `main()` builds its registry and hooks and hands them over:

    runtime = ServiceRuntime(RuntimeSettings.from_env("users", "queue_users"),
                             registry, hooks=RuntimeHooks(release=pool.close, ...))
    runtime.run()

`run()` opens the admin port, starts consuming, registers the instance in
Redis, and blocks until SIGTERM or SIGINT (or `stop()`). Then it shuts down
gracefully: health NOT_SERVING, stop consuming, finish in-flight work,
release the service's resources, deregister, close the admin port.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common import connections
from common.runtime.admin import AdminServer, command_info
from common.runtime.consumer import Consumer
from common.runtime.context import CallHook
from common.runtime.dispatcher import Dispatcher
from common.runtime.executor import ResizableExecutor
from common.runtime.idempotency import IdempotencyGuard
from common.runtime.registration import InstanceInfo, InstanceRegistration
from common.runtime.registry import CommandRegistry
from common.runtime.settings import RuntimeSettings
from workup_pb import admin_pb2 as pb

logger = logging.getLogger(__name__)

#: Largest handler pool SetMaxThreads grants; larger requests are clamped.
MAX_THREADS_LIMIT = 256
#: Seconds freeze and stop wait for in-flight work.
DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RuntimeHooks:
    """What the service lends the runtime to manage its own resources."""

    #: Gives back what a frozen or stopped instance must not hold (DB pools).
    release: Callable[[], None] | None = None
    #: Takes it again when the instance starts after a freeze.
    acquire: Callable[[], None] | None = None
    #: Resizes the DB pool; returns the maximum now in force.
    set_max_db_connections: Callable[[int], int] | None = None
    #: The DB pool's maximum now.
    max_db_connections: Callable[[], int] | None = None


class ServiceRuntime:
    """One service instance: consumer, handler pool, admin port, registration."""

    def __init__(
        self,
        settings: RuntimeSettings,
        registry: CommandRegistry,
        *,
        hooks: RuntimeHooks | None = None,
        call: CallHook | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._hooks = hooks or RuntimeHooks()
        self._control = threading.Lock()
        self._stop_requested = threading.Event()
        self._opened = threading.Event()
        self._frozen = False
        self._holds_resources = True
        self._registration: InstanceRegistration | None = None
        self._redis = connections.connect_redis(settings.stack)
        self._executor = ResizableExecutor(settings.max_threads)
        self._dispatcher = Dispatcher(
            registry, guard=IdempotencyGuard(self._redis, settings.service), call=call
        )
        self._consumer = Consumer(
            connect=lambda: connections.connect_amqp(settings.stack),
            queue=settings.queue,
            executor=self._executor,
            dispatch=self._dispatcher.dispatch,
            on_connection_change=self._on_connection_change,
        )
        self._admin = AdminServer(
            self,
            service=settings.service,
            token=settings.admin_token,
            host=settings.admin_host,
            port=settings.admin_port,
        )

    @property
    def registry(self) -> CommandRegistry:
        return self._registry

    @property
    def admin_port(self) -> int:
        """The bound admin port (0 until `run` has opened it)."""
        return self._admin.port

    @property
    def prefetch_count(self) -> int:
        return self._consumer.prefetch_count

    def run(self) -> None:
        """Serves until SIGTERM, SIGINT or `stop()`, then stops gracefully."""
        previous = self._trap_signals()
        try:
            self._open()
            self._stop_requested.wait()
        finally:
            self._close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self) -> None:
        """Makes `run` return after a graceful stop; safe from any thread."""
        self._stop_requested.set()

    def wait_ready(self, timeout_s: float) -> bool:
        """Whether the instance consumes and serves admin within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        if not self._opened.wait(timeout_s):
            return False
        return self._consumer.wait_consuming(max(0.0, deadline - time.monotonic()))

    def status(self) -> pb.GetStatusResponse:
        max_db = self._hooks.max_db_connections
        root_level = logging.getLogger().getEffectiveLevel()
        return pb.GetStatusResponse(
            service=self._settings.service,
            instance_id=self._settings.instance_id,
            state=pb.InstanceState.FROZEN if self._frozen else pb.InstanceState.RUNNING,
            max_threads=self._executor.max_workers,
            active_threads=self._executor.active,
            max_db_connections=max_db() if max_db else 0,
            in_flight=self._consumer.in_flight,
            handled_total=self._dispatcher.handled_total,
            commands=[command_info(command) for command in self._registry.commands()],
            log_level=logging.getLevelName(root_level),
        )

    def set_max_threads(self, count: int) -> int:
        """Resizes the handler pool (and prefetch); returns the clamped size."""
        count = min(max(count, 1), MAX_THREADS_LIMIT)
        self._consumer.resize(count)
        logger.info("Resized the handler pool.", extra={"max_threads": count})
        return count

    def set_max_db_connections(self, count: int) -> int | None:
        hook = self._hooks.set_max_db_connections
        return hook(count) if hook is not None else None

    def freeze(self) -> None:
        """NOT_SERVING, stop consuming, finish in-flight work, release."""
        with self._control:
            if self._frozen:
                return
            self._frozen = True
            self._admin.set_serving(False)
            drained = self._consumer.freeze(DRAIN_TIMEOUT_S)
            self._release()
        logger.info("Froze the instance.", extra={"drained": drained})

    def start(self) -> None:
        """Acquire resources again, resume consuming, SERVING."""
        with self._control:
            if not self._frozen:
                return
            self._acquire()
            self._consumer.start()
            self._frozen = False
            self._admin.set_serving(self._consumer.connected)
        logger.info("Started the instance again.")

    def _open(self) -> None:
        started_at = time.time()
        port = self._admin.start()
        self._consumer.open()
        self._registration = InstanceRegistration(
            self._redis, self._instance_info(port, started_at)
        )
        self._registration.start()
        self._opened.set()
        logger.info(
            "Service instance running.",
            extra={"queue": self._settings.queue, "admin_port": port},
        )

    def _close(self) -> None:
        with self._control:
            self._frozen = True
            self._admin.set_serving(False)
            self._consumer.stop(DRAIN_TIMEOUT_S)
            self._executor.shutdown(wait=False)
            self._release()
            if self._registration is not None:
                self._registration.stop()
            self._admin.stop()
            self._redis.close()
        logger.info("Service instance stopped.")

    def _instance_info(self, port: int, started_at: float) -> InstanceInfo:
        return InstanceInfo(
            service=self._settings.service,
            instance_id=self._settings.instance_id,
            host=self._settings.reachable_host,
            admin_port=port,
            pid=os.getpid(),
            started_at=started_at,
        )

    def _on_connection_change(self, connected: bool) -> None:
        self._admin.set_serving(connected and not self._frozen)

    def _release(self) -> None:
        if self._holds_resources and self._hooks.release is not None:
            self._hooks.release()
        self._holds_resources = False

    def _acquire(self) -> None:
        if not self._holds_resources and self._hooks.acquire is not None:
            self._hooks.acquire()
        self._holds_resources = True

    def _trap_signals(self) -> dict[int, Any]:
        # Python lets only the main thread install handlers; tests run the
        # runtime in a thread and call stop() instead.
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGTERM, signal.SIGINT)
        }

    def _on_signal(self, signum: int, _frame: object) -> None:
        logger.info("Received %s; stopping.", signal.Signals(signum).name)
        self._stop_requested.set()
