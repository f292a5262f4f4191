"""JWTs: minted after login or register, checked on every request (API.md 3).

HS256 only, pinned on decode; `exp` and `iat` are required and a token lives
30 minutes. The key is the base64-decoded `WORKUP_JWT_SECRET`, as the
reference's `WEBSERVER_SECRET_KEY` was (API.md 1.1).
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from jose import jwk, jwt
from jose.exceptions import JOSEError

from common.errors import Forbidden, Unauthorized
from workup_pb import options_pb2

logger = logging.getLogger(__name__)

ALGORITHM = "HS256"
#: Seconds a token stays valid after it is minted.
TOKEN_LIFETIME_S = 30 * 60
#: Shortest accepted HS256 key, in bytes (RFC 7518 section 3.2: >= 256 bits).
MIN_KEY_BYTES = 32
#: Values of the `role` claim, which are UserType names.
ROLES = frozenset({"CLIENT", "FREELANCER", "ADMIN"})

#: API.md 3.2's message for any token that fails a check.
REJECTED_MESSAGE = "Invalid or expired token"

_DECODE_OPTIONS = {
    "verify_signature": True,
    "verify_exp": True,
    "verify_iat": True,
    "require_exp": True,
    "require_iat": True,
    "require_sub": True,
    "leeway": 0,
}

#: Which roles each access rule lets in; PUBLIC and INTERNAL are not here.
_ROLES_BY_ACCESS: dict[int, frozenset[str]] = {
    options_pb2.AUTHENTICATED: ROLES,
    options_pb2.CLIENT: frozenset({"CLIENT"}),
    options_pb2.FREELANCER: frozenset({"FREELANCER"}),
    options_pb2.ADMIN: frozenset({"ADMIN"}),
    options_pb2.CLIENT_OR_FREELANCER: frozenset({"CLIENT", "FREELANCER"}),
}


@dataclass(frozen=True)
class Identity:
    """The caller, as a valid token describes it."""

    user_id: str
    email: str
    role: str


def load_signing_key(secret: str | None, *, dev_mode: bool) -> bytes:
    """The HS256 key from the base64 text of `WORKUP_JWT_SECRET`.

    Without a secret, only development mode may go on, with a random key.

    Raises:
        ValueError: the secret is missing, not base64, or too short.
    """
    if not secret:
        if not dev_mode:
            raise ValueError("WORKUP_JWT_SECRET is required (base64 of the HS256 key)")
        logger.warning(
            "WORKUP_JWT_SECRET is not set; signing tokens with a random key because "
            "WORKUP_DEV_MODE=1. Tokens will not survive a restart."
        )
        return secrets.token_bytes(MIN_KEY_BYTES)
    return _decode_secret(secret)


def _decode_secret(secret: str) -> bytes:
    try:
        key = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("WORKUP_JWT_SECRET is not valid base64") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"WORKUP_JWT_SECRET decodes to {len(key)} bytes; HS256 needs at least "
            f"{MIN_KEY_BYTES}"
        )
    return key


class Authenticator:
    """Mints tokens and turns an `Authorization` header into an `Identity`.

    `clock` sets the issue time of minted tokens; jose checks expiry against
    the system clock.
    """

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        # A jose Key object, not raw bytes: jose tries to parse raw keys as
        # JSON (a JWK set) first, which a secret must never be mistaken for.
        self._key = jwk.construct(key, ALGORITHM)
        self._clock = clock

    def mint_token(self, user_id: str, email: str, role: str) -> str:
        """A fresh 30-minute token; `role` must be a UserType name."""
        if role not in ROLES:
            raise ValueError(f"Cannot mint a token for role {role!r}")
        issued_at = int(self._clock())
        claims = {
            "sub": email,
            "userId": user_id,
            "role": role,
            "iat": issued_at,
            "exp": issued_at + TOKEN_LIFETIME_S,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def identify(self, authorization: str | None) -> Identity | None:
        """The caller named by an `Authorization` header, None when anonymous.

        A header that is not a Bearer header means an anonymous caller; a
        Bearer header must carry a valid token, even on public routes.

        Raises:
            Unauthorized: Bearer without a token, or a token that fails any check.
        """
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        if not token:
            raise Unauthorized("Missing bearer token")
        return self.decode(token)

    def decode(self, token: str) -> Identity:
        """The identity in a token signed with our key.

        Raises:
            Unauthorized: bad signature, other algorithm, expired, or bad claims.
        """
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options=_DECODE_OPTIONS,
            )
        except (JOSEError, TypeError, ValueError):
            # jose lets a few malformed claims out as TypeError ("exp": null).
            raise Unauthorized(REJECTED_MESSAGE) from None
        return _identity(claims)


def _identity(claims: dict[str, object]) -> Identity:
    user_id, email, role = claims.get("userId"), claims.get("sub"), claims.get("role")
    if not isinstance(user_id, str) or not user_id:
        raise Unauthorized(REJECTED_MESSAGE)
    if not isinstance(email, str) or role not in ROLES:
        raise Unauthorized(REJECTED_MESSAGE)
    return Identity(user_id=user_id, email=email, role=str(role))


def authorize(access: int, identity: Identity | None) -> None:
    """Applies a route's access rule (API.md 3.3) to the caller.

    Raises:
        Unauthorized: no valid token on a route that needs one.
        Forbidden: a valid token whose role the route does not admit.
    """
    if access == options_pb2.PUBLIC:
        return
    allowed = _ROLES_BY_ACCESS.get(access)
    if allowed is None:
        raise Forbidden("This route is not open to callers over HTTP")
    if identity is None:
        raise Unauthorized("Authentication required: send a Bearer token")
    if identity.role not in allowed:
        raise Forbidden(f"This route is for {' or '.join(sorted(allowed))} users")
