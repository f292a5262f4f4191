"""Composition root of the contracts service: reads settings, wires, runs.

WORKUP_CONTRACTS_KEYSPACE            keyspace (default contracts_data)
WORKUP_CASSANDRA_REPLICATION_FACTOR  replicas when it creates the
                                     keyspace (default 1)
WORKUP_CASSANDRA_DATACENTER          set: NetworkTopologyStrategy in
                                     this datacenter; unset: SimpleStrategy
"""

from __future__ import annotations

import logging
import os

from common.bus import RpcClient
from common.config import Settings
from common.cql import CassandraSessions, Replication
from common.logs import configure_logging
from common.remote import RemoteCaller
from common.runtime.routes import command_routes, registry_for
from common.runtime.service import RuntimeHooks, ServiceRuntime
from common.runtime.settings import RuntimeSettings
from svc_contracts.handlers import contract_handlers
from svc_contracts.store import CassandraContractStore, ensure_schema
from workup_pb import contracts_pb2

logger = logging.getLogger(__name__)

SERVICE = contracts_pb2.DESCRIPTOR.services_by_name["Contracts"]


def replication_from_env() -> Replication:
    return Replication(
        factor=int(os.environ.get("WORKUP_CASSANDRA_REPLICATION_FACTOR", "1")),
        datacenter=os.environ.get("WORKUP_CASSANDRA_DATACENTER", ""),
    )


def main() -> None:
    configure_logging("contracts")
    settings = Settings.from_env()
    runtime_settings = RuntimeSettings.from_env(
        "contracts", "queue_contracts", settings
    )

    sessions = CassandraSessions(settings)
    session = sessions.open()
    ensure_schema(session, settings.contracts_keyspace, replication_from_env())
    store = CassandraContractStore(session, settings.contracts_keyspace)
    rpc = RpcClient(settings.amqp_url, name="contracts-rpc")
    rpc.start()

    registry = registry_for(command_routes(SERVICE), contract_handlers(store))
    # A frozen instance gives its Cassandra connections back and prepares
    # its statements again on start.
    hooks = RuntimeHooks(
        release=sessions.close, acquire=lambda: store.attach(sessions.open())
    )
    runtime = ServiceRuntime(
        runtime_settings, registry, hooks=hooks, call=RemoteCaller(rpc)
    )
    try:
        runtime.run()
    finally:
        rpc.stop()
        sessions.close()


if __name__ == "__main__":
    main()
