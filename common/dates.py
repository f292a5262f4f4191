"""Dates in requests, as API.md section 2.3 accepts them."""

from __future__ import annotations

import datetime as dt

from common.errors import BadRequest


def parse_date(value: str, field: str) -> dt.datetime:
    """Parses `yyyy-MM-dd` (midnight UTC), ISO-8601, or epoch milliseconds.

    Raises:
        BadRequest: the text is none of those; the message names the field.
    """
    text = value.strip()
    if text.lstrip("-").isdigit():
        try:
            return dt.datetime.fromtimestamp(int(text) / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise BadRequest(f"{field} is out of range: {value!r}") from None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{field} must be a date (yyyy-MM-dd), an ISO-8601 time or epoch "
            f"milliseconds, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)
