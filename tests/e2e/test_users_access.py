"""Every users route, taken from the route table: 401 without a token, 403 for
a role the route does not admit."""

from __future__ import annotations

import re

import httpx
import pytest

from edge.routes import Route, build_route_table
from tests.e2e.users_api import bearer, register_client_token, register_freelancer_token
from workup_pb import options_pb2

pytestmark = pytest.mark.integration

USERS_ROUTES = [
    route
    for route in build_route_table().routes
    if route.queue == "queue_users" and route.access != options_pb2.PUBLIC
]


def concrete_path(route: Route) -> str:
    return re.sub(r"\{[^}]+\}", "0123456789abcdef01234567", route.template)


def send(http: httpx.Client, route: Route, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, object] | None = {} if route.has_body else None
    return http.request(route.method, concrete_path(route), json=body, headers=headers)


def test_the_table_covers_all_protected_users_routes() -> None:
    assert len(USERS_ROUTES) == 29


@pytest.mark.parametrize(
    "route", USERS_ROUTES, ids=lambda r: f"{r.method} {r.template}"
)
def test_a_users_route_without_a_token_is_401(http: httpx.Client, route: Route) -> None:
    assert send(http, route, {}).status_code == 401


@pytest.mark.parametrize(
    "route", USERS_ROUTES, ids=lambda r: f"{r.method} {r.template}"
)
def test_a_users_route_refuses_the_other_role(http: httpx.Client, route: Route) -> None:
    # Client routes refuse a freelancer token and the other way round.
    if route.access == options_pb2.CLIENT:
        token = register_freelancer_token(http)
    else:
        token = register_client_token(http)

    assert send(http, route, bearer(token)).status_code == 403
