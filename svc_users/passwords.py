"""Password hashing with argon2id at OWASP's minimum cost or above."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: OWASP's argon2id floor: 19 MiB of memory, 2 passes, one lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

#: Checked when the email is unknown, so a miss costs as much as a wrong
#: password and the response time does not tell which emails exist.
_DECOY_HASH = _HASHER.hash("decoy password that no account has")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; always does the full amount of work."""
    try:
        return _HASHER.verify(password_hash or _DECOY_HASH, password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False
