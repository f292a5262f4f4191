"""At most one effect per idempotency key: a duplicate gets the recorded reply.

Delivery is at-least-once, and clients retry, so the same write can reach
the service twice. An envelope that carries an `idempotency_key` runs
through `IdempotencyGuard.run`:

1. If `idem:<service>:<key>` holds a recorded Reply, that Reply is the
   answer and the handler does not run.
2. Otherwise the delivery takes a short claim (`...:claim`, SET NX with a
   TTL) and runs the handler; a Reply with a status below 500 is recorded
   for `RECORD_TTL_S`. Failures of the runtime or a dependency (5xx) are
   not recorded, so a retry may succeed.
3. A second delivery that finds the claim taken waits, bounded, for the
   first one's Reply instead of running the handler beside it.
4. A redelivered message takes the claim over: the broker redelivers only
   once the first holder's channel is gone, so that holder is dead and its
   claim would otherwise block the key until it expires.

Handlers must still make their own writes idempotent, by deriving the ids
they create from the request (its idempotency key or request id) rather
than drawing random ones: if the process dies after the write and before
the record, the record is lost and the redelivered message runs again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from common.errors import Unavailable
from workup_pb.envelope_pb2 import Reply

logger = logging.getLogger(__name__)

#: Seconds a recorded reply is kept (24 h): longer than any client retries.
RECORD_TTL_S = 24 * 60 * 60
#: Seconds a claim lives; longer than a handler may run, short enough that a
#: crashed delivery's claim does not block the key for long.
CLAIM_TTL_S = 60
#: Seconds a duplicate waits for the first delivery's reply at most.
DUPLICATE_WAIT_S = 30.0
#: Seconds between two looks at the record while waiting.
POLL_INTERVAL_S = 0.05

# Deletes the claim only if it is still ours: after CLAIM_TTL_S another
# delivery may hold it.
_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class IdempotencyGuard:
    """Records replies per idempotency key in Redis, for one service."""

    def __init__(self, client: redis.Redis, service: str) -> None:
        self._client = client
        self._service = service
        self._release = client.register_script(_RELEASE_SCRIPT)

    def record_key(self, idempotency_key: str) -> str:
        return f"idem:{self._service}:{idempotency_key}"

    def run(
        self,
        idempotency_key: str,
        execute: Callable[[], Reply],
        wait_s: float = DUPLICATE_WAIT_S,
        *,
        redelivered: bool = False,
    ) -> Reply:
        """The recorded Reply for this key, or the one `execute` makes.

        Raises:
            Unavailable: when Redis cannot be reached, or the first delivery
                of this key is still running after `wait_s` (at most
                DUPLICATE_WAIT_S).
        """
        key = self.record_key(idempotency_key)
        give_up_at = time.monotonic() + min(wait_s, DUPLICATE_WAIT_S)
        while True:
            with _redis_errors():
                recorded = self._recorded(key)
                if recorded is not None:
                    return recorded
                token = uuid.uuid4().hex
                claimed = self._client.set(
                    _claim_key(key), token, nx=not redelivered, ex=CLAIM_TTL_S
                )
                if claimed:
                    break
            if time.monotonic() >= give_up_at:
                raise Unavailable("The same request is still being processed.")
            time.sleep(POLL_INTERVAL_S)
        return self._run_claimed(key, token, execute)

    def _run_claimed(self, key: str, token: str, execute: Callable[[], Reply]) -> Reply:
        try:
            # The first delivery may have recorded and released in between
            # our look and our claim.
            with _redis_errors():
                recorded = self._recorded(key)
            if recorded is not None:
                return recorded
            reply = execute()
            if reply.status < 500:
                self._record(key, reply)
            return reply
        finally:
            self._release_claim(key, token)

    def _recorded(self, key: str) -> Reply | None:
        raw = self._client.get(key)
        if raw is None:
            return None
        if not isinstance(raw, bytes):
            raise TypeError("The guard needs a Redis client that returns bytes.")
        return Reply.FromString(raw)

    def _record(self, key: str, reply: Reply) -> None:
        try:
            self._client.set(key, reply.SerializeToString(), ex=RECORD_TTL_S)
        except redis.RedisError:
            # The caller still gets its reply; only a duplicate would rerun.
            logger.exception("Could not record a reply.", extra={"record": key})

    def _release_claim(self, key: str, token: str) -> None:
        try:
            self._release(keys=[_claim_key(key)], args=[token])
        except redis.RedisError:
            logger.warning("Could not release a claim.", extra={"record": key})


def _claim_key(record_key: str) -> str:
    return f"{record_key}:claim"


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as error:
        raise Unavailable("The idempotency store is unavailable.") from error
