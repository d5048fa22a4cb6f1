"""The run's report: every figure beside its issue-10 target with a verdict, the CPU table
per phase, and the same figures as JSON.

A target row's verdict is met / MISSED only if every phase the figure comes from had other
CPU <= 10 % of a core; otherwise "repeat: machine busy" (targets.verdict). A figure from an
incomplete phase (timed out) is "incomplete"; one whose reference was not measured in this
run (e.g. --only backlog-1m without the 100,000 backlog) says so instead of a verdict.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from bench.exchange.api import Accepted, Offered
from bench.exchange.ceilings import Ceilings
from bench.exchange.cluster import Machine
from bench.exchange.history import History, same_plan
from bench.exchange.monitor import CpuUse
from bench.exchange.phases import Backlog, Submit, Throughput
from bench.exchange.targets import (
    MB,
    RECEIVER,
    SENDER,
    TARGET_ACCEPTED,
    TARGET_BACKLOG_SECONDS,
    TARGET_CEILING_SHARE,
    TARGET_DRAIN_RATIO,
    TARGET_HISTORY_RATIO,
    TARGET_P99_MS,
    TARGET_RSS_BYTES,
    TARGET_SUBMIT,
    TARGET_THROUGHPUT,
    verdict,
    within,
)

WHO = ["bench", SENDER, RECEIVER, "postgres", "other", "steal"]


@dataclass
class Results:
    machine: Machine
    settings: dict[str, object]
    phases: list[str]
    envelope_bytes: int
    document_bytes: int
    ceilings: Ceilings | None = None
    throughput: Throughput | None = None
    submit: Submit | None = None
    accepted: Accepted | None = None
    offered: Offered | None = None
    backlog: Backlog | None = None
    backlog_large: Backlog | None = None
    history: History | None = None
    rss_peak_bytes: dict[str, int] = field(default_factory=dict)
    cpu: list[CpuUse] = field(default_factory=list)
    total_seconds: float = math.nan
    load_start: str = ""
    load_end: str = ""


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    target: str = ""
    verdict: str = ""


def other_of(cpu: Sequence[CpuUse], *prefixes: str) -> float | None:
    """The highest other-CPU share of the phases whose name starts with a prefix; None when
    none ran (a figure outside any measured phase is judged as if the machine were quiet)."""
    shares = [use.other for use in cpu if use.phase.startswith(prefixes)]
    return max(shares) if shares else None


def judged(met: bool, completed: bool, cpu: Sequence[CpuUse], *phases: str) -> str:
    return verdict(met, other_of(cpu, *phases)) if completed else "incomplete"


def throughput_rows(r: Results) -> list[Row]:
    t, c = r.throughput, r.ceilings
    if t is None:
        return []
    rows = [
        Row(
            "exchange, first claim -> last receipt",
            f"{t.rate:,.0f} msg/s",
            f">= {TARGET_THROUGHPUT:,.0f} msg/s",
            judged(t.rate >= TARGET_THROUGHPUT, t.completed, r.cpu, "throughput"),
        )
    ]
    if c is not None:
        share = t.rate / c.exchange_crypto_per_second
        rows.append(
            Row(
                "  / crypto ceiling (open + sign + verify, one core)",
                f"{share:.0%} of {c.exchange_crypto_per_second:,.0f} msg/s",
                f">= {TARGET_CEILING_SHARE:.0%}",
                judged(share >= TARGET_CEILING_SHARE, t.completed, r.cpu, "throughput", "ceil"),
            )
        )
    rows += [
        Row("  delivered / queued (retried)", f"{t.delivered:,} / {t.messages:,} ({t.retried})"),
        Row("  busy span", f"{t.first_claim_to_last_receipt_seconds:.2f} s"),
        Row("  wall: sender start -> all seen", f"{t.wall_seconds:.2f} s ({t.wall_rate:,.0f}/s)"),
        Row("  bench: seal + enqueue", f"{t.messages / t.queue_seconds:,.0f} msg/s"),
    ]
    return rows


def submit_rows(r: Results) -> list[Row]:
    s = r.submit
    if s is None:
        return []
    return [
        Row(
            f"Dispatcher.submit, sustained, {s.submitters} callers",
            f"{s.rate:,.0f} msg/s",
            f">= {TARGET_SUBMIT:,.0f} msg/s",
            judged(s.rate >= TARGET_SUBMIT, s.errors == 0, r.cpu, "submit"),
        ),
        Row("  calls in window (errors); delivered", f"{s.calls:,} ({s.errors}); {s.delivered:,}"),
    ]


def api_rows(r: Results) -> list[Row]:
    rows: list[Row] = []
    a, o = r.accepted, r.offered
    if a is not None:
        rows += [
            Row(
                f"local API accepted, {a.clients} clients",
                f"{a.rate:,.0f} msg/s",
                f">= {TARGET_ACCEPTED:,.0f} msg/s",
                judged(a.rate >= TARGET_ACCEPTED, True, r.cpu, "api: accepted"),
            ),
            Row("  request p50/p95/p99/max", a.latency.text()),
            Row("  requests in window by status", str(a.statuses)),
        ]
    if o is not None:
        if not o.kept_up:
            mark = "not kept up"
        else:
            mark = judged(o.to_receipt.p99_ms < TARGET_P99_MS, o.completed, r.cpu, "api: offered")
        rows += [
            Row(
                f"latency @ {o.target_rate:,.0f} msg/s via API, request -> receipt stored",
                o.to_receipt.text(),
                f"p99 < {TARGET_P99_MS:.0f} ms",
                mark,
            ),
            Row(
                "  offered / accepted, kept up?",
                f"{o.offered_rate:,.0f} / {o.accepted_rate:,.0f} msg/s, "
                f"{'yes' if o.kept_up else 'NO'}",
            ),
            Row("  request (due -> 202) p50/p95/p99/max", o.request.text()),
            Row("  202 -> receipt stored p50/p95/p99/max", o.answer_to_receipt.text()),
            Row("  receipts stored / accepted", f"{o.receipted:,} / {o.accepted:,}"),
        ]
    return rows


def backlog_rows(r: Results, b: Backlog, reference: Backlog | None) -> list[Row]:
    drain = f"{b.name}: drain"
    rows: list[Row] = []
    if reference is None:
        rows.append(
            Row(
                f"backlog {b.messages:,}: receiver start -> last receipt",
                f"{b.start_to_last_receipt_seconds:.1f} s",
                f"< {TARGET_BACKLOG_SECONDS:.0f} s",
                judged(
                    b.start_to_last_receipt_seconds < TARGET_BACKLOG_SECONDS,
                    b.completed,
                    r.cpu,
                    drain,
                ),
            )
        )
        rows.append(Row("  drain rate (first -> last receipt)", f"{b.drain_rate:,.0f} msg/s"))
    else:
        ratio = b.drain_rate / reference.drain_rate if reference.drain_rate > 0 else math.nan
        rows.append(
            Row(
                f"backlog {b.messages:,}: drain rate vs the {reference.messages:,} one",
                f"{b.drain_rate:,.0f} vs {reference.drain_rate:,.0f} msg/s ({ratio:.0%})",
                f">= {TARGET_DRAIN_RATIO:.0%}",
                judged(
                    within(b.drain_rate, reference.drain_rate, TARGET_DRAIN_RATIO),
                    b.completed and reference.completed,
                    r.cpu,
                    drain,
                    f"{reference.name}: drain",
                ),
            )
        )
        rows.append(
            Row("  receiver start -> last receipt", f"{b.start_to_last_receipt_seconds:.1f} s")
        )
    rows += [
        Row(
            "  start -> ready; ready -> first receipt",
            f"{b.start_to_ready_seconds:.1f} s; {b.ready_to_first_receipt_seconds:.1f} s",
        ),
        Row("  delivered (retried)", f"{b.delivered:,} ({b.retried:,})"),
        Row("  bench: seal + enqueue", f"{b.messages / b.queue_seconds:,.0f} msg/s"),
    ]
    # Memory does not depend on another workload's CPU: RSS is judged even on a busy machine.
    for node in (SENDER, RECEIVER):
        peak = b.rss_peak_bytes.get(node, 0)
        rows.append(
            Row(
                f"  peak RSS {node} (queueing + drain)",
                f"{peak / MB:.0f} MB",
                f"< {TARGET_RSS_BYTES / MB:.0f} MB",
                judged(0 < peak < TARGET_RSS_BYTES, b.completed, [], drain),
            )
        )
    return rows


def history_rows(r: Results) -> list[Row]:
    h = r.history
    if h is None:
        return []
    base, hist = h.baseline, h.with_history
    return [
        Row(
            f"exchange with {h.rows:,} delivered rows vs empty outbox",
            f"{hist.rate:,.0f} vs {base.rate:,.0f} msg/s ({h.ratio:.0%})",
            f">= {TARGET_HISTORY_RATIO:.0%}",
            judged(
                within(hist.rate, base.rate, TARGET_HISTORY_RATIO),
                base.completed and hist.completed,
                r.cpu,
                "history: baseline",
                "history: throughput",
            ),
        ),
        Row(
            "  insert (set-based) + VACUUM ANALYZE",
            f"{h.insert_seconds:.0f} s + {h.vacuum_seconds:.0f} s",
        ),
        Row(
            "  database growth (disk free fell by)",
            f"{h.database_bytes / 1e9:.1f} GB ({h.disk_bytes / 1e9:.1f} GB)",
        ),
    ]


def ceiling_rows(r: Results) -> list[Row]:
    c = r.ceilings
    if c is None:
        return []
    return [
        Row(
            "ceiling: seal, ~1 KiB envelope", f"{c.seal.per_second:,.0f}/s ({c.seal.micros:.0f} us)"
        ),
        Row("  open_envelope", f"{c.open.per_second:,.0f}/s ({c.open.micros:.0f} us)"),
        Row(
            "  sign_receipt", f"{c.sign_receipt.per_second:,.0f}/s ({c.sign_receipt.micros:.0f} us)"
        ),
        Row(
            "  verify_receipt",
            f"{c.verify_receipt.per_second:,.0f}/s ({c.verify_receipt.micros:.0f} us)",
        ),
        Row(
            "  exchange crypto (open + sign + verify)", f"{c.exchange_crypto_per_second:,.0f} msg/s"
        ),
        Row("  asyncpg SELECT 1", f"{c.select_1.per_second:,.0f}/s ({c.select_1.micros:.0f} us)"),
        Row("  asyncpg 1 KiB INSERT, autocommit", f"{c.insert_autocommit.per_second:,.0f} rows/s"),
        Row(
            "  asyncpg 1 KiB executemany x100", f"{c.insert_executemany_100.per_second:,.0f} rows/s"
        ),
        Row(
            "  asyncpg 1 KiB INSERT x100 per transaction",
            f"{c.insert_100_per_transaction.per_second:,.0f} rows/s",
        ),
    ]


def rows(r: Results) -> list[Row]:
    found = throughput_rows(r) + submit_rows(r) + api_rows(r)
    if r.backlog is not None:
        found += backlog_rows(r, r.backlog, None)
    if r.backlog_large is not None:
        found += backlog_rows(r, r.backlog_large, r.backlog)
    return found + history_rows(r) + ceiling_rows(r)


def table(found: Sequence[Row]) -> list[str]:
    header = Row("measure", "value", "target", "verdict")
    cells = [(x.measure, x.value, x.target, x.verdict) for x in [header, *found]]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip() for c in cells]
    return [lines[0], "-" * len(lines[0]), *lines[1:]]


def cpu_table(cpu: Sequence[CpuUse]) -> list[str]:
    lines = [f"  {'phase':44} {'wall s':>7} " + " ".join(f"{w[:12]:>12}" for w in WHO)]
    for use in cpu:
        shares = use.shares()
        cells = " ".join(f"{shares.get(w, 0.0):>12.0%}" for w in WHO)
        lines.append(f"  {use.phase[:44]:44} {use.wall_seconds:>7.1f} {cells}")
    return lines


def report(r: Results) -> str:
    out = io.StringIO()
    print(f"Machine: {r.machine.describe()}", file=out)
    print(
        f"Phases {', '.join(r.phases)}; envelope {r.envelope_bytes} bytes, API document "
        f"{r.document_bytes} bytes; {r.settings}; total {r.total_seconds:.0f} s",
        file=out,
    )
    print(file=out)
    for line in table(rows(r)):
        print(line, file=out)
    if r.history is not None:
        print("\nPlans with history (the statements the sender runs per batch):", file=out)
        for name, plan in r.history.plans.items():
            same = same_plan(r.history.plans_empty.get(name, ""), plan)
            print(f"  {name}:{' (the same on the empty outbox)' if same else ''}", file=out)
            for line in plan.splitlines():
                print(f"    {line}", file=out)
            if not same:
                print("    on the empty outbox:", file=out)
                for line in r.history.plans_empty.get(name, "").splitlines():
                    print(f"      {line}", file=out)
    print("\nCPU use per phase, % of one core (CPU seconds / wall seconds):", file=out)
    for line in cpu_table(r.cpu):
        print(line, file=out)
    print(
        "  other = busy CPU time of the machine not used by the processes above (another\n"
        "  workload); a target whose phase had other > 10 % reads 'repeat: machine busy'.\n"
        f"  steal = the hypervisor's; 100% = one core, the machine has "
        f"{r.machine.usable_cpus}. Load average at start: {r.load_start}; at end: {r.load_end}",
        file=out,
    )
    return out.getvalue()


def to_json(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def results_json(r: Results) -> dict[str, object]:
    document: dict[str, object] = {
        key: to_json(value) for key, value in asdict(r).items() if key != "ceilings"
    }
    if r.ceilings is not None:
        c = r.ceilings
        document["ceilings"] = {
            name: {"per_second": rate.per_second, "micros": rate.micros}
            for name, rate in vars(c).items()
        } | {"exchange_crypto_per_second": c.exchange_crypto_per_second}
    document["cpu_share"] = {use.phase: to_json(use.shares()) for use in r.cpu}
    document["verdicts"] = [asdict(row) for row in rows(r) if row.target]
    return document
