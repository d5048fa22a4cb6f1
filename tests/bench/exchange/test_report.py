"""The report's verdicts: each target row judged by the load of the phase it comes from."""

from __future__ import annotations

import math

import pytest

from bench.exchange.cluster import Machine
from bench.exchange.monitor import CpuUse
from bench.exchange.phases import Backlog, Throughput
from bench.exchange.report import Results, report, rows
from bench.exchange.targets import BUSY, MET, MISSED, RECEIVER, SENDER

MACHINE = Machine("test CPU", 2, 2, 1.0, "3.11", "Linux")


def throughput(rate: float, completed: bool = True) -> Throughput:
    return Throughput(1000, 1000, 0, 1.0, 1000 / rate, rate, 1.0, 1000.0, completed)


def backlog(name: str, seconds: float, rate: float, rss: int = 60_000_000) -> Backlog:
    return Backlog(
        name, 1000, 1000, 0, 1.0, 1.0, 1.0, 1000 / rate, seconds, rate, True,
        {SENDER: rss, RECEIVER: rss},
    )  # fmt: skip


def use(phase: str, other_seconds: float) -> CpuUse:
    """A 10 s phase in which other workloads used other_seconds of CPU."""
    return CpuUse(phase, 10.0, {"bench": 1.0, "machine": 1.0 + other_seconds})


def verdict_of(results: Results, measure: str) -> str:
    return next(row.verdict for row in rows(results) if row.measure.startswith(measure))


@pytest.mark.parametrize(
    ("rate", "completed", "other_seconds", "expected"),
    [
        (3100.0, True, 0.0, MET),
        (2900.0, True, 0.5, MISSED),
        (3100.0, True, 2.0, BUSY),  # 20 % of a core: repeat, whatever the figure
        (3100.0, False, 0.0, "incomplete"),
    ],
)
def test_throughput_verdict(
    rate: float, completed: bool, other_seconds: float, expected: str
) -> None:
    results = Results(
        MACHINE, {}, ["throughput"], 1024, 1024,
        throughput=throughput(rate, completed), cpu=[use("throughput", other_seconds)],
    )  # fmt: skip
    assert verdict_of(results, "exchange, first claim") == expected


@pytest.mark.parametrize(
    ("large_rate", "other_seconds", "expected"),
    [(900.0, 0.0, MET), (800.0, 0.0, MISSED), (900.0, 5.0, BUSY)],
)
def test_large_backlog_is_judged_against_the_small_ones_rate(
    large_rate: float, other_seconds: float, expected: str
) -> None:
    results = Results(
        MACHINE, {}, ["backlog", "backlog-1m"], 1024, 1024,
        backlog=backlog("backlog", 30.0, 1000.0),
        backlog_large=backlog("backlog-1m", 1200.0, large_rate),
        cpu=[use("backlog: drain", 0.0), use("backlog-1m: drain", other_seconds)],
    )  # fmt: skip
    assert verdict_of(results, "backlog 1,000: drain rate vs") == expected
    assert verdict_of(results, "backlog 1,000: receiver start") == MET  # the 100,000 one


def test_report_prints_only_the_phases_run() -> None:
    results = Results(
        MACHINE, {}, ["throughput"], 1024, 1024,
        throughput=throughput(math.nan, True), cpu=[use("throughput", 0.0)],
    )  # fmt: skip
    text = report(results)
    assert "exchange, first claim" in text
    assert "Dispatcher.submit" not in text
    assert "backlog" not in text
