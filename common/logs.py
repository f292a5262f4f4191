"""JSON logs, one line per record, carrying the request id of the work in hand.

Each `main()` calls `configure_logging(service)` once; library modules only
call `logging.getLogger(__name__)`. The request id lives in a contextvar:
the edge sets it per HTTP request, the runtime per message, and every record
logged meanwhile carries it, so one request can be followed across processes.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default=""
)

#: Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object with the fields operators grep for."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        self.pod = os.environ.get("HOSTNAME") or socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
            "pod": self.pod,
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str | None = None) -> None:
    """Sends every log record of this process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("WORKUP_LOG_LEVEL", "INFO"))
    # pika logs every connection step at INFO; only its problems matter here.
    logging.getLogger("pika").setLevel(logging.WARNING)


@contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Tags every record logged inside the block with this request id."""
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)
