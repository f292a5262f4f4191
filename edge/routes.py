"""The route table, read from the service protos: no route is written by hand.

Each rpc of the Users, Jobs, Contracts and Payments services carries a
`workup_pb.route` option (method, path, body, access, success status) and each
service a `workup_pb.queue`. `build_route_table()` turns them into `Route`s and
compiles the path templates into a segment tree where, as protos/README.md
says, a literal segment beats a `{placeholder}`: `/api/v1/jobs/me` is
GetMyJobs, never GetJobById with `job_id="me"`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from urllib.parse import unquote

from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from common.errors import NotFound
from edge.errors import WrongMethod
from workup_pb import contracts_pb2, jobs_pb2, options_pb2, payments_pb2, users_pb2

#: The generated modules whose services the edge exposes.
SERVICE_MODULES: tuple[ModuleType, ...] = (
    users_pb2,
    jobs_pb2,
    contracts_pb2,
    payments_pb2,
)

#: Extra request fields that carry the caller on payments routes, by access
#: rule (protos/README.md, "Identity"); `user_id` is filled on every route.
_ROLE_ID_FIELDS: dict[str, dict[int, str]] = {
    "workup_pb.payments.Payments": {
        options_pb2.CLIENT: "client_id",
        options_pb2.FREELANCER: "freelancer_id",
    },
}

_IDENTITY_FIELD = "user_id"


@dataclass(frozen=True)
class Route:
    """One REST route and the command it publishes."""

    method: str
    template: str
    command: str
    queue: str
    access: int
    success_status: int
    has_body: bool
    auth_response: bool
    request_class: type[Message]
    response_class: type[Message]
    #: Request fields written from the token, overwriting the client's values.
    identity_fields: tuple[str, ...]

    @property
    def segments(self) -> list[str]:
        return _split(self.template)


@dataclass(frozen=True)
class Match:
    """A resolved request: the route and its path parameters (proto names)."""

    route: Route
    path_params: dict[str, str]


@dataclass
class _Node:
    """One path segment of the tree; `routes` holds the templates ending here."""

    literals: dict[str, _Node] = field(default_factory=dict)
    placeholder: _Node | None = None
    routes: dict[str, Route] = field(default_factory=dict)


class RouteTable:
    """Resolves a method and path to a `Match`, or raises 404 / 405."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._root = _Node()
        self.routes: tuple[Route, ...] = tuple(routes)
        for route in self.routes:
            self._add(route)

    def resolve(self, method: str, path: str) -> Match:
        """The route for `method` on `path` (a raw, still percent-encoded path).

        Raises:
            NotFound: no template matches the path.
            WrongMethod: a template matches, but not with this method.
        """
        node = self._find(path)
        route = node.routes.get(method)
        if route is None:
            raise WrongMethod(method, self._allowed(node))
        return Match(route, _path_params(route, path))

    def allowed_methods(self, path: str) -> tuple[str, ...]:
        """The `Allow` list for a path (OPTIONS included); raises NotFound."""
        return self._allowed(self._find(path))

    def _find(self, path: str) -> _Node:
        node = _walk(self._root, [unquote(part) for part in _split(path)])
        if node is None:
            raise NotFound(f"No route matches {path}")
        return node

    @staticmethod
    def _allowed(node: _Node) -> tuple[str, ...]:
        return (*sorted(node.routes), "OPTIONS")

    def _add(self, route: Route) -> None:
        node = self._root
        for segment in route.segments:
            if _is_placeholder(segment):
                node.placeholder = node.placeholder or _Node()
                node = node.placeholder
            else:
                node = node.literals.setdefault(segment, _Node())
        if route.method in node.routes:
            raise ValueError(f"Two commands claim {route.method} {route.template}")
        node.routes[route.method] = route


def _walk(node: _Node, parts: list[str]) -> _Node | None:
    """The deepest-literal node that ends a template exactly at `parts`.

    Literal children are tried first; the placeholder only when the literal
    branch has no template for the rest of the path.
    """
    if not parts:
        return node if node.routes else None
    head, rest = parts[0], parts[1:]
    literal = node.literals.get(head)
    found = _walk(literal, rest) if literal is not None else None
    if found is None and node.placeholder is not None and head:
        found = _walk(node.placeholder, rest)
    return found


def _split(path: str) -> list[str]:
    return path.split("/")[1:] if path.startswith("/") else [path]


def _is_placeholder(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _path_params(route: Route, path: str) -> dict[str, str]:
    pairs = zip(route.segments, _split(path), strict=True)
    return {
        template[1:-1]: unquote(part)
        for template, part in pairs
        if _is_placeholder(template)
    }


def build_route_table(modules: Iterable[ModuleType] = SERVICE_MODULES) -> RouteTable:
    """Every routable command of the given generated modules.

    Raises:
        ValueError: a route option is inconsistent (a duplicate route, a
            placeholder naming no request field, a missing method or path).
    """
    return RouteTable(_routes_of(modules))


def _routes_of(modules: Iterable[ModuleType]) -> Iterator[Route]:
    for module in modules:
        for service in module.DESCRIPTOR.services_by_name.values():
            yield from _service_routes(service)


def _service_routes(service: ServiceDescriptor) -> Iterator[Route]:
    queue = service.GetOptions().Extensions[options_pb2.queue]
    if not queue:
        raise ValueError(f"Service {service.full_name} declares no queue option")
    for method in service.methods:
        rule = method.GetOptions().Extensions[options_pb2.route]
        if rule.access != options_pb2.INTERNAL:
            yield _route(service, method, rule, queue)


def _route(
    service: ServiceDescriptor,
    method: MethodDescriptor,
    rule: options_pb2.Route,
    queue: str,
) -> Route:
    _check_rule(method, rule)
    request_class = GetMessageClass(method.input_type)
    return Route(
        method=rule.method,
        template=rule.path,
        command=method.name,
        queue=queue,
        access=rule.access,
        success_status=rule.success_status,
        has_body=rule.body == "*",
        auth_response=rule.auth_response,
        request_class=request_class,
        response_class=GetMessageClass(method.output_type),
        identity_fields=_identity_fields(service, rule, request_class),
    )


def _check_rule(method: MethodDescriptor, rule: options_pb2.Route) -> None:
    where = method.full_name
    if not rule.method or not rule.path.startswith("/"):
        raise ValueError(f"{where}: a routed command needs a method and a path")
    if rule.body not in ("", "*"):
        raise ValueError(f"{where}: body must be '' or '*', not {rule.body!r}")
    if rule.access == options_pb2.ACCESS_UNSPECIFIED:
        raise ValueError(f"{where}: access is unspecified")
    fields = method.input_type.fields_by_name
    for segment in _split(rule.path):
        if _is_placeholder(segment) and segment[1:-1] not in fields:
            raise ValueError(f"{where}: {segment} names no request field")


def _identity_fields(
    service: ServiceDescriptor, rule: options_pb2.Route, request_class: type[Message]
) -> tuple[str, ...]:
    names = [_IDENTITY_FIELD]
    role_field = _ROLE_ID_FIELDS.get(service.full_name, {}).get(rule.access)
    if role_field is not None:
        names.append(role_field)
    fields = request_class.DESCRIPTOR.fields_by_name
    return tuple(name for name in names if name in fields)
