"""Settings of one service instance's runtime, read from the environment.

    WORKUP_ADMIN_TOKEN     bearer token of the admin port (required, unless
                           WORKUP_DEV_MODE=1 generates one and logs it once)
    WORKUP_MAX_THREADS     handler threads, and so the prefetch (default 8)
    WORKUP_ADMIN_HOST      address the admin port binds (default 127.0.0.1;
                           pods set 0.0.0.0)
    WORKUP_ADMIN_PORT      admin port (default 0: any free port, reported in
                           the instance registration)
    WORKUP_ADVERTISE_HOST  host a controller dials to reach this instance
                           (default: the bind address, or the host name when
                           binding every interface)
    WORKUP_INSTANCE_ID     this instance's id (default: random)

Where the broker and Redis are comes from common.config.Settings.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import uuid
from dataclasses import dataclass, field

from common.config import Settings, _env_int

logger = logging.getLogger(__name__)

#: Handler threads when WORKUP_MAX_THREADS is unset.
DEFAULT_MAX_THREADS = 8
#: Addresses that mean "every interface", so not one a controller can dial.
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "[::]", ""})


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    """What one service instance needs to consume its queue and serve admin."""

    service: str
    queue: str
    admin_token: str = field(repr=False)
    stack: Settings = field(default_factory=Settings)
    max_threads: int = DEFAULT_MAX_THREADS
    admin_host: str = "127.0.0.1"
    admin_port: int = 0
    advertise_host: str = ""
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        if self.max_threads < 1:
            raise ValueError(f"max_threads must be at least 1, not {self.max_threads}")
        if not 0 <= self.admin_port <= 65535:
            raise ValueError(f"admin_port {self.admin_port} is not a TCP port")
        if not self.admin_token:
            raise ValueError("The admin token must not be empty")

    @property
    def amqp_url(self) -> str:
        return self.stack.amqp_url

    @property
    def redis_url(self) -> str:
        return self.stack.redis_url

    @property
    def reachable_host(self) -> str:
        """The host a controller dials to reach this instance's admin port."""
        if self.advertise_host:
            return self.advertise_host
        if self.admin_host in _WILDCARD_HOSTS:
            return socket.gethostname()
        return self.admin_host

    @classmethod
    def from_env(
        cls, service: str, queue: str, stack: Settings | None = None
    ) -> RuntimeSettings:
        """Settings for `service` consuming `queue`, from WORKUP_* variables.

        Raises:
            ValueError: when WORKUP_ADMIN_TOKEN is missing outside dev mode,
                or a number is malformed.
        """
        return cls(
            service=service,
            queue=queue,
            admin_token=_admin_token(),
            stack=stack or Settings.from_env(),
            max_threads=_env_int("WORKUP_MAX_THREADS", DEFAULT_MAX_THREADS),
            admin_host=os.environ.get("WORKUP_ADMIN_HOST", "127.0.0.1"),
            admin_port=_env_int("WORKUP_ADMIN_PORT", 0),
            advertise_host=os.environ.get("WORKUP_ADVERTISE_HOST", ""),
            instance_id=os.environ.get("WORKUP_INSTANCE_ID") or uuid.uuid4().hex[:12],
        )


def _admin_token() -> str:
    token = os.environ.get("WORKUP_ADMIN_TOKEN", "")
    if token:
        return token
    if os.environ.get("WORKUP_DEV_MODE") != "1":
        raise ValueError("WORKUP_ADMIN_TOKEN is required (or set WORKUP_DEV_MODE=1)")
    token = secrets.token_urlsafe(24)
    logger.warning(
        "Dev mode: generated an admin token for this process.",
        extra={"admin_token": token},
    )
    return token
