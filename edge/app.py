"""The Starlette composition root: `create_app(settings, rpc)`.

Each request goes: token -> route (404 / 405) -> access rule (401 / 403) ->
body and parameters (400 / 413 / 415) -> command published over `rpc` with
the call's deadline (503 / 504) -> Reply rendered as API.md's JSON. The rpc
client is awaited, never called in a blocking way, so the event loop keeps
serving other requests while a command is in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeAlias

from google.protobuf.message import DecodeError, Message
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route as StarletteRoute

from common.bus import new_envelope
from common.errors import WorkUpError
from common.logs import request_id_var
from edge import codec
from edge.auth import Authenticator, Identity, authorize
from edge.body import read_json_object
from edge.errors import (
    BadGateway,
    WrongMethod,
    error_response,
    handle_http_exception,
    handle_workup_error,
)
from edge.ids import idempotency_key
from edge.media import MediaStore, media_routes
from edge.middleware import RequestLogMiddleware, note_route
from edge.routes import Match, Route, RouteTable, build_route_table
from edge.settings import EdgeSettings
from workup_pb import users_pb2
from workup_pb.envelope_pb2 import Envelope, Reply

logger = logging.getLogger(__name__)

Endpoint: TypeAlias = Callable[[], Awaitable[Response]]

WELCOME_TEXT = "Welcome to WorkUp!"
#: The one path the edge answers itself; it has no rpc (protos/README.md).
WELCOME_PATH = "/"
#: Methods of the paths the edge answers itself (welcome text, probes).
_EDGE_PATH_METHODS = ("GET", "OPTIONS")
#: Every method the catch-all route accepts, so that unknown ones get a 405.
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class RpcCaller(Protocol):
    """What the edge needs from the bus client (`common.bus.RpcClient`)."""

    @property
    def connected(self) -> bool:
        """True while the client can publish to the broker."""

    async def acall(self, queue: str, envelope: Envelope, timeout_s: float) -> Reply:
        """Publishes `envelope` to `queue` and waits for its Reply.

        Raises:
            common.errors.Unavailable: the broker or the service is gone.
            common.errors.DeadlineExceeded: no reply within `timeout_s`.
        """


def create_app(
    settings: EdgeSettings,
    rpc: RpcCaller,
    *,
    routes: RouteTable | None = None,
) -> Starlette:
    """The edge's ASGI app, wired to `rpc` and the routes of the protos."""
    gateway = Gateway(settings, rpc, routes or build_route_table())
    media = MediaStore(settings.media_dir, max_upload_bytes=settings.max_upload_bytes)
    media.ensure_layout()
    return Starlette(
        # Media first; then one catch-all: the route table, not Starlette,
        # decides 404 and 405 for commands.
        routes=[
            *media_routes(media, gateway.auth),
            StarletteRoute("/{path:path}", gateway.dispatch, methods=_ALL_METHODS),
        ],
        middleware=[Middleware(RequestLogMiddleware)],
        exception_handlers={
            WorkUpError: handle_workup_error,
            # Starlette's own errors, e.g. 405 for a method outside _ALL_METHODS.
            StarletteHTTPException: handle_http_exception,
        },
    )


