"""Makes a live instance findable: a Redis hash per instance, kept by a heartbeat.

    instances:<service>:<instance_id>  ->  {service, instance_id, host,
                                            admin_port, pid, started_at}

The key expires `INSTANCE_TTL_S` after the last heartbeat, so an instance
that dies without a goodbye disappears on its own; a graceful stop deletes
it at once. A controller finds every live instance of a service with
`live_instances` (SCAN over the service's prefix).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import redis
from redis.typing import EncodableT, FieldT

from common.runtime.backoff import Backoff

logger = logging.getLogger(__name__)

#: Seconds an instance stays listed without a heartbeat.
INSTANCE_TTL_S = 15
#: Seconds between two heartbeats; well under the TTL so one lost beat is fine.
HEARTBEAT_INTERVAL_S = 5.0


@dataclass(frozen=True)
class InstanceInfo:
    """Where a controller reaches one instance, and since when it runs."""

    service: str
    instance_id: str
    host: str
    admin_port: int
    pid: int
    #: Unix time in seconds.
    started_at: float


def instance_key(service: str, instance_id: str) -> str:
    return f"instances:{service}:{instance_id}"


def live_instances(client: redis.Redis, service: str) -> list[InstanceInfo]:
    """Every instance of `service` whose heartbeat is current."""
    found = []
    for key in client.scan_iter(match=instance_key(service, "*"), count=100):
        fields = client.hgetall(key)
        if fields:
            found.append(_info_from(fields))
    return sorted(found, key=lambda info: info.started_at)


class InstanceRegistration:
    """Keeps one instance's key alive from a heartbeat thread."""

    def __init__(
        self,
        client: redis.Redis,
        info: InstanceInfo,
        *,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        ttl_s: int = INSTANCE_TTL_S,
    ) -> None:
        self._client = client
        self._info = info
        self._interval_s = interval_s
        self._ttl_s = ttl_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(
            logger,
            "Redis (instance registration)",
            initial_s=interval_s,
            max_s=interval_s,
            level=logging.WARNING,
        )

    @property
    def key(self) -> str:
        return instance_key(self._info.service, self._info.instance_id)

    def start(self) -> None:
        """Writes the key now and keeps refreshing it until `stop`."""
        self._beat()
        self._thread = threading.Thread(
            target=self._run, name=f"workup-heartbeat-{self._info.service}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ends the heartbeat and removes the key."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._interval_s)
        try:
            self._client.delete(self.key)
        except redis.RedisError as error:
            logger.warning("Could not remove the instance key: %r", error)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            self._beat()

    def _beat(self) -> None:
        mapping: dict[FieldT, EncodableT] = {
            name: str(value) for name, value in asdict(self._info).items()
        }
        try:
            with self._client.pipeline() as pipeline:
                pipeline.hset(self.key, mapping=mapping)
                pipeline.expire(self.key, self._ttl_s)
                pipeline.execute()
        except redis.RedisError as error:
            self._backoff.failed(error)
        else:
            self._backoff.recovered()


def _info_from(fields: Mapping[bytes | str, bytes | str]) -> InstanceInfo:
    text = {_text(key): _text(value) for key, value in fields.items()}
    return InstanceInfo(
        service=text["service"],
        instance_id=text["instance_id"],
        host=text["host"],
        admin_port=int(text["admin_port"]),
        pid=int(text["pid"]),
        started_at=float(text["started_at"]),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
