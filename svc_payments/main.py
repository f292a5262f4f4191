"""Composition root of the payments service: reads settings, wires, runs.

WORKUP_MAX_DB_CONNECTIONS  connections the PostgreSQL pool may hold
                           (default 10; SetMaxDbConnections changes it
                           at run time)
"""

from __future__ import annotations

import logging
import time

import psycopg

from common.bus import RpcClient
from common.config import Settings, _env_int
from common.logs import configure_logging
from common.remote import RemoteCaller
from common.runtime.backoff import Backoff
from common.runtime.routes import command_routes, registry_for
from common.runtime.service import RuntimeHooks, ServiceRuntime
from common.runtime.settings import RuntimeSettings
from svc_payments.database import Database
from svc_payments.handlers import PaymentHandlers
from svc_payments.milestones import MARK_PAID, MilestonePaidCheck
from svc_payments.outbox import OutboxRelay
from svc_payments.schema import apply_migrations
from svc_payments.store import PaymentsStore
from workup_pb import payments_pb2

logger = logging.getLogger(__name__)

SERVICE = payments_pb2.DESCRIPTOR.services_by_name["Payments"]
DEFAULT_MAX_DB_CONNECTIONS = 10


def migrate_when_reachable(conninfo: str) -> None:
    """Applies the schema migrations, waiting out a database that is down."""
    backoff = Backoff(logger, "the payments database", initial_s=0.5, max_s=10.0)
    while True:
        try:
            apply_migrations(conninfo)
        except psycopg.OperationalError as error:
            time.sleep(backoff.failed(error))
        else:
            backoff.recovered()
            return


class PoolAndRelay:
    """What a frozen instance gives back: its connections and the relay thread."""

    def __init__(self, database: Database, relay: OutboxRelay) -> None:
        self._database = database
        self._relay = relay

    def acquire(self) -> None:
        self._database.open()
        self._relay.start()

    def release(self) -> None:
        # The relay first: it may be holding a pooled connection.
        self._relay.stop()
        self._database.close()

    def hooks(self) -> RuntimeHooks:
        return RuntimeHooks(
            release=self.release,
            acquire=self.acquire,
            set_max_db_connections=self._database.resize,
            max_db_connections=lambda: self._database.max_size,
        )


def main() -> None:
    configure_logging("payments")
    settings = Settings.from_env()
    runtime_settings = RuntimeSettings.from_env("payments", "queue_payments", settings)
    conninfo = settings.postgres.conninfo()
    migrate_when_reachable(conninfo)

    database = Database(
        conninfo,
        max_size=_env_int("WORKUP_MAX_DB_CONNECTIONS", DEFAULT_MAX_DB_CONNECTIONS),
    )
    rpc = RpcClient(settings.amqp_url, name="payments-rpc")
    rpc.start()
    remote = RemoteCaller(rpc)
    relay = OutboxRelay(
        database, remote, already_done={MARK_PAID: MilestonePaidCheck(remote)}
    )
    resources = PoolAndRelay(database, relay)
    handlers = PaymentHandlers(PaymentsStore(database), on_paid=relay.wake)
    registry = registry_for(command_routes(SERVICE), handlers.handlers())
    runtime = ServiceRuntime(
        runtime_settings, registry, hooks=resources.hooks(), call=remote
    )
    resources.acquire()
    try:
        runtime.run()
    finally:
        resources.release()
        rpc.stop()


if __name__ == "__main__":
    main()
