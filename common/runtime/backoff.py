"""Capped exponential backoff that logs an outage once, not once per retry.

A dependency that is down for ten minutes should leave two log records (it
went away, it came back), not one per reconnect attempt.
"""

from __future__ import annotations

import logging


class Backoff:
    """Delays between retries, and the outage they belong to.

    Call `failed(error)` after each failed attempt and wait the delay it
    returns; call `recovered()` after a success.
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        initial_s: float,
        max_s: float,
        level: int = logging.CRITICAL,
    ) -> None:
        self._logger = logger
        self._what = what
        self._initial_s = initial_s
        self._max_s = max_s
        self._level = level
        self._delay_s = initial_s
        self._in_outage = False

    @property
    def in_outage(self) -> bool:
        return self._in_outage

    def failed(self, error: BaseException) -> float:
        """Seconds to wait before the next attempt; logs a new outage."""
        if self._in_outage:
            self._logger.debug("%s is still unreachable: %r", self._what, error)
        else:
            self._in_outage = True
            self._logger.log(
                self._level,
                "Lost %s; retrying with backoff.",
                self._what,
                extra={"error": repr(error)},
            )
        delay = self._delay_s
        self._delay_s = min(self._delay_s * 2, self._max_s)
        return delay

    def recovered(self) -> None:
        """Resets the delay; logs the end of an outage."""
        self._delay_s = self._initial_s
        if self._in_outage:
            self._in_outage = False
            self._logger.info("Reached %s again.", self._what)
