"""One place that opens a connection to each server of the stack.

Every process calls these from its composition root (a `main()`), never at
import time, so tests and forked workers never share a socket by accident.
Timeouts are short on purpose: a server that is gone must turn into a quick
error (and a 503 at the edge), not a hang.
"""

from __future__ import annotations

import pika
import psycopg
import redis
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import RoundRobinPolicy
from pymongo import MongoClient

from common.config import Settings

#: Seconds to wait for a TCP connection to any server before giving up.
CONNECT_TIMEOUT_S = 5.0
#: Seconds a single Cassandra request may take before the driver gives up.
CASSANDRA_REQUEST_TIMEOUT_S = 10.0


def connect_postgres(
    settings: Settings, database: str | None = None
) -> psycopg.Connection:
    """A new PostgreSQL connection (callers that need many use a pool)."""
    return psycopg.connect(
        settings.postgres.conninfo(database), connect_timeout=int(CONNECT_TIMEOUT_S)
    )


def connect_redis(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=CONNECT_TIMEOUT_S,
    )


def connect_mongo(settings: Settings) -> MongoClient[dict[str, object]]:
    return MongoClient(
        settings.mongo_url,
        connectTimeoutMS=int(CONNECT_TIMEOUT_S * 1000),
        serverSelectionTimeoutMS=int(CONNECT_TIMEOUT_S * 1000),
    )


def connect_amqp(settings: Settings) -> pika.BlockingConnection:
    parameters = pika.URLParameters(settings.amqp_url)
    parameters.socket_timeout = CONNECT_TIMEOUT_S
    parameters.blocked_connection_timeout = CONNECT_TIMEOUT_S * 6
    return pika.BlockingConnection(parameters)


def cassandra_cluster(settings: Settings) -> Cluster:
    """A driver cluster object; `cluster.connect()` opens the session."""
    profile = ExecutionProfile(
        load_balancing_policy=RoundRobinPolicy(),
        request_timeout=CASSANDRA_REQUEST_TIMEOUT_S,
    )
    return Cluster(
        contact_points=list(settings.cassandra_hosts),
        port=settings.cassandra_port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        connect_timeout=CONNECT_TIMEOUT_S,
        # Protocol v5 is what Cassandra 5 speaks natively; pinning it skips
        # the driver's downgrade handshake on every connect.
        protocol_version=5,
    )