class Gateway:
    """Turns each REST call into one command and its Reply into the answer."""

    def __init__(
        self, settings: EdgeSettings, rpc: RpcCaller, routes: RouteTable
    ) -> None:
        self.settings = settings
        self.rpc = rpc
        self.routes = routes
        self.auth = Authenticator(settings.jwt_key)
        #: Paths the edge answers itself without a token: the orchestrator's probes.
        self._probes: dict[str, Endpoint] = {
            "/healthz": _healthz,
            "/readyz": self._readyz,
        }

    async def dispatch(self, request: Request) -> Response:
        path = _raw_path(request)
        probe = self._probes.get(path)
        if probe is not None:
            return await _serve_edge_path(request, probe)
        identity = self.auth.identify(request.headers.get("authorization"))
        if path == WELCOME_PATH:
            return await _serve_edge_path(request, _welcome)
        if request.method == "OPTIONS":
            return _options(self.routes.allowed_methods(path))
        match = self.routes.resolve(request.method, path)
        note_route(request.scope, match.route.template)
        authorize(match.route.access, identity)
        command = await self._read_command(request, match, identity)
        reply = await self._call(request, match.route, command, identity)
        return self._respond(match.route, reply)

    async def _readyz(self) -> Response:
        if not self.rpc.connected:
            return error_response(503, "Not connected to the message broker")
        return JSONResponse({"status": "ready"})

    async def _read_command(
        self, request: Request, match: Match, identity: Identity | None
    ) -> Message:
        body = None
        if match.route.has_body:
            body = await read_json_object(request, self.settings.max_body_bytes)
        return codec.build_request(
            match.route,
            body=body,
            query=request.query_params.multi_items(),
            path_params=match.path_params,
            caller_id=identity.user_id if identity else "",
        )

    async def _call(
        self,
        request: Request,
        route: Route,
        command: Message,
        identity: Identity | None,
    ) -> Reply:
        timeout_s = self.settings.rpc_timeout_s
        envelope = new_envelope(
            route.command,
            command,
            caller_id=identity.user_id if identity else "",
            caller_role=identity.role if identity else "",
            timeout_s=timeout_s,
            idempotency_key=idempotency_key(
                request.method, request.headers.get("idempotency-key")
            ),
            request_id=request_id_var.get() or None,
        )
        return await self.rpc.acall(route.queue, envelope, timeout_s)

    def _respond(self, route: Route, reply: Reply) -> Response:
        _check_status(route, reply)
        response = _decode(route, reply)
        if route.auth_response:
            body = self._auth_body(response, reply)
        else:
            body = codec.render_reply(response, reply)
        return JSONResponse(body, status_code=reply.status)

    def _auth_body(self, outcome: Message, reply: Reply) -> codec.JsonObject:
        """Login and register: a JWT on success, only the message otherwise."""
        if not isinstance(
            outcome, users_pb2.LoginResponse | users_pb2.RegisterResponse
        ):
            raise TypeError(f"{type(outcome).__name__} is not a login outcome")
        if 200 <= reply.status < 300 and outcome.success:
            return codec.auth_body(self._mint(outcome), None)
        return codec.auth_body(None, codec.reply_error_message(reply))

    def _mint(
        self, outcome: users_pb2.LoginResponse | users_pb2.RegisterResponse
    ) -> str:
        role = users_pb2.UserType.Value.Name(outcome.user_type)
        if not outcome.user_id or role == "USER_TYPE_UNSPECIFIED":
            raise ValueError("A successful login reply lacks the user's id or role")
        return self.auth.mint_token(outcome.user_id, outcome.user_name, role)


async def _serve_edge_path(request: Request, endpoint: Endpoint) -> Response:
    note_route(request.scope, request.url.path)
    method = request.method
    if method == "OPTIONS":
        return _options(_EDGE_PATH_METHODS)
    if method != "GET":
        raise WrongMethod(method, _EDGE_PATH_METHODS)
    return await endpoint()


def _options(allowed: tuple[str, ...]) -> Response:
    return Response(status_code=204, headers={"Allow": ", ".join(allowed)})


async def _welcome() -> Response:
    return PlainTextResponse(WELCOME_TEXT)


async def _healthz() -> Response:
    return JSONResponse({"status": "ok"})


def _raw_path(request: Request) -> str:
    """The path as sent, still percent-encoded, so `%2F` cannot split a segment."""
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes):
        return raw.decode("latin-1")
    return request.url.path


def _check_status(route: Route, reply: Reply) -> None:
    if not 200 <= reply.status <= 599:
        logger.error(
            "A reply carried no valid HTTP status.",
            extra={"command": route.command, "reply_status": reply.status},
        )
        raise BadGateway(f"The {route.command} command sent an invalid reply")


def _decode(route: Route, reply: Reply) -> Message:
    """The response message in a Reply; an empty payload is an empty message."""
    try:
        return route.response_class.FromString(reply.payload)
    except DecodeError:
        logger.error(
            "A reply payload did not decode.", extra={"command": route.command}
        )
        raise BadGateway(f"The {route.command} command sent an invalid reply") from None
