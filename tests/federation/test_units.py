"""Pure pieces of the federation package: backoff schedule and rate limiting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.federation.posting import retry_after
from gateway.federation.ratelimit import TokenBucket
from gateway.federation.sender import RetryPolicy


def test_backoff_doubles_with_jitter_and_stops_at_the_cap() -> None:
    policy = RetryPolicy(initial_backoff=timedelta(seconds=1), max_backoff=timedelta(minutes=10))
    assert policy.backoff(1, rng=lambda: 0.0) == timedelta(seconds=0.5)
    assert policy.backoff(1, rng=lambda: 1.0) == timedelta(seconds=1)
    assert policy.backoff(4, rng=lambda: 1.0) == timedelta(seconds=8)
    assert policy.backoff(4, rng=lambda: 0.0) == timedelta(seconds=4)
    # Three days of failures still wait at most the cap, never less than half of it.
    for failures in (11, 50, 10_000):
        assert policy.backoff(failures, rng=lambda: 1.0) == timedelta(minutes=10)
        assert policy.backoff(failures, rng=lambda: 0.0) == timedelta(minutes=5)


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, monotonic=lambda: now[0])
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == 0.5
    now[0] += 0.5
    assert bucket.try_take() == 0.0
    assert bucket.try_take() == 0.5
    now[0] += 100
    assert [bucket.try_take() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_token_bucket_takes_several_tokens_or_none() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10.0, burst=100, monotonic=lambda: now[0])
    assert bucket.try_take(100) == 0.0
    assert bucket.wait_for(1) == 0.1
    now[0] += 5
    # 50 tokens there: a request for 80 waits for the other 30 and takes nothing meanwhile.
    assert bucket.try_take(80) == 3.0
    assert bucket.try_take(50) == 0.0
    assert bucket.wait_for() == 0.1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", timedelta(seconds=7)),
        ("0", timedelta(0)),
        ("86400", timedelta(hours=1)),
        ("9" * 4301, timedelta(hours=1)),
        ("²", None),
        ("٣", None),
        ("-1", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
    ],
)
def test_retry_after_is_read_as_bounded_ascii_seconds(
    header: str | None, expected: timedelta | None
) -> None:
    assert retry_after(header) == expected
