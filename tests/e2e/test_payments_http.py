"""Payments over HTTP: the edge, the broker, the payments service, PostgreSQL.

Payment requests only arise inside the platform (contracts creates them,
API.md X3), so the tests create them the same way: by publishing the
internal CreatePaymentRequest command on the run's own virtual host.
"""

from __future__ import annotations

import base64
import re
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from jose import jwt

from common.bus import RpcClient, new_envelope
from edge.routes import Route, build_route_table
from tests.e2e.platform import Instance, Platform
from tests.e2e.users_api import bearer, register_client_token, register_freelancer_token
from workup_pb import admin_pb2, options_pb2, payments_pb2 as pb

pytestmark = pytest.mark.integration

PAYMENTS_ROUTES = [
    route for route in build_route_table().routes if route.queue == "queue_payments"
]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
WALLET = "/api/v1/payments/freelancers/me/wallet"
WITHDRAW = f"{WALLET}/withdraw"


@dataclass(frozen=True)
class User:
    id: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def rpc(platform: Platform) -> Iterator[RpcClient]:
    client = RpcClient(platform.settings().amqp_url, name="e2e-payments")
    client.start()
    yield client
    client.stop()


def user(platform: Platform, token: str) -> User:
    key = base64.b64decode(platform.env["WORKUP_JWT_SECRET"])
    claims = jwt.decode(token, key, algorithms=["HS256"])
    return User(str(claims["userId"]), bearer(token))


def new_client(http: httpx.Client, platform: Platform) -> User:
    return user(platform, register_client_token(http))


def new_freelancer(http: httpx.Client, platform: Platform) -> User:
    return user(platform, register_freelancer_token(http))


def create_payment_request(
    rpc: RpcClient, client: User, freelancer: User, amount: float, reference: str
) -> tuple[int, str | None]:
    """Sends CreatePaymentRequest as contracts would; returns status and id."""
    request = pb.CreatePaymentRequestRequest(
        user_id=client.id,
        client_id=client.id,
        freelancer_id=freelancer.id,
        amount=amount,
        reference_id=reference,
    )
    envelope = new_envelope(
        "CreatePaymentRequest",
        request,
        timeout_s=15,
        idempotency_key=uuid.uuid4().hex,
    )
    reply = rpc.call("queue_payments", envelope, 15)
    if reply.status != 201:
        return reply.status, reply.error_message
    return 201, pb.CreatePaymentRequestResponse.FromString(
        reply.payload
    ).payment_request_id


def bill(rpc: RpcClient, client: User, freelancer: User, amount: float) -> str:
    status, request_id = create_payment_request(
        rpc, client, freelancer, amount, str(uuid.uuid4())
    )
    assert status == 201, request_id
    assert request_id is not None
    return request_id


def pay(http: httpx.Client, client: User, request_id: str) -> httpx.Response:
    return http.post(
        f"/api/v1/payments/requests/{request_id}/pay", headers=client.headers
    )


def test_a_registered_freelancer_has_an_empty_wallet_at_once(
    http: httpx.Client, platform: Platform
) -> None:
    freelancer = new_freelancer(http, platform)

    response = http.get(WALLET, headers=freelancer.headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"statusCode": "OK", "errorMessage": None, "balance": 0.0}


def test_a_client_pays_a_milestone_and_the_freelancer_withdraws(
    http: httpx.Client, platform: Platform, rpc: RpcClient
) -> None:
    client, freelancer = new_client(http, platform), new_freelancer(http, platform)
    request_id = bill(rpc, client, freelancer, 1200.5)

    paid = pay(http, client, request_id)
    paid_again = pay(http, client, request_id)
    withdrawn = http.post(
        WITHDRAW,
        json={"amount": 200.25, "description": "rent"},
        headers=freelancer.headers,
    )

    assert paid.status_code == 200, paid.text
    transaction_id = paid.json()["transactionId"]
    assert paid.json()["transactionStatus"] == "SUCCESS"
    assert paid_again.status_code == 400
    assert paid_again.json()["errorMessage"] == "Payment request is not pending"
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["balance"] == 1000.25
    entries = http.get(f"{WALLET}/transactions", headers=freelancer.headers).json()
    kinds = [(e["transactionType"], e["amount"]) for e in entries["transactions"]]
    assert kinds == [("CREDIT", 1200.5), ("DEBIT", 200.25)]
    credit = entries["transactions"][0]
    assert credit["paymentTransactionId"] == transaction_id
    assert credit["walletId"] == freelancer.id
    assert TIMESTAMP.match(credit["createdAt"])
    one = http.get(f"{WALLET}/transactions/{credit['id']}", headers=freelancer.headers)
    assert one.status_code == 200
    assert one.json()["transaction"] == credit


