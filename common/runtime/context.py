"""What a handler receives besides its request: the caller, the deadline, a way out.

A handler is a plain function `handle(context, request) -> response`. The
runtime decodes the request into the command's request type before calling
it, builds the context from the envelope, and turns whatever the handler
returns or raises into a Reply.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message

ResponseT = TypeVar("ResponseT", bound=Message)

#: The shape the registry stores. The request is typed `Any` because the
#: registry has already decoded it into the command's own request class;
#: `CommandRegistry.register` ties the two together for the type checker.
Handler = Callable[["CommandContext", Any], Message]


class CallHook(Protocol):
    """Sends a command to another service and waits for its response.

    The service wires in an adapter over the bus RPC client. The adapter
    should carry `context.request_id` and `context.deadline_unix_ms` along,
    so one request can be followed, and timed out, across services.

    Raises:
        WorkUpError: the error the other service replied with, rebuilt by
            status; `DeadlineExceeded` or `Unavailable` when no reply came.
    """

    def __call__(
        self,
        command: str,
        request: Message,
        response_type: type[ResponseT],
        context: CommandContext,
    ) -> ResponseT: ...


@dataclass(frozen=True)
class CommandContext:
    """Everything about one delivery of a command that is not its payload."""

    command: str
    request_id: str
    caller_id: str = ""
    #: "CLIENT", "FREELANCER" or "ADMIN"; empty without a token.
    caller_role: str = ""
    #: Empty for reads; the key the runtime recorded the reply under.
    idempotency_key: str = ""
    #: Unix time in milliseconds after which nobody waits for the reply;
    #: 0 means the caller set no deadline.
    deadline_unix_ms: int = 0
    #: 1 on the first delivery, then one more per redelivery.
    attempt: int = 1
    trace_id: str = ""
    #: Cross-service calls; None where the service wired none (tests).
    call: CallHook | None = None

    def remaining_s(self) -> float | None:
        """Seconds left before the deadline (never negative), or None."""
        return seconds_until(self.deadline_unix_ms)

    @property
    def expired(self) -> bool:
        return deadline_passed(self.deadline_unix_ms)


def seconds_until(deadline_unix_ms: int) -> float | None:
    """Seconds left before a deadline in unix ms (never negative); None if 0."""
    if not deadline_unix_ms:
        return None
    return max(0.0, deadline_unix_ms / 1000 - time.time())


def deadline_passed(deadline_unix_ms: int) -> bool:
    """Whether a deadline in unix milliseconds (0 = none) is behind us."""
    return bool(deadline_unix_ms) and deadline_unix_ms <= time.time() * 1000
