"""What the protos say about each command: its messages, status and queue.

The service protos are the contract (protos/README.md): each rpc is one
command, its `route` option gives the status of a successful call, and the
service's `queue` option names the work queue. Services build their
registry from this table, so a handler can only be registered for a
command the contract declares, with the status the contract promises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from common.runtime.context import Handler
from common.runtime.registry import CommandRegistry
from workup_pb import options_pb2

#: Status of a successful call when a route declares none.
DEFAULT_SUCCESS_STATUS = 200


@dataclass(frozen=True)
class CommandRoute:
    """One command as the contract declares it."""

    name: str
    request_type: type[Message]
    response_type: type[Message]
    success_status: int
    queue: str


def command_routes(service: ServiceDescriptor) -> dict[str, CommandRoute]:
    """Every command of a proto service, by name.

    For example `command_routes(users_pb2.DESCRIPTOR.services_by_name["Users"])`.
    """
    queue = service.GetOptions().Extensions[options_pb2.queue]
    return {method.name: _route_of(method, queue) for method in service.methods}


def _route_of(method: MethodDescriptor, queue: str) -> CommandRoute:
    route = method.GetOptions().Extensions[options_pb2.route]
    return CommandRoute(
        name=method.name,
        request_type=GetMessageClass(method.input_type),
        response_type=GetMessageClass(method.output_type),
        success_status=route.success_status or DEFAULT_SUCCESS_STATUS,
        queue=queue,
    )


def registry_for(
    routes: Mapping[str, CommandRoute], handlers: Mapping[str, Handler]
) -> CommandRegistry:
    """A registry serving each handler under its route's types and status.

    Raises:
        ValueError: when a handler names a command the contract lacks.
    """
    unknown = sorted(set(handlers) - set(routes))
    if unknown:
        raise ValueError(f"No route declares the commands {', '.join(unknown)}.")
    registry = CommandRegistry()
    for name, handler in handlers.items():
        route = routes[name]
        registry.register(
            name,
            handler,
            route.request_type,
            success_status=route.success_status,
        )
    return registry
