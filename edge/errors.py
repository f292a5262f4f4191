"""How failures become HTTP responses: `{"statusCode", "errorMessage"}` JSON.

`common.errors.WorkUpError` and its subclasses carry the status; the handlers
here are registered once on the Starlette app and find them along the MRO.
Anything else is a bug and gets the opaque 500 body (the middleware logs it).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from common.errors import MethodNotAllowed, Unauthorized, WorkUpError, status_name

#: What the client sees for a bug; the traceback goes only to the log.
INTERNAL_ERROR_MESSAGE = "Internal server error"


class WrongMethod(MethodNotAllowed):
    """Raised when a path exists but not with this HTTP method.

    Carries the methods the path does accept, for the `Allow` header.
    """

    def __init__(self, method: str, allowed: tuple[str, ...]) -> None:
        super().__init__(
            f"Method {method} is not allowed here; use {', '.join(allowed)}"
        )
        self.allowed = allowed


class BadGateway(WorkUpError):
    """Raised when a service's Reply cannot be used (bad status or payload)."""

    status = 502


def error_body(status: int, message: str | None) -> dict[str, str | None]:
    """The JSON body of every error the edge produces itself (API.md 2.2)."""
    return {"statusCode": status_name(status), "errorMessage": message}


def error_response(
    status: int, message: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message), status_code=status, headers=headers
    )


def internal_error_response() -> JSONResponse:
    return error_response(500, INTERNAL_ERROR_MESSAGE)


def _headers_for(error: WorkUpError) -> dict[str, str] | None:
    if isinstance(error, WrongMethod):
        return {"Allow": ", ".join(error.allowed)}
    if isinstance(error, Unauthorized):
        # RFC 6750 section 3: a 401 names the scheme the client should use.
        return {"WWW-Authenticate": "Bearer"}
    return None


async def handle_workup_error(request: Request, error: Exception) -> Response:
    """Starlette handler for `WorkUpError`: its status, code and message."""
    if not isinstance(error, WorkUpError):  # pragma: no cover - registration bug
        raise error
    return error_response(error.status, error.message, _headers_for(error))


async def handle_http_exception(request: Request, error: Exception) -> Response:
    """Starlette handler for its own HTTPException (e.g. 405 on a probe)."""
    if not isinstance(error, HTTPException):  # pragma: no cover - registration bug
        raise error
    headers = dict(error.headers) if error.headers else None
    return error_response(error.status_code, error.detail, headers)
