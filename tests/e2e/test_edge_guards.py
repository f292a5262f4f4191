"""Bad tokens and bad input against the running edge: a clear 4xx, then service
as usual."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from jose import jwt

from tests.e2e.platform import Platform

pytestmark = pytest.mark.integration

PROTECTED = "/api/v1/jobs/me"


def token(platform: Platform, *, key: bytes | None = None, **overrides: object) -> str:
    now = int(time.time())
    claims = {"sub": "a@b.c", "userId": "u1", "role": "CLIENT", "iat": now}
    claims["exp"] = now + 1800
    claims.update(overrides)
    secret = key or base64.b64decode(platform.env["WORKUP_JWT_SECRET"])
    return str(jwt.encode(claims, secret, algorithm="HS256"))


def unsigned_token() -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(b'{"alg":"none","typ":"JWT"}')
    body = part(b'{"sub":"a@b.c","userId":"u1","role":"ADMIN","exp":9999999999}')
    return f"{header}.{body}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda p: token(p)[:-3] + "abc", id="tampered"),
        pytest.param(lambda p: token(p, exp=int(time.time()) - 5), id="expired"),
        pytest.param(lambda p: token(p, key=b"k" * 32), id="foreign-key"),
        pytest.param(lambda p: unsigned_token(), id="alg-none"),
    ],
)
def test_a_bad_token_gets_401_even_on_a_public_route(
    http: httpx.Client, platform: Platform, make_token
) -> None:
    headers = {"Authorization": f"Bearer {make_token(platform)}"}

    protected = http.get(PROTECTED, headers=headers)
    public = http.post(
        "/api/v1/users/login", json={"email": "x@y.z", "password": "p"}, headers=headers
    )

    assert protected.status_code == 401
    assert public.status_code == 401


def test_a_valid_token_with_the_wrong_role_gets_403(
    http: httpx.Client, platform: Platform
) -> None:
    headers = {"Authorization": f"Bearer {token(platform, role='FREELANCER')}"}

    response = http.post("/api/v1/jobs", json={"title": "t"}, headers=headers)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        pytest.param(b"{not json", "application/json", 400, id="malformed-json"),
        pytest.param(b"[1, 2]", "application/json", 400, id="not-an-object"),
        pytest.param(b'{"email": 5}', "application/json", 400, id="wrong-type"),
        pytest.param(b"email=a", "application/x-www-form-urlencoded", 415, id="form"),
        pytest.param(b"", "application/json", 400, id="missing-body"),
        pytest.param(b"{" + b" " * 2_000_000 + b"}", "application/json", 413, id="big"),
    ],
)
def test_bad_input_gets_a_4xx_with_a_message_and_the_edge_keeps_serving(
    http: httpx.Client, content: bytes, content_type: str, status: int
) -> None:
    response = http.post(
        "/api/v1/users/login", content=content, headers={"Content-Type": content_type}
    )
    follow_up = http.get("/api/v1/ping", params={"echo": "still here"})

    assert response.status_code == status
    assert response.json()["errorMessage"]
    assert follow_up.status_code == 200
    assert follow_up.json()["echo"] == "still here"


def test_an_unknown_enum_name_is_a_400_naming_the_field(
    http: httpx.Client, platform: Platform
) -> None:
    headers = {"Authorization": f"Bearer {token(platform)}"}

    response = http.post(
        "/api/v1/jobs", json={"title": "t", "experience": "GURU"}, headers=headers
    )

    assert response.status_code == 400
    assert "experience" in response.json()["errorMessage"]
