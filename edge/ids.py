"""The ids a request carries into its Envelope: request id and idempotency key.

A client may choose either through a header (`X-Request-Id`,
`Idempotency-Key`); the edge takes it only when it is short and plain, so it
cannot break a log line, a header or a database key.
"""

from __future__ import annotations

import re
import uuid

from common.errors import BadRequest

#: What a client-chosen id may look like.
_CLIENT_ID_TEXT = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
#: Methods whose calls change nothing, so need no idempotency key.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def idempotency_key(method: str, header: str | None) -> str:
    """The client's `Idempotency-Key`, or a fresh one for a write.

    Raises:
        BadRequest: the header is not 1 to 128 letters, digits or `._:-`.
    """
    if header is not None:
        if not _CLIENT_ID_TEXT.fullmatch(header):
            raise BadRequest(
                "Idempotency-Key must be 1 to 128 letters, digits or '._:-'"
            )
        return header
    return "" if method in _SAFE_METHODS else uuid.uuid4().hex


def request_id(header: str | None) -> str:
    """The client's `X-Request-Id` when it is plain, otherwise a fresh one."""
    if header is not None and _CLIENT_ID_TEXT.fullmatch(header):
        return header
    return uuid.uuid4().hex
