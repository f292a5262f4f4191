"""Asks one server of the local stack a real question; exit 0 when it answers.

stack/stack.sh runs this to decide that a server is up: an open port is not
enough (Cassandra and RabbitMQ listen well before they can serve a request).
Usage: python stack/probe.py postgres|redis|rabbitmq|cassandra|ferretdb
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from common import connections
from common.config import Settings


def probe_postgres(settings: Settings) -> None:
    with connections.connect_postgres(settings) as connection:
        connection.execute("SELECT 1").fetchone()


def probe_redis(settings: Settings) -> None:
    client = connections.connect_redis(settings)
    try:
        client.ping()
    finally:
        client.close()


def probe_rabbitmq(settings: Settings) -> None:
    connection = connections.connect_amqp(settings)
    try:
        channel = connection.channel()
        channel.queue_declare(queue="", exclusive=True)
    finally:
        connection.close()


def probe_cassandra(settings: Settings) -> None:
    cluster = connections.cassandra_cluster(settings)
    try:
        session = cluster.connect()
        session.execute("SELECT release_version FROM system.local").one()
    finally:
        cluster.shutdown()


def probe_ferretdb(settings: Settings) -> None:
    client = connections.connect_mongo(settings)
    try:
        client.admin.command("ping")
        client["workup_probe"].list_collection_names()
    finally:
        client.close()


PROBES: dict[str, Callable[[Settings], None]] = {
    "postgres": probe_postgres,
    "redis": probe_redis,
    "rabbitmq": probe_rabbitmq,
    "cassandra": probe_cassandra,
    "ferretdb": probe_ferretdb,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in PROBES:
        print(f"usage: probe.py {'|'.join(PROBES)}", file=sys.stderr)
        return 2
    try:
        PROBES[argv[1]](Settings.from_env())
    except Exception as error:  # noqa: BLE001 - any failure means "not ready yet"
        print(f"{argv[1]}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
