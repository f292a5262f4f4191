"""The handler thread pool, resizable while messages flow.

`concurrent.futures.ThreadPoolExecutor` cannot change its size, so a resize
swaps in a new executor and shuts the old one down without waiting: work it
already took still runs to the end on its old threads, new work goes to the
new pool. For a moment both pools run, so the thread count can briefly
exceed the new size; the broker's prefetch, which follows the pool size,
keeps the amount of work bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

#: Prefix of the handler threads' names, as seen in logs and stack dumps.
THREAD_NAME_PREFIX = "workup-handler"


class ResizableExecutor:
    """A thread pool that can be resized and drained.

    `in_flight` counts tasks submitted and not yet finished (queued or
    running); `active` counts those running now.
    """

    def __init__(self, max_workers: int) -> None:
        _check_size(max_workers)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._generation = 0
        self._max_workers = max_workers
        self._pool = self._new_pool(max_workers)
        self._in_flight = 0
        self._active = 0

    @property
    def max_workers(self) -> int:
        return self._max_workers

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def active(self) -> int:
        return self._active

    def submit(self, task: Callable[[], None]) -> Future[None]:
        """Queues a task on the current pool.

        Raises:
            RuntimeError: after `shutdown`.
        """
        with self._lock:
            future = self._pool.submit(self._run, task)
            self._in_flight += 1
        return future

    def resize(self, max_workers: int) -> None:
        """Makes new work run on a pool of `max_workers` threads.

        Raises:
            ValueError: when the size is below 1.
        """
        _check_size(max_workers)
        with self._lock:
            if max_workers == self._max_workers:
                return
            old, self._pool = self._pool, self._new_pool(max_workers)
            self._max_workers = max_workers
        old.shutdown(wait=False)

    def drain(self, timeout_s: float) -> bool:
        """Waits until no task is in flight; False when time ran out first."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def shutdown(self, wait: bool = True) -> None:
        """Takes no more work; with `wait`, returns once all of it finished."""
        with self._lock:
            pool = self._pool
        pool.shutdown(wait=wait)

    def _new_pool(self, max_workers: int) -> ThreadPoolExecutor:
        self._generation += 1
        prefix = f"{THREAD_NAME_PREFIX}-{self._generation}"
        return ThreadPoolExecutor(max_workers, thread_name_prefix=prefix)

    def _run(self, task: Callable[[], None]) -> None:
        with self._lock:
            self._active += 1
        try:
            task()
        finally:
            with self._idle:
                self._active -= 1
                self._in_flight -= 1
                self._idle.notify_all()


def _check_size(max_workers: int) -> None:
    if max_workers < 1:
        raise ValueError(f"A pool needs at least one thread, not {max_workers}.")
