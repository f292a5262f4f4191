"""Small helpers that drive the users API over HTTP for end-to-end tests."""

from __future__ import annotations

import uuid

import httpx

PASSWORD = "s3cret-pass"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_freelancer_token(http: httpx.Client) -> str:
    response = http.post(
        "/api/v1/users/freelancers/register",
        json={"email": new_email(), "password": PASSWORD, "fullName": "Ada L"},
    )
    response.raise_for_status()
    return str(response.json()["authToken"])


def register_client_token(http: httpx.Client) -> str:
    response = http.post(
        "/api/v1/users/clients/register",
        json={"email": new_email(), "password": PASSWORD, "clientName": "Acme"},
    )
    response.raise_for_status()
    return str(response.json()["authToken"])
