"""The errors every WorkUp process raises and every reply carries.

    WorkUpError                  500 INTERNAL_SERVER_ERROR
     ├── BadRequest              400 BAD_REQUEST
     ├── Unauthorized            401 UNAUTHORIZED
     ├── Forbidden               403 FORBIDDEN
     ├── NotFound                404 NOT_FOUND
     ├── MethodNotAllowed        405 METHOD_NOT_ALLOWED
     ├── PayloadTooLarge         413 REQUEST_TOO_LONG
     ├── UnsupportedMediaType    415 UNSUPPORTED_MEDIA_TYPE
     ├── TooManyRequests         429 TOO_MANY_REQUESTS
     ├── CommandNotImplemented   501 NOT_IMPLEMENTED
     ├── Unavailable             503 SERVICE_UNAVAILABLE
     └── DeadlineExceeded        504 GATEWAY_TIMEOUT

A handler raises one of these; the runtime turns it into a Reply (status,
code, message); the edge renders that as `{"statusCode", "errorMessage"}`.
Anything else a handler raises is a bug: the caller sees a bare 500 and the
traceback goes to the log. Adapters translate driver exceptions into
`Unavailable` with `raise ... from error`.
"""

from __future__ import annotations

from typing import ClassVar

#: The constant name API.md uses for each HTTP status, as `statusCode`.
STATUS_NAMES: dict[int, str] = {
    200: "OK",
    201: "CREATED",
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "REQUEST_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def status_name(status: int) -> str:
    """`statusCode` text for an HTTP status, e.g. 404 -> "NOT_FOUND"."""
    return STATUS_NAMES.get(status, str(status))


class WorkUpError(Exception):
    """Raised for a failure a caller should see as an HTTP status and message.

    `message` may be None: several API.md errors have a null errorMessage.
    """

    status: ClassVar[int] = 500

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return status_name(self.status)


class BadRequest(WorkUpError):
    """Raised when the input is malformed or breaks a business rule."""

    status = 400


class Unauthorized(WorkUpError):
    """Raised when there is no valid token, or a rule says 401 (API.md)."""

    status = 401


class Forbidden(WorkUpError):
    """Raised when the caller is known but may not touch this object."""

    status = 403


class NotFound(WorkUpError):
    """Raised when the object asked for does not exist (for this caller)."""

    status = 404


class MethodNotAllowed(WorkUpError):
    """Raised when a path exists but not with this HTTP method."""

    status = 405


class PayloadTooLarge(WorkUpError):
    """Raised when a request body is over the edge's size limit."""

    status = 413


class UnsupportedMediaType(WorkUpError):
    """Raised when a body is not in a content type the route accepts."""

    status = 415


class TooManyRequests(WorkUpError):
    """Raised when a caller is over a rate limit (for example logins)."""

    status = 429


class CommandNotImplemented(WorkUpError):
    """Raised when a command was removed at run time (API.md 2.2: 501)."""

    status = 501

    def __init__(self, message: str | None = "Not Implemented.") -> None:
        super().__init__(message)


class Unavailable(WorkUpError):
    """Raised when the broker, a database or the command's service is gone.

    Retryable: the same call may succeed once the dependency is back.
    """

    status = 503


class DeadlineExceeded(WorkUpError):
    """Raised when no reply came before the call's deadline."""

    status = 504


_BY_STATUS: dict[int, type[WorkUpError]] = {
    error.status: error
    for error in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        PayloadTooLarge,
        UnsupportedMediaType,
        TooManyRequests,
        CommandNotImplemented,
        Unavailable,
        DeadlineExceeded,
    )
}


def error_for_status(status: int, message: str | None) -> WorkUpError:
    """Rebuilds the error a remote service replied with (allow-list by status)."""
    error_class = _BY_STATUS.get(status, WorkUpError)
    return error_class(message)
