"""Composition root of the users service: reads settings, wires, runs."""

from __future__ import annotations

import contextlib
import logging
import os

from common import connections
from common.bus import RpcClient
from common.config import Settings
from common.errors import BadRequest
from common.logs import configure_logging
from common.remote import RemoteCaller
from common.runtime.context import CommandContext, Handler
from common.runtime.routes import command_routes, registry_for
from common.runtime.service import RuntimeHooks, ServiceRuntime
from common.runtime.settings import RuntimeSettings
from svc_users.accounts import AccountHandlers, AdminCredentials
from svc_users.cv import CvHandlers
from svc_users.login_limiter import RedisLoginLimiter
from svc_users.profile_store import MongoProfileStore
from svc_users.profiles import ProfileHandlers, profile_handlers
from svc_users.read_cache import RedisReadCache
from svc_users.store import MongoUserStore
from workup_pb import users_pb2
from workup_pb.payments_pb2 import CreateWalletRequest, CreateWalletResponse

logger = logging.getLogger(__name__)

SERVICE = users_pb2.DESCRIPTOR.services_by_name["Users"]


def admin_credentials() -> AdminCredentials:
    """The administrator account, from configuration only (DESIGN.md 5)."""
    password = os.environ.get("WORKUP_ADMIN_PASSWORD", "")
    if not password:
        raise SystemExit("WORKUP_ADMIN_PASSWORD is required")
    email = os.environ.get("WORKUP_ADMIN_EMAIL", "admin.@workup.com")
    return AdminCredentials(email=email, password=password)


def ping(
    _context: CommandContext, request: users_pb2.PingRequest
) -> users_pb2.PingResponse:
    """Echoes its input: the cheapest command, to measure the path's ceiling."""
    return users_pb2.PingResponse(echo=request.echo)


class PaymentsWallets:
    """Creates a freelancer's wallet through the payments service (API.md X1)."""

    def __init__(self, remote: RemoteCaller) -> None:
        self._remote = remote

    def __call__(self, freelancer_id: str, *, context: CommandContext) -> None:
        request = CreateWalletRequest(
            user_id=freelancer_id, freelancer_id=freelancer_id
        )
        # A 400 means the wallet exists already: a redelivered registration.
        with contextlib.suppress(BadRequest):
            self._remote("CreateWallet", request, CreateWalletResponse, context)


def main() -> None:
    configure_logging("users")
    settings = Settings.from_env()
    runtime_settings = RuntimeSettings.from_env("users", "queue_users", settings)

    mongo = connections.connect_mongo(settings)
    database = mongo[settings.mongo_database]
    store = MongoUserStore(database)
    store.ensure_indexes()
    cv = CvHandlers(database)
    cv.ensure_indexes()
    profiles = ProfileHandlers(MongoProfileStore(database))
    limiter = RedisLoginLimiter(connections.connect_redis(settings))
    rpc = RpcClient(settings.amqp_url, name="users-rpc")
    rpc.start()
    remote = RemoteCaller(rpc)
    accounts = AccountHandlers(
        store, limiter, admin_credentials(), PaymentsWallets(remote)
    )

    handlers: dict[str, Handler] = {
        "Login": accounts.login,
        "ClientRegister": accounts.client_register,
        "FreelancerRegister": accounts.freelancer_register,
        "Ping": ping,
        **cv.handlers(),
        **profile_handlers(profiles),
    }
    routes = command_routes(SERVICE)
    cache = RedisReadCache(connections.connect_redis(settings))
    response_types = {name: route.response_type for name, route in routes.items()}
    registry = registry_for(routes, cache.wrap(handlers, response_types))
    runtime = ServiceRuntime(
        runtime_settings, registry, hooks=RuntimeHooks(), call=remote
    )
    try:
        runtime.run()
    finally:
        rpc.stop()
        mongo.close()


if __name__ == "__main__":
    main()
