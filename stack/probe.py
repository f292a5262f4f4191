"""Asks one server of the local stack a real question; exit 0 when it answers.

stack/stack.sh runs this to decide that a server is up: an open port is not
enough (Cassandra and RabbitMQ listen well before they can serve a request).
stack/platform.sh uses the last two forms for WorkUp's own processes.

Usage: python stack/probe.py postgres|redis|rabbitmq|cassandra|ferretdb
       python stack/probe.py queue QUEUE   (some instance consumes QUEUE)
       python stack/probe.py http URL      (URL answers 200)
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import httpx

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


def probe_queue(settings: Settings, queue: str) -> None:
    connection = connections.connect_amqp(settings)
    try:
        declared = connection.channel().queue_declare(queue=queue, passive=True)
    finally:
        connection.close()
    if declared.method.consumer_count < 1:
        raise RuntimeError(f"nobody consumes {queue}")


def probe_http(url: str) -> None:
    httpx.get(url, timeout=2.0).raise_for_status()


PROBES: dict[str, Callable[[Settings], None]] = {
    "postgres": probe_postgres,
    "redis": probe_redis,
    "rabbitmq": probe_rabbitmq,
    "cassandra": probe_cassandra,
    "ferretdb": probe_ferretdb,
}


def run_probe(argv: list[str]) -> bool:
    """Runs the probe the arguments name; False when they name none."""
    settings = Settings.from_env()
    if len(argv) == 2 and argv[1] in PROBES:
        PROBES[argv[1]](settings)
    elif len(argv) == 3 and argv[1] == "queue":
        probe_queue(settings, argv[2])
    elif len(argv) == 3 and argv[1] == "http":
        probe_http(argv[2])
    else:
        return False
    return True


def main(argv: list[str]) -> int:
    try:
        if not run_probe(argv):
            print(__doc__, file=sys.stderr)
            return 2
    except Exception as error:  # noqa: BLE001 - any failure means "not ready yet"
        print(f"{argv[1]}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
