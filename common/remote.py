"""Cross-service calls (API.md section 6) for handlers, over the RPC client.

`RemoteCaller` is the `CallHook` a service gives its runtime: a handler asks
for a command by name, and the caller finds its queue in the protos, sends
it with the handler's own deadline and a derived idempotency key, and turns
an error reply back into the matching `WorkUpError`.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError, Message

from common.bus import RpcClient, new_envelope
from common.errors import DeadlineExceeded, Unavailable, error_for_status
from common.runtime.context import CommandContext, ResponseT
from common.runtime.routes import CommandRoute, command_routes
from workup_pb import contracts_pb2, jobs_pb2, payments_pb2, users_pb2

#: Seconds a cross-service call may take when its caller set no deadline.
DEFAULT_CALL_TIMEOUT_S = 10.0


def all_command_routes() -> dict[str, CommandRoute]:
    """Every command of the four services, by name (names are unique)."""
    routes: dict[str, CommandRoute] = {}
    for module, service in (
        (users_pb2, "Users"),
        (jobs_pb2, "Jobs"),
        (contracts_pb2, "Contracts"),
        (payments_pb2, "Payments"),
    ):
        routes.update(command_routes(module.DESCRIPTOR.services_by_name[service]))
    return routes


class RemoteCaller:
    """Calls another service's command on behalf of a running handler."""

    def __init__(self, rpc: RpcClient) -> None:
        self._rpc = rpc
        self._routes = all_command_routes()

    def __call__(
        self,
        command: str,
        request: Message,
        response_type: type[ResponseT],
        context: CommandContext,
    ) -> ResponseT:
        route = self._routes[command]
        remaining_s = context.remaining_s()
        if remaining_s is not None and remaining_s <= 0:
            raise DeadlineExceeded(f"No time left to call {command}")
        timeout_s = DEFAULT_CALL_TIMEOUT_S if remaining_s is None else remaining_s
        # Derived, so a redelivered handler repeats the same remote write
        # and the other service answers with its recorded reply.
        key = f"{context.idempotency_key or context.request_id}:{command}"
        envelope = new_envelope(
            command,
            request,
            timeout_s=timeout_s,
            caller_id=context.caller_id,
            caller_role=context.caller_role,
            idempotency_key=key,
            request_id=f"{context.request_id}:{command}",
        )
        reply = self._rpc.call(route.queue, envelope, timeout_s)
        if reply.status >= 400:
            message = reply.error_message if reply.HasField("error_message") else None
            raise error_for_status(reply.status, message)
        try:
            return response_type.FromString(reply.payload)
        except DecodeError as error:
            raise Unavailable(f"{command} sent an unreadable reply") from error
