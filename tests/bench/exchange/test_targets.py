"""The bench's pure arithmetic: percentiles, CPU shares and verdicts (no timing)."""

from __future__ import annotations

import math

import pytest

from bench.exchange.targets import (
    BUSY,
    MET,
    MISSED,
    SENDER,
    Percentiles,
    cpu_shares,
    verdict,
    within,
)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        ([], (math.nan, math.nan, math.nan, math.nan)),
        ([0.5], (500, 500, 500, 500)),
        ([i / 1000 for i in range(1, 101)], (50, 95, 99, 100)),
        ([i / 1000 for i in range(100, 0, -1)], (50, 95, 99, 100)),  # order does not matter
        ([0.001, math.nan, 0.002], (1, 2, 2, 2)),  # unknown values are left out
    ],
)
def test_percentiles_are_nearest_rank_in_ms(
    seconds: list[float], expected: tuple[float, float, float, float]
) -> None:
    found = Percentiles.of(seconds)
    values = (found.p50_ms, found.p95_ms, found.p99_ms, found.max_ms)
    for value, wanted in zip(values, expected, strict=True):
        assert (math.isnan(value) and math.isnan(wanted)) or value == pytest.approx(wanted)


@pytest.mark.parametrize(
    ("met", "other", "expected"),
    [
        (True, 0.02, MET),
        (False, 0.02, MISSED),
        (True, 0.10, MET),  # the limit itself is still quiet
        (True, 0.11, BUSY),
        (False, 0.50, BUSY),  # a busy machine gives no verdict either way
        (True, math.nan, BUSY),  # unknown load is not a quiet machine
        (False, None, MISSED),  # no phase to judge the load by
        (None, 0.5, ""),  # a figure without a target
    ],
)
def test_verdict_needs_a_quiet_machine(
    met: bool | None, other: float | None, expected: str
) -> None:
    assert verdict(met, other) == expected


@pytest.mark.parametrize(
    ("value", "reference", "ratio", "expected"),
    [
        (85.0, 100.0, 0.85, True),
        (84.9, 100.0, 0.85, False),
        (200.0, 100.0, 0.85, True),
        (math.nan, 100.0, 0.85, False),
        (100.0, math.nan, 0.85, False),
        (100.0, 0.0, 0.85, False),
    ],
)
def test_within(value: float, reference: float, ratio: float, expected: bool) -> None:
    assert within(value, reference, ratio) is expected


@pytest.mark.parametrize(
    ("cpu", "wall", "other"),
    [
        ({"machine": 3.0, "bench": 1.0, SENDER: 1.0, "postgres": 0.5}, 10.0, 0.05),
        ({"machine": 1.0, "bench": 1.2}, 2.0, 0.0),  # sampling skew never goes negative
        ({"machine": 4.0}, 2.0, 2.0),  # two cores of someone else's work
    ],
)
def test_other_is_the_machine_minus_ours(cpu: dict[str, float], wall: float, other: float) -> None:
    assert cpu_shares(cpu, wall)["other"] == pytest.approx(other)
