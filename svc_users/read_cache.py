"""Caches the users service's reads in Redis without ever serving stale data.

Every users read and write is about the caller's own account, so both are
keyed by the caller: a cached answer can never reach someone else. Each
account has a generation counter; a cached read is stored under the
generation it saw, and every successful write bumps the counter before it
returns. A read after a write therefore looks under a new key and misses,
and an answer computed from old data can only land under a key nobody asks
for again.

If Redis is down, reads go to the database and writes still succeed; an
entry written before a failed bump could then be served until it expires,
which is why entries live only `ENTRY_TTL_S` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import redis
from google.protobuf.message import DecodeError, Message

from common.runtime.context import CommandContext, Handler

logger = logging.getLogger(__name__)

#: Seconds a cached answer lives at most (bounds staleness if a bump failed).
ENTRY_TTL_S = 60
#: Seconds an account's generation counter outlives its last write.
GENERATION_TTL_S = 24 * 60 * 60
#: Prefixes of the users commands that only read.
READ_PREFIXES = ("Get", "ClientGet", "FreelancerGet")
#: Commands that neither read nor change one account's cached data.
UNCACHED = frozenset({"Login", "ClientRegister", "FreelancerRegister", "Ping"})


class RedisReadCache:
    def __init__(self, client: redis.Redis, *, prefix: str = "users-cache") -> None:
        self._client = client
        self._prefix = prefix

    def wrap(
        self,
        handlers: Mapping[str, Handler],
        response_types: Mapping[str, type[Message]],
    ) -> dict[str, Handler]:
        """The same handlers, reads served from the cache, writes bumping it."""
        wrapped: dict[str, Handler] = {}
        for name, handler in handlers.items():
            if name in UNCACHED:
                wrapped[name] = handler
            elif name.startswith(READ_PREFIXES):
                wrapped[name] = self._cached_read(name, handler, response_types[name])
            else:
                wrapped[name] = self._invalidating_write(handler)
        return wrapped

    def _cached_read(
        self, name: str, handler: Handler, response_type: type[Message]
    ) -> Handler:
        def read(context: CommandContext, request: Any) -> Message:
            key = self._entry_key(name, _owner(context, request), request)
            cached = self._get(key) if key else None
            if cached is not None:
                try:
                    return response_type.FromString(cached)
                except DecodeError:
                    logger.warning("Ignored an unreadable cache entry.")
            response = handler(context, request)
            if key:
                self._set(key, response.SerializeToString())
            return response

        return read

    def _invalidating_write(self, handler: Handler) -> Handler:
        def write(context: CommandContext, request: Any) -> Message:
            response = handler(context, request)
            owner = _owner(context, request)
            if owner:
                self._bump(owner)
            return response

        return write

    def _generation_key(self, owner: str) -> str:
        return f"{self._prefix}:gen:{owner}"

    def _entry_key(self, name: str, owner: str, request: Message) -> str | None:
        if not owner:
            return None
        try:
            generation = int(self._client.get(self._generation_key(owner)) or 0)
        except redis.RedisError:
            return None
        digest = request.SerializeToString(deterministic=True).hex()
        return f"{self._prefix}:{owner}:{generation}:{name}:{digest}"

    def _get(self, key: str) -> bytes | None:
        try:
            value = self._client.get(key)
        except redis.RedisError:
            return None
        return value if isinstance(value, bytes) else None

    def _set(self, key: str, value: bytes) -> None:
        try:
            self._client.set(key, value, ex=ENTRY_TTL_S)
        except redis.RedisError:
            logger.warning("Could not cache a read.", extra={"cache_key": key})

    def _bump(self, owner: str) -> None:
        key = self._generation_key(owner)
        try:
            pipeline = self._client.pipeline()
            pipeline.incr(key)
            pipeline.expire(key, GENERATION_TTL_S)
            pipeline.execute()
        except redis.RedisError:
            logger.error(
                "Could not invalidate cached reads after a write.",
                extra={"owner": owner},
            )


def _owner(context: CommandContext, request: Any) -> str:
    owner = getattr(request, "user_id", "") or context.caller_id
    return str(owner)
