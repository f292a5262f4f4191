"""Reading a request body safely: size limit, content type, then JSON.

The size limit is checked twice: on `Content-Length` before reading, and on
the bytes actually received, so a client that sends no length, or lies about
it, still cannot make the edge hold more than the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request

from common.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from edge.codec import decode_json_object

JSON_MEDIA_TYPE = "application/json"


async def read_json_object(request: Request, max_bytes: int) -> dict[str, object]:
    """The request's JSON object body, which a `body: "*"` route requires.

    Raises:
        PayloadTooLarge: the body is, or says it is, over `max_bytes`.
        UnsupportedMediaType: a body comes without `Content-Type: application/json`.
        BadRequest: no body, or a body that is not a JSON object.
    """
    _check_declared_length(request.headers, max_bytes)
    if _announces_body(request.headers):
        _check_content_type(request.headers)
    raw = await _read_capped(request, max_bytes)
    if not raw.strip():
        raise BadRequest("Request body is required: send a JSON object, e.g. {}")
    return decode_json_object(raw)


def _check_declared_length(headers: Headers, max_bytes: int) -> None:
    declared = headers.get("content-length")
    if declared is None:
        return
    if not declared.isdigit():
        raise BadRequest(f"Content-Length must be a number of bytes, not {declared!r}")
    if int(declared) > max_bytes:
        raise PayloadTooLarge(_too_large(max_bytes))


def _announces_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    chunked = "transfer-encoding" in headers
    return chunked or (length is not None and int(length) > 0)


def _check_content_type(headers: Headers) -> None:
    content_type = headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        shown = repr(content_type) if content_type else "none"
        raise UnsupportedMediaType(
            f"Content-Type must be {JSON_MEDIA_TYPE}, got {shown}"
        )


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(_too_large(max_bytes))
            chunks.append(chunk)
    except ClientDisconnect:
        # Nobody is left to read the answer; this only ends the request.
        raise BadRequest("Client disconnected before sending the whole body") from None
    return b"".join(chunks)


def _too_large(max_bytes: int) -> str:
    return f"Request body is larger than the limit of {max_bytes} bytes"