def test_both_parties_list_the_request_and_its_payment(
    http: httpx.Client, platform: Platform, rpc: RpcClient
) -> None:
    client, freelancer = new_client(http, platform), new_freelancer(http, platform)
    request_id = bill(rpc, client, freelancer, 75.0)
    transaction_id = pay(http, client, request_id).json()["transactionId"]

    for who, party in ((client, "clients"), (freelancer, "freelancers")):
        requests = http.get(
            f"/api/v1/payments/{party}/me/requests", headers=who.headers
        )
        payments = http.get(
            f"/api/v1/payments/{party}/me/transactions", headers=who.headers
        )

        assert requests.status_code == 200, requests.text
        [listed] = requests.json()["requests"]
        assert listed["id"] == request_id
        assert (listed["clientId"], listed["freelancerId"]) == (
            client.id,
            freelancer.id,
        )
        assert (listed["amount"], listed["status"]) == (75.0, "PAID")
        assert TIMESTAMP.match(listed["createdAt"])
        assert payments.status_code == 200, payments.text
        [payment] = payments.json()["transactions"]
        assert (payment["id"], payment["paymentRequestId"]) == (
            transaction_id,
            request_id,
        )
        assert (payment["amount"], payment["status"]) == (75.0, "SUCCESS")


def test_another_users_payments_and_wallet_stay_invisible(
    http: httpx.Client, platform: Platform, rpc: RpcClient
) -> None:
    client, freelancer = new_client(http, platform), new_freelancer(http, platform)
    other_client, other_freelancer = (
        new_client(http, platform),
        new_freelancer(http, platform),
    )
    request_id = bill(rpc, client, freelancer, 40.0)

    stranger_pays = pay(http, other_client, request_id)
    pay(http, client, request_id)
    credit_id = http.get(f"{WALLET}/transactions", headers=freelancer.headers).json()[
        "transactions"
    ][0]["id"]

    assert stranger_pays.status_code == 403
    assert stranger_pays.json()["transactionId"] is None
    peek = http.get(
        f"{WALLET}/transactions/{credit_id}", headers=other_freelancer.headers
    )
    assert peek.status_code == 404
    assert peek.json()["errorMessage"] == "Wallet transaction not found"
    for path, field in (
        ("/api/v1/payments/clients/me/requests", "requests"),
        ("/api/v1/payments/clients/me/transactions", "transactions"),
    ):
        assert http.get(path, headers=other_client.headers).json()[field] == []
    for path, field in (
        ("/api/v1/payments/freelancers/me/requests", "requests"),
        ("/api/v1/payments/freelancers/me/transactions", "transactions"),
        (f"{WALLET}/transactions", "transactions"),
    ):
        assert http.get(path, headers=other_freelancer.headers).json()[field] == []
    assert http.get(WALLET, headers=other_freelancer.headers).json()["balance"] == 0.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"amount": 0}, "Amount must be greater than 0"),
        ({"amount": -3.5}, "Amount must be greater than 0"),
        ({"amount": 1.001}, "amount must have at most 2 decimal places"),
        ({"amount": 1e13}, "amount must be at most 1000000000000"),
        ({"amount": 5}, "Insufficient balance"),
        ({"amount": "NaN"}, None),
        ({"amount": "ten"}, None),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_a_bad_withdrawal_is_a_400_and_moves_nothing(
    http: httpx.Client, platform: Platform, body: dict[str, object], message: str | None
) -> None:
    freelancer = new_freelancer(http, platform)

    response = http.post(WITHDRAW, json=body, headers=freelancer.headers)

    assert response.status_code == 400, response.text
    if message is not None:
        assert response.json()["errorMessage"] == message
    assert http.get(WALLET, headers=freelancer.headers).json()["balance"] == 0.0


