"""Issue 10's targets, and the pure arithmetic that turns a run's figures into verdicts.

A verdict is only given for a phase the machine was quiet for: when other workloads used
more than OTHER_LIMIT of one core during the phase ("other" CPU), the figure is reported
with "repeat: machine busy" instead, as the issue asks (a loaded run is repeated, not
reported).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SENDER = "vn-gialai-police"
RECEIVER = "kh-ratanakiri-police"
MB = 1_000_000

TARGET_THROUGHPUT = 3000.0  # msg/s, first claim -> last receipt
TARGET_CEILING_SHARE = 0.5  # of the same run's exchange crypto ceiling
TARGET_SUBMIT = 3000.0  # msg/s through Dispatcher.submit, sustained
TARGET_ACCEPTED = 1500.0  # msg/s through POST /api/v1/messages, 16 clients
TARGET_P99_MS = 200.0  # request start -> receipt stored, at 1,000 msg/s offered
TARGET_BACKLOG_SECONDS = 35.0  # 100,000 backlog, receiver start -> last receipt
TARGET_DRAIN_RATIO = 0.85  # 1,000,000 backlog's drain rate / the 100,000 one's
TARGET_RSS_BYTES = 250 * MB  # per gateway
TARGET_HISTORY_RATIO = 0.85  # throughput with 10 M delivered rows / with an empty outbox

OTHER_LIMIT = 0.10  # of one core
BUSY = "repeat: machine busy"
MET = "met"
MISSED = "MISSED"

# Processes the bench accounts for; the rest of the machine's busy time is "other".
OURS = ("bench", SENDER, RECEIVER, "postgres")


def cpu_shares(cpu_seconds: Mapping[str, float], wall_seconds: float) -> dict[str, float]:
    """Share of one core per process in one phase; "other" = the machine's busy CPU time
    that none of OURS used (another workload competing for the cores)."""
    used = dict(cpu_seconds)
    used["other"] = max(0.0, used.get("machine", 0.0) - sum(used.get(w, 0.0) for w in OURS))
    if wall_seconds <= 0:
        return {who: math.nan for who in used}
    return {who: seconds / wall_seconds for who, seconds in used.items()}


def verdict(met: bool | None, other: float | None) -> str:
    """met / MISSED, or BUSY when the phase's other CPU share says the figure is not clean;
    "" for a figure without a target (met is None), "incomplete" is the caller's."""
    if met is None:
        return ""
    if other is not None and not other <= OTHER_LIMIT:  # NaN (unknown) counts as busy
        return BUSY
    return MET if met else MISSED


def within(value: float, reference: float, ratio: float) -> bool:
    """value >= ratio * reference; False when either is unknown (NaN) or reference <= 0."""
    if not (math.isfinite(value) and math.isfinite(reference)) or reference <= 0:
        return False
    return value >= ratio * reference


@dataclass
class Percentiles:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Percentiles:
        """Nearest-rank percentiles of durations in seconds, in ms; NaN values dropped."""
        ordered = sorted(value for value in seconds if not math.isnan(value))
        if not ordered:
            return cls(math.nan, math.nan, math.nan, math.nan)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

        return cls(rank(0.50), rank(0.95), rank(0.99), ordered[-1] * 1000)

    def text(self) -> str:
        return f"{self.p50_ms:.0f} / {self.p95_ms:.0f} / {self.p99_ms:.0f} / {self.max_ms:.0f} ms"
