"""Per-peer request rate limits: a token bucket per peer, in process memory.

In memory on purpose: a limit exists to shed load cheaply before any database work, and
several replicas each limiting to the configured rate is an acceptable over-allowance.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` requests per second on average, bursts of up to `burst`."""

    def __init__(
        self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._monotonic = monotonic
        self._updated = monotonic()

    def try_take(self) -> float:
        """0 if a request may go now, else the seconds until one may."""
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate
