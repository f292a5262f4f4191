"""Limits login attempts per email, so passwords cannot be guessed at speed."""

from __future__ import annotations

import hashlib

import redis

from common.errors import TooManyRequests, Unavailable

#: Failed and successful attempts allowed per email in one window.
MAX_ATTEMPTS_PER_WINDOW = 10
#: Length of the counting window, in seconds.
WINDOW_S = 60


class RedisLoginLimiter:
    """Counts attempts per email in Redis, in fixed windows shared by all instances."""

    def __init__(self, client: redis.Redis, *, prefix: str = "login-attempts") -> None:
        self._client = client
        self._prefix = prefix

    def check(self, email: str) -> None:
        """Counts one attempt.

        Raises:
            TooManyRequests: the email used up its attempts for this window.
            Unavailable: Redis is gone (a login is refused rather than unlimited).
        """
        # Hashed so the cache never holds email addresses in the clear.
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        key = f"{self._prefix}:{digest}"
        try:
            pipeline = self._client.pipeline()
            pipeline.incr(key)
            pipeline.expire(key, WINDOW_S, nx=True)
            attempts = int(pipeline.execute()[0])
        except redis.RedisError as error:
            raise Unavailable("The login service is unavailable") from error
        if attempts > MAX_ATTEMPTS_PER_WINDOW:
            raise TooManyRequests("Too many login attempts; try again in a minute")
