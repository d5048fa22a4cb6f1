"""Per-peer rate limits: token buckets per peer, in process memory.

In memory on purpose: a limit exists to shed load cheaply before any database work, and
several replicas each limiting to the configured rate is an acceptable over-allowance.

A peer has two buckets: one counted in requests, one in envelopes. Envelopes are what cost a
receiver (a signature check, a decryption and a signed receipt each), and one request may
carry up to `limits.max_envelopes_per_batch` of them, so a request limit alone lets a peer's
cost vary a hundredfold.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` tokens per second on average, bursts of up to `burst`."""

    def __init__(
        self, rate: float, burst: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._monotonic = monotonic
        self._updated = monotonic()

    def wait_for(self, count: int = 1) -> float:
        """0 if `count` tokens are there now, else the seconds until they will be; takes none."""
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= count:
            return 0.0
        return (count - self._tokens) / self._rate

    def try_take(self, count: int = 1) -> float:
        """Take `count` tokens and return 0, or take none and return the seconds to wait."""
        wait = self.wait_for(count)
        if not wait:
            self._tokens -= count
        return wait
