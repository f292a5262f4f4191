"""Registration and login over HTTP, through the edge, the broker and FerretDB."""

from __future__ import annotations

import base64
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from jose import jwt

from tests.e2e.platform import Platform

pytestmark = pytest.mark.integration


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def register_client(http: httpx.Client, email: str, password: str = "s3cret-pass"):
    return http.post(
        "/api/v1/users/clients/register",
        json={"email": email, "password": password, "clientName": "Acme"},
    )


def register_freelancer(http: httpx.Client, email: str, password: str = "s3cret-pass"):
    return http.post(
        "/api/v1/users/freelancers/register",
        json={
            "email": email,
            "password": password,
            "fullName": "Grace Hopper",
            "birthDate": "1990-05-17",
        },
    )


def claims(platform: Platform, token: str) -> dict[str, object]:
    key = base64.b64decode(platform.env["WORKUP_JWT_SECRET"])
    return dict(jwt.decode(token, key, algorithms=["HS256"]))


def test_the_welcome_route_answers_plain_text(http: httpx.Client) -> None:
    response = http.get("/")

    assert response.status_code == 200
    assert response.text == "Welcome to WorkUp!"


def test_a_client_registers_and_logs_in(http: httpx.Client, platform: Platform) -> None:
    email = new_email()

    registered = register_client(http, email)
    logged_in = http.post(
        "/api/v1/users/login", json={"email": email, "password": "s3cret-pass"}
    )

    assert registered.status_code == 200, registered.text
    assert set(registered.json()) == {"authToken", "errorMessage"}
    assert logged_in.status_code == 200, logged_in.text
    token_claims = claims(platform, logged_in.json()["authToken"])
    assert token_claims["role"] == "CLIENT"
    assert token_claims["sub"] == email
    assert (
        token_claims["userId"]
        == claims(platform, registered.json()["authToken"])["userId"]
    )


def test_a_freelancer_registers_and_logs_in(
    http: httpx.Client, platform: Platform
) -> None:
    email = new_email()

    registered = register_freelancer(http, email)
    logged_in = http.post(
        "/api/v1/users/login", json={"email": email, "password": "s3cret-pass"}
    )

    assert registered.status_code == 200, registered.text
    assert logged_in.status_code == 200, logged_in.text
    assert claims(platform, logged_in.json()["authToken"])["role"] == "FREELANCER"


def test_a_wrong_password_is_refused(http: httpx.Client) -> None:
    email = new_email()
    register_client(http, email)

    response = http.post(
        "/api/v1/users/login", json={"email": email, "password": "wrong"}
    )

    assert response.status_code == 401
    assert response.json() == {
        "authToken": None,
        "errorMessage": "Invalid email or password",
    }


def test_the_configured_administrator_logs_in(
    http: httpx.Client, platform: Platform
) -> None:
    response = http.post(
        "/api/v1/users/login",
        json={
            "email": platform.env["WORKUP_ADMIN_EMAIL"],
            "password": platform.env["WORKUP_ADMIN_PASSWORD"],
        },
    )

    assert response.status_code == 200, response.text
    token_claims = claims(platform, response.json()["authToken"])
    assert token_claims["role"] == "ADMIN"
    assert token_claims["userId"] == "admin"


def test_an_email_is_unique_across_clients_and_freelancers(http: httpx.Client) -> None:
    email = new_email()
    assert register_client(http, email).status_code == 200

    as_client_again = register_client(http, email)
    as_freelancer = register_freelancer(http, email)

    assert as_client_again.status_code == 400
    assert as_client_again.json()["errorMessage"] == "User already registered as client"
    assert as_freelancer.status_code == 400
    assert as_freelancer.json()["errorMessage"] == "User already registered as client"


def test_two_registrations_of_one_email_at_once_give_one_account(
    http: httpx.Client,
) -> None:
    email = new_email()

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(
            pool.map(
                lambda register: register(http, email),
                [register_client, register_freelancer],
            )
        )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 400]


def test_missing_fields_get_a_400_naming_them(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/users/clients/register", json={"email": new_email(), "password": "x"}
    )

    assert response.status_code == 400
    assert "clientName" in response.json()["errorMessage"]


def test_logins_are_rate_limited_per_email(http: httpx.Client) -> None:
    email = new_email()
    register_client(http, email)

    statuses = [
        http.post(
            "/api/v1/users/login", json={"email": email, "password": "wrong"}
        ).status_code
        for _ in range(12)
    ]

    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


def test_a_retried_registration_with_one_idempotency_key_makes_one_account(
    http: httpx.Client, platform: Platform
) -> None:
    email = new_email()
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"email": email, "password": "s3cret-pass", "clientName": "Acme"}

    first = http.post("/api/v1/users/clients/register", json=body, headers=headers)
    retry = http.post("/api/v1/users/clients/register", json=body, headers=headers)

    assert first.status_code == retry.status_code == 200
    first_id = claims(platform, first.json()["authToken"])["userId"]
    assert claims(platform, retry.json()["authToken"])["userId"] == first_id


def test_an_email_need_not_look_like_an_email(http: httpx.Client) -> None:
    # The reference load test registers random strings as emails (API.md 12).
    email = uuid.uuid4().hex[:15]

    registered = register_client(http, email)
    logged_in = http.post(
        "/api/v1/users/login", json={"email": email, "password": "s3cret-pass"}
    )

    assert registered.status_code == 200, registered.text
    assert logged_in.status_code == 200
