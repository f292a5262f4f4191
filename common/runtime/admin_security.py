"""Who may use the admin port, and the audit record of what they did with it.

Every Admin call must carry `authorization: Bearer <token>` in its metadata.
The check is a server interceptor, so no RPC can forget it; the gRPC health
service stays open because Kubernetes probes carry no token. The token is
compared in constant time (hmac.compare_digest).

Every admin action, refused ones included, leaves one INFO record on the
`workup.audit` logger with the fields action, arguments, peer and outcome.
(`args` would be the natural name, but LogRecord reserves it.)
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import grpc

audit_logger = logging.getLogger("workup.audit")

#: RPC path prefixes served without a token.
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
#: The metadata key gRPC lower-cases the header to.
_AUTHORIZATION = "authorization"


def audit(
    action: str, arguments: Mapping[str, object], peer: str, outcome: str
) -> None:
    """Records one admin action; `outcome` is "OK" or a gRPC status name."""
    audit_logger.info(
        "Admin action.",
        extra={
            "action": action,
            "arguments": dict(arguments),
            "peer": peer,
            "outcome": outcome,
        },
    )


class TokenInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]  # grpc is untyped
    """Answers UNAUTHENTICATED to any call without the admin bearer token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("The admin token must not be empty")
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
        method: str = handler_call_details.method
        metadata = handler_call_details.invocation_metadata
        if method.startswith(OPEN_PREFIXES) or self._authorized(metadata):
            return continuation(handler_call_details)
        action = method.rsplit("/", 1)[-1]
        return grpc.unary_unary_rpc_method_handler(partial(_refuse, action))

    def _authorized(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> bool:
        for key, value in metadata or ():
            if key == _AUTHORIZATION:
                provided = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(provided, self._expected)
        return False


def _refuse(action: str, _request: object, context: Any) -> None:
    audit(action, {}, context.peer(), grpc.StatusCode.UNAUTHENTICATED.name)
    context.abort(
        grpc.StatusCode.UNAUTHENTICATED, "A valid admin bearer token is required."
    )