def test_unknown_ids_are_not_found(http: httpx.Client, platform: Platform) -> None:
    client, freelancer = new_client(http, platform), new_freelancer(http, platform)

    paid = pay(http, client, str(uuid.uuid4()))
    entry = http.get(f"{WALLET}/transactions/not-a-uuid", headers=freelancer.headers)

    assert paid.status_code == 404
    assert paid.json()["errorMessage"] == "Payment request not found"
    assert entry.status_code == 404


def test_contracts_asking_twice_for_one_milestone_gets_one_request(
    http: httpx.Client, platform: Platform, rpc: RpcClient
) -> None:
    client, freelancer = new_client(http, platform), new_freelancer(http, platform)
    milestone = str(uuid.uuid4())

    first = create_payment_request(rpc, client, freelancer, 10.0, milestone)
    second = create_payment_request(rpc, client, freelancer, 10.0, milestone)
    huge = create_payment_request(rpc, client, freelancer, 1e15, str(uuid.uuid4()))

    assert first == second
    assert first[0] == 201
    assert huge == (400, "amount must be at most 1000000000000")
    listed = http.get("/api/v1/payments/clients/me/requests", headers=client.headers)
    assert [r["id"] for r in listed.json()["requests"]] == [first[1]]


@pytest.fixture
def extra_payments(platform: Platform) -> Iterator[Instance]:
    """A second payments instance this test may freeze and resize."""
    instance = platform.spawn_service("svc_payments", "queue_payments")
    yield instance
    instance.process.send_signal(signal.SIGTERM)
    instance.process.wait(timeout=30)


def test_the_admin_port_resizes_the_pool_and_a_thawed_instance_serves(
    http: httpx.Client, platform: Platform, extra_payments: Instance
) -> None:
    [original] = [
        i for i in platform.instances_of("svc_payments") if i is not extra_payments
    ]
    extra = extra_payments.admin()
    freelancer = new_freelancer(http, platform)

    resized = extra.SetMaxDbConnections(admin_pb2.SetMaxDbConnectionsRequest(count=3))
    status = extra.GetStatus(admin_pb2.GetStatusRequest())
    extra.Freeze(admin_pb2.FreezeRequest())
    extra.Start(admin_pb2.StartRequest())
    # With the original frozen, only the thawed instance (and its new
    # pool) can answer.
    original.admin().Freeze(admin_pb2.FreezeRequest())
    try:
        wallet = http.get(WALLET, headers=freelancer.headers)
    finally:
        original.admin().Start(admin_pb2.StartRequest())

    assert resized.max_db_connections == 3
    assert status.max_db_connections == 3
    assert wallet.status_code == 200, wallet.text
    assert extra.GetStatus(admin_pb2.GetStatusRequest()).max_db_connections == 3


def test_the_table_has_every_payments_route() -> None:
    assert len(PAYMENTS_ROUTES) == 9


def concrete_path(route: Route) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.template)


def send(http: httpx.Client, route: Route, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, object] | None = {"amount": 1} if route.has_body else None
    return http.request(route.method, concrete_path(route), json=body, headers=headers)


@pytest.mark.parametrize(
    "route", PAYMENTS_ROUTES, ids=lambda r: f"{r.method} {r.template}"
)
def test_a_payments_route_without_a_token_is_401(
    http: httpx.Client, route: Route
) -> None:
    assert send(http, route, {}).status_code == 401


@pytest.mark.parametrize(
    "route", PAYMENTS_ROUTES, ids=lambda r: f"{r.method} {r.template}"
)
def test_a_payments_route_refuses_the_other_role(
    http: httpx.Client, route: Route
) -> None:
    if route.access == options_pb2.CLIENT:
        token = register_freelancer_token(http)
    else:
        token = register_client_token(http)

    assert send(http, route, bearer(token)).status_code == 403
