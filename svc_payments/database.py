"""The service's PostgreSQL pool: resizable at run time, closed while frozen.

psycopg_pool cannot reopen a closed pool, so `open()` after `close()` builds
a new one with the size in force. Every use goes through `transaction()`,
which also turns a lost database into `Unavailable` (503), as DESIGN.md asks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from common.connections import CONNECT_TIMEOUT_S
from common.errors import BadRequest, Unavailable

Connection = psycopg.Connection[TupleRow]

#: Largest pool SetMaxDbConnections grants; larger requests are clamped.
MAX_POOL_SIZE = 100
#: Connections kept open while idle (never more than the maximum).
MIN_POOL_SIZE = 2
#: Seconds a handler waits for a free connection before answering 503.
CHECKOUT_TIMEOUT_S = 10.0
UNAVAILABLE_MESSAGE = "The payments database is unavailable"


class Database:
    """A pool of connections to the payments database."""

    def __init__(self, conninfo: str, *, max_size: int, name: str = "payments") -> None:
        self._conninfo = conninfo
        self._max_size = _clamp(max_size)
        self._name = name
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Connection] | None = None

    @property
    def max_size(self) -> int:
        return self._max_size

    def open(self) -> None:
        """Starts connecting in the background; a no-op when already open."""
        with self._lock:
            if self._pool is not None:
                return
            self._pool = ConnectionPool(
                self._conninfo,
                min_size=min(MIN_POOL_SIZE, self._max_size),
                max_size=self._max_size,
                kwargs={"connect_timeout": int(CONNECT_TIMEOUT_S)},
                timeout=CHECKOUT_TIMEOUT_S,
                # A connection that died with a database restart is replaced
                # on checkout instead of failing the command that drew it.
                check=ConnectionPool.check_connection,
                name=self._name,
                open=False,
            )
            self._pool.open(wait=False)

    def close(self) -> None:
        """Closes every connection; `transaction()` answers 503 until `open()`."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def resize(self, max_size: int) -> int:
        """Sets the most connections the pool may hold; returns it, clamped."""
        with self._lock:
            self._max_size = _clamp(max_size)
            if self._pool is not None:
                self._pool.resize(min(MIN_POOL_SIZE, self._max_size), self._max_size)
            return self._max_size

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside one transaction: committed when the block ends,
        rolled back when it raises.

        Raises:
            Unavailable: the pool is closed, exhausted or the server is gone.
        """
        pool = self._pool
        if pool is None:
            raise Unavailable(UNAVAILABLE_MESSAGE)
        with _translated_errors(), pool.connection() as conn:
            yield conn


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.errors.NumericValueOutOfRange as error:
        # Only a balance can outgrow NUMERIC(18,2): single amounts are capped.
        raise BadRequest("The wallet balance would exceed its maximum") from error
    except psycopg.OperationalError as error:
        # Also PoolTimeout, PoolClosed, deadlocks and serialization failures:
        # all of them may succeed when the caller tries again.
        raise Unavailable(UNAVAILABLE_MESSAGE) from error


def _clamp(size: int) -> int:
    return min(max(size, 1), MAX_POOL_SIZE)
