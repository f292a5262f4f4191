"""Cassandra plumbing for the jobs and contracts services: session, keyspace,
statements, errors.

Every statement runs at LOCAL_QUORUM, and lightweight transactions at
LOCAL_SERIAL, so a read after a write sees it and a conditional write is
linearisable within the datacenter even when the keyspace has replicas.
Driver failures (no host, timeouts, too few replicas) become `Unavailable`
(503): the caller may retry, and every write here is idempotent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# Imported from submodules, which re-export them: for mypy, run over the
# whole tree, `cassandra` is the stack/cassandra folder, not the driver.
from cassandra.cluster import (
    Cluster,
    ConsistencyLevel,
    NoHostAvailable,
    OperationTimedOut,
    Session,
)
from cassandra.connection import ConnectionException
from cassandra.protocol import RequestExecutionException
from cassandra.query import BatchStatement, PreparedStatement

from common import connections
from common.config import Settings
from common.errors import Unavailable

#: Driver errors that mean "the database cannot answer now": no host, a
#: timeout, too few replicas, a lost connection.
_UNAVAILABLE = (
    NoHostAvailable,
    OperationTimedOut,
    RequestExecutionException,
    ConnectionException,
)
#: What a keyspace name may look like; it is spliced into CQL text.
_KEYSPACE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")


@dataclass(frozen=True)
class Replication:
    """How the keyspace is replicated when the service creates it.

    Locally one node and SimpleStrategy; in production name the datacenter,
    which switches to NetworkTopologyStrategy.
    """

    factor: int = 1
    datacenter: str = ""

    def cql(self) -> str:
        if self.datacenter:
            return (
                "{'class': 'NetworkTopologyStrategy', "
                f"'{self.datacenter}': {self.factor}}}"
            )
        return f"{{'class': 'SimpleStrategy', 'replication_factor': {self.factor}}}"

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise ValueError(f"replication factor must be at least 1: {self.factor}")
        if self.datacenter and not _KEYSPACE_NAME.fullmatch(self.datacenter):
            raise ValueError(f"not a datacenter name: {self.datacenter!r}")


def checked_keyspace(name: str) -> str:
    """The keyspace name, once it is safe to put into CQL text.

    Raises:
        ValueError: the name is not a plain Cassandra identifier.
    """
    if not _KEYSPACE_NAME.fullmatch(name):
        raise ValueError(f"not a keyspace name: {name!r}")
    return name


def create_keyspace(session: Session, keyspace: str, replication: Replication) -> None:
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {checked_keyspace(keyspace)} "
        f"WITH replication = {replication.cql()}"
    )


class CassandraSessions:
    """Owns the driver cluster: opened at start, closed on freeze and stop."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cluster: Cluster | None = None

    def open(self) -> Session:
        self.close()
        self._cluster = connections.cassandra_cluster(self._settings)
        return self._cluster.connect()

    def close(self) -> None:
        """Safe to call twice: the runtime's release and main's exit both do."""
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.shutdown()


def prepare(session: Session, cql: str) -> PreparedStatement:
    statement = session.prepare(cql)
    statement.consistency_level = ConsistencyLevel.LOCAL_QUORUM
    statement.serial_consistency_level = ConsistencyLevel.LOCAL_SERIAL
    return statement


def batch() -> BatchStatement:
    """A batch at the same consistency levels as every statement; a
    conditional batch must stay within one partition."""
    return BatchStatement(
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
    )


@contextmanager
def cassandra_errors(message: str) -> Iterator[None]:
    """Turns a database that cannot answer into `Unavailable(message)`.

    Invalid statements are left alone: they are bugs, and must surface as one.
    """
    try:
        yield
    except _UNAVAILABLE as error:
        raise Unavailable(message) from error


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """The driver returns naive datetimes that are in UTC; say so."""
    return None if value is None else value.replace(tzinfo=dt.UTC)


def applied(result: Any) -> bool:
    """Whether a conditional (IF ...) statement took effect."""
    return bool(result.was_applied)
