"""JWT minting and checking, and the access rules of API.md 3.3."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest
from jose import jwt

from common.errors import Forbidden, Unauthorized
from edge.auth import (
    TOKEN_LIFETIME_S,
    Authenticator,
    Identity,
    authorize,
    load_signing_key,
)
from workup_pb import options_pb2

KEY = bytes(range(32))
NOW = int(time.time())


def authenticator(now: float = NOW, key: bytes = KEY) -> Authenticator:
    return Authenticator(key, clock=lambda: now)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, object]) -> str:
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


def valid_claims(now: int = NOW) -> dict[str, object]:
    return {
        "sub": "a@b.c",
        "userId": "u-1",
        "role": "CLIENT",
        "iat": now,
        "exp": now + 60,
    }


# --- the key -----------------------------------------------------------------


def test_the_key_is_the_base64_decoded_secret() -> None:
    secret = base64.b64encode(KEY).decode()

    assert load_signing_key(secret, dev_mode=False) == KEY


def test_a_hex_looking_secret_is_base64_decoded_as_is() -> None:
    # API.md 1.1: the reference's dev value is hex text read as base64.
    secret = "404E635266556A586E3272357538782F413F4428472B4B6250645367566B5970"

    assert load_signing_key(secret, dev_mode=False) == base64.b64decode(secret)


def test_a_missing_secret_stops_the_edge_outside_dev_mode() -> None:
    with pytest.raises(ValueError, match="WORKUP_JWT_SECRET is required"):
        load_signing_key(None, dev_mode=False)


def test_dev_mode_makes_a_random_key_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="edge.auth"):
        first = load_signing_key("", dev_mode=True)
    second = load_signing_key(None, dev_mode=True)

    assert len(first) == 32
    assert first != second
    assert "random key" in caplog.text


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("not base64!", "not valid base64"),
        (base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
    ],
)
def test_a_bad_secret_is_refused(secret: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        load_signing_key(secret, dev_mode=True)


# --- minting -----------------------------------------------------------------


def test_a_minted_token_carries_the_api_md_claims() -> None:
    token = authenticator().mint_token("u-1", "a@b.c", "FREELANCER")

    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {
        "sub": "a@b.c",
        "userId": "u-1",
        "role": "FREELANCER",
        "iat": NOW,
        "exp": NOW + 30 * 60,
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert TOKEN_LIFETIME_S == 1800


def test_a_token_for_an_unknown_role_is_not_minted() -> None:
    with pytest.raises(ValueError, match="USER_TYPE_UNSPECIFIED"):
        authenticator().mint_token("u-1", "a@b.c", "USER_TYPE_UNSPECIFIED")


def test_a_minted_token_reads_back_as_its_identity() -> None:
    auth = authenticator()
    token = auth.mint_token("admin", "admin.@workup.com", "ADMIN")

    identity = auth.identify(f"Bearer {token}")

    assert identity == Identity(
        user_id="admin", email="admin.@workup.com", role="ADMIN"
    )


def test_a_token_is_good_until_it_expires() -> None:
    # jose checks exp against the real clock, so issue times are taken now,
    # not at import: a long test run must not age the fresh token.
    now = int(time.time())
    fresh = authenticator(now=now - TOKEN_LIFETIME_S + 30)
    stale = authenticator(now=now - TOKEN_LIFETIME_S - 1)

    token = fresh.mint_token("u-1", "a@b.c", "CLIENT")
    assert authenticator().decode(token).user_id == "u-1"
    with pytest.raises(Unauthorized, match="Invalid or expired token"):
        authenticator().decode(stale.mint_token("u-1", "a@b.c", "CLIENT"))


# --- checking ----------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwdw==", "Token abc"])
def test_no_bearer_header_means_an_anonymous_caller(header: str | None) -> None:
    assert authenticator().identify(header) is None


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "bearer    "])
def test_bearer_without_a_token_is_a_401(header: str) -> None:
    with pytest.raises(Unauthorized, match="Missing bearer token"):
        authenticator().identify(header)


def test_the_scheme_is_case_insensitive() -> None:
    token = authenticator().mint_token("u-1", "a@b.c", "CLIENT")

    identity = authenticator().identify(f"bearer {token}")

    assert identity is not None
    assert identity.role == "CLIENT"


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["role"] = "ADMIN"
    return ".".join((header, b64url(json.dumps(claims).encode()), signature))


def _bad_tokens() -> dict[str, str]:
    good = authenticator().mint_token("u-1", "a@b.c", "CLIENT")
    return {
        "garbage": "not-a-jwt",
        "tampered": _tampered(good),
        "expired": authenticator(now=NOW - 3600).mint_token("u-1", "a@b.c", "CLIENT"),
        "alg-none": unsigned_token(valid_claims()),
        "foreign-key": authenticator(key=b"k" * 32).mint_token("u", "e", "CLIENT"),
        "hs512": jwt.encode(valid_claims(), KEY, algorithm="HS512"),
        "no-exp": jwt.encode({**valid_claims(), "exp": None}, KEY),
        "no-iat": jwt.encode(
            {k: v for k, v in valid_claims().items() if k != "iat"}, KEY
        ),
        "no-user-id": jwt.encode(
            {k: v for k, v in valid_claims().items() if k != "userId"}, KEY
        ),
        "bad-role": jwt.encode({**valid_claims(), "role": "ROOT"}, KEY),
        "numeric-user-id": jwt.encode({**valid_claims(), "userId": 7}, KEY),
    }


@pytest.mark.parametrize("kind", sorted(_bad_tokens()))
def test_a_token_that_fails_any_check_is_a_401(kind: str) -> None:
    token = _bad_tokens()[kind]

    with pytest.raises(Unauthorized) as caught:
        authenticator().identify(f"Bearer {token}")

    assert caught.value.message == "Invalid or expired token"


# --- access rules ------------------------------------------------------------

CLIENT = Identity("c-1", "c@x", "CLIENT")
FREELANCER = Identity("f-1", "f@x", "FREELANCER")
ADMIN = Identity("admin", "admin.@workup.com", "ADMIN")
A = options_pb2


@pytest.mark.parametrize(
    ("access", "identity"),
    [
        (A.PUBLIC, None),
        (A.PUBLIC, CLIENT),
        (A.AUTHENTICATED, CLIENT),
        (A.AUTHENTICATED, FREELANCER),
        (A.AUTHENTICATED, ADMIN),
        (A.CLIENT, CLIENT),
        (A.FREELANCER, FREELANCER),
        (A.ADMIN, ADMIN),
        (A.CLIENT_OR_FREELANCER, CLIENT),
        (A.CLIENT_OR_FREELANCER, FREELANCER),
    ],
)
def test_an_admitted_caller_passes(access: int, identity: Identity | None) -> None:
    authorize(access, identity)


@pytest.mark.parametrize(
    "access",
    [A.AUTHENTICATED, A.CLIENT, A.FREELANCER, A.ADMIN, A.CLIENT_OR_FREELANCER],
)
def test_an_anonymous_caller_on_a_protected_route_is_a_401(access: int) -> None:
    with pytest.raises(Unauthorized):
        authorize(access, None)


@pytest.mark.parametrize(
    ("access", "identity", "message"),
    [
        (A.CLIENT, FREELANCER, "This route is for CLIENT users"),
        (A.CLIENT, ADMIN, "This route is for CLIENT users"),
        (A.FREELANCER, CLIENT, "This route is for FREELANCER users"),
        (A.ADMIN, CLIENT, "This route is for ADMIN users"),
        (A.CLIENT_OR_FREELANCER, ADMIN, "This route is for CLIENT or FREELANCER"),
    ],
)
def test_the_wrong_role_is_a_403(access: int, identity: Identity, message: str) -> None:
    with pytest.raises(Forbidden, match=message):
        authorize(access, identity)


@pytest.mark.parametrize("access", [A.INTERNAL, A.ACCESS_UNSPECIFIED])
def test_internal_and_unspecified_rules_admit_nobody(access: int) -> None:
    with pytest.raises(Forbidden):
        authorize(access, ADMIN)
