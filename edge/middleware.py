"""Per-request bookkeeping: request id, the access log line, the last-resort 500.

A pure ASGI middleware (not BaseHTTPMiddleware) so the request id set in the
contextvar is seen by the handler and everything it logs.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.logs import request_context
from edge.errors import internal_error_response
from edge.ids import request_id

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
#: Key in `scope["state"]` where the dispatcher leaves the matched template.
ROUTE_STATE_KEY = "route"


def note_route(scope: Scope, template: str) -> None:
    """Records the matched route template for the request's log line."""
    scope.setdefault("state", {})[ROUTE_STATE_KEY] = template


class RequestLogMiddleware:
    """Tags each request with an id, logs one line for it, and contains bugs.

    An exception that reaches this layer is a bug: it is logged with its
    traceback and the client gets the opaque 500 body, never the traceback.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, send)
        with request_context(exchange.request_id):
            try:
                await self.app(scope, receive, exchange.send)
            except Exception:
                logger.exception("Unhandled error while serving a request.")
                await exchange.fail(scope, receive)
            finally:
                exchange.log()


class _Exchange:
    """One request's id, timing and response status."""

    def __init__(self, scope: Scope, send: Send) -> None:
        self.request_id = request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        self.scope = scope
        self.status = 500
        self.started = False
        self._send = send
        self._start = time.perf_counter()
        scope.setdefault("state", {})

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            MutableHeaders(scope=message)[REQUEST_ID_HEADER] = self.request_id
        await self._send(message)

    async def fail(self, scope: Scope, receive: Receive) -> None:
        if not self.started:
            await internal_error_response()(scope, receive, self.send)

    def log(self) -> None:
        duration_ms = round((time.perf_counter() - self._start) * 1000, 3)
        logger.info(
            "Request handled.",
            extra={
                "method": self.scope["method"],
                "route": self.scope["state"].get(ROUTE_STATE_KEY),
                "status": self.status,
                "duration_ms": duration_ms,
            },
        )
