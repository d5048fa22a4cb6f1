"""Benchmark: the local API path, `POST /api/v1/messages`, against a real `gateway run` node.

Run by hand from the repository root, never by the test suite:

    .venv/bin/python bench/api.py                 # the full run (2-3 minutes)
    .venv/bin/python bench/api.py --quick         # a scaled-down smoke run, under a minute
    .venv/bin/python bench/api.py --json out.json # also write every figure as JSON
    .venv/bin/python bench/api.py --profile       # in-process replica: time per stage + cProfile

Set-up: the two nodes of bench/exchange.py (its Cluster: one embedded PostgreSQL, configs
through the gateway's one config writer, HTTPS with mutual TLS between the nodes); the
sender vn-gialai-police also gets one local client (vn-police-json, every kind), added with
the writer's `edit_config`. Both nodes are `gateway run` subprocesses; the bench is the
police case system, speaking plain HTTP on loopback to the sender's local API with aiohttp
(keep-alive, one session). Every request carries one vn-police-json document: a hotline
alert (TIN_BAO_111) padded to ~1 KiB, with a new so_hieu (and call id) per request, so each
is a new message and a new case; `?to=kh-ratanakiri-police`.

What each figure measures:

1. Accepted: C clients (16) each post in a loop, a new request as soon as the previous answer
   came, for warm-up + window seconds. Accepted rate = 202 answers completed inside the
   window / window seconds; request latency p50/p95/p99/max = send to answer read, of the
   requests completed inside the window (any status; non-202 answers are counted by status).
   The peer keeps delivering meanwhile, as in production; after the phase the bench waits
   until the sender's outbox has no pending row before the next phase.
2. Latency at a fixed offered load: R requests/s (1,000) offered open-loop for S seconds:
   request i is started at its due time start + i/R in its own task, never waiting for
   another (a connection pool of up to 256 keep-alive connections). Latency of a message =
   receipts.stored_at at the sender (matched by the message id of the 202 answer) - the
   request's due time (wall clock of the same host). stored_at is now() of the sender's
   finish transaction, i.e. its start. Reported: offered rate (requests / (last start - first
   due)), accepted rate (202 answers / (last answer - first due)), and "kept up": accepted
   >= 97 % of R. When the node cannot keep up, latency grows for the whole phase and the
   figures say so (offered vs accepted) rather than being hidden. The latency is also split
   at the 202 answer: answer read -> receipt stored is the delivery's share.
3. (--profile) the sender as an in-process Gateway in the bench's event loop, the receiver a
   `gateway run` subprocess; 16 clients in the same loop. One pass times the stages of a
   request with wall-clock wrappers (bench/api_profile.py names them), a second runs under
   cProfile (decoding runs in the decoder's threads, which cProfile does not see: its time
   is the "decode, in thread" stage of the first pass).

The CPU table at the end (bench/exchange.py's Monitor) shows who used the cores in each
phase, including any other workload on the machine ("other"): a run with other above 10 % is
repeated on a quiet machine before being reported as the result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg

if __package__ in (None, ""):  # run as a script: bench/ is sys.path[0], the root is not
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_client import FORMAT, Api, Documents, add_local_client, closed_loop
from bench.api_profile import profile_replica
from bench.exchange import (
    RECEIVER,
    SENDER,
    Cluster,
    CpuUse,
    Machine,
    Monitor,
    Outbox,
    Percentiles,
    embedded_postgres,
    interrupt_on_signals,
    load_average,
    log,
    machine,
    phase,
    publish,
    to_json,
    work_folder,
)
from gateway.store import Store

TARGET_ACCEPTED = 1500.0
TARGET_P99_MS = 200.0
KEPT_UP = 0.97


@dataclass(frozen=True)
class Scale:
    clients: int
    warmup_seconds: float
    window_seconds: float
    rate: float
    offer_seconds: float


FULL = Scale(clients=16, warmup_seconds=3, window_seconds=30, rate=1000, offer_seconds=20)
QUICK = Scale(clients=16, warmup_seconds=1, window_seconds=5, rate=1000, offer_seconds=5)


# --- 1. accepted msg/s, closed loop ---------------------------------------------------------


@dataclass
class Accepted:
    clients: int
    window_seconds: float
    requests: int
    accepted: int
    statuses: dict[str, int]
    rate: float
    latency: Percentiles


async def measure_accepted(api: Api, scale: Scale) -> Accepted:
    started = time.perf_counter()
    done = await closed_loop(api, scale.clients, scale.warmup_seconds, scale.window_seconds)
    opens = started + scale.warmup_seconds
    closes = opens + scale.window_seconds
    inside = [d for d in done if opens <= d[1] < closes]
    accepted = sum(1 for d in inside if d[2] == 202)
    return Accepted(
        clients=scale.clients,
        window_seconds=scale.window_seconds,
        requests=len(inside),
        accepted=accepted,
        statuses={str(k): v for k, v in sorted(Counter(d[2] for d in inside).items())},
        rate=accepted / scale.window_seconds,
        latency=Percentiles.of([d[1] - d[0] for d in inside]),
    )


# --- 2. latency at a fixed offered load, open loop ----------------------------------------------


@dataclass
class Offered:
    target_rate: float
    requests: int
    offered_rate: float
    accepted: int
    accepted_rate: float
    kept_up: bool
    statuses: dict[str, int]
    request: Percentiles
    receipted: int
    completed: bool
    to_receipt: Percentiles
    answer_to_receipt: Percentiles


async def offer_open_loop(
    api: Api, rate: float, total: int
) -> tuple[float, list[tuple[float, float, float, int, str | None]]]:
    """Start request i at its due time; (wall clock of the first due instant, per request
    (due, started, answered) as offsets from it in seconds, status, message id)."""
    results: list[tuple[float, float, float, int, str | None]] = []
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        wall = time.time()
        started = time.perf_counter()

        async def one(index: int) -> None:
            begun = time.perf_counter() - started
            try:
                status, message_id = await api.post(session)
            except aiohttp.ClientError:
                status, message_id = 0, None
            results.append((index / rate, begun, time.perf_counter() - started, status, message_id))

        sent = 0
        while sent < total:
            due = min(total, math.floor((time.perf_counter() - started) * rate) + 1)
            for index in range(sent, due):
                task = asyncio.create_task(one(index))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent = max(sent, due)
            await asyncio.sleep(0.001)
        while tasks:
            await asyncio.gather(*tasks)
    return wall, results


async def receipts_stored(
    connection: asyncpg.Connection, ids: Sequence[str], timeout: float
) -> tuple[dict[str, datetime], bool]:
    """receipts.stored_at of the messages ids, polled until all are there or timeout."""
    deadline = time.perf_counter() + timeout
    last_report = time.perf_counter()
    while True:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM receipts WHERE message_id = ANY($1::uuid[])", ids
        )
        now = time.perf_counter()
        if count >= len(ids) or now > deadline:
            break
        if now - last_report >= 5:
            log(f"latency: {count}/{len(ids)} receipts stored")
            last_report = now
        await asyncio.sleep(0.2)
    rows = await connection.fetch(
        "SELECT message_id::text AS id, stored_at FROM receipts WHERE message_id = ANY($1::uuid[])",
        ids,
    )
    return {row["id"]: row["stored_at"] for row in rows}, count >= len(ids)


async def measure_offered(api: Api, connection: asyncpg.Connection, scale: Scale) -> Offered:
    total = int(scale.rate * scale.offer_seconds)
    log(f"offering {scale.rate:.0f} requests/s for {scale.offer_seconds:.0f}s, open loop")
    wall, results = await offer_open_loop(api, scale.rate, total)
    accepted = [r for r in results if r[3] == 202 and r[4] is not None]
    last_start = max(r[1] for r in results)
    last_answer = max((r[2] for r in accepted), default=math.nan)
    log(f"{len(accepted)}/{total} accepted; waiting for their receipts")
    stored, completed = await receipts_stored(
        connection, [str(r[4]) for r in accepted], max(120.0, total / 50)
    )
    to_receipt = [
        stored[str(r[4])].timestamp() - (wall + r[0]) for r in accepted if str(r[4]) in stored
    ]
    answer_to_receipt = [
        stored[str(r[4])].timestamp() - (wall + r[2]) for r in accepted if str(r[4]) in stored
    ]
    accepted_rate = len(accepted) / last_answer if last_answer > 0 else math.nan
    return Offered(
        target_rate=scale.rate,
        requests=total,
        offered_rate=total / last_start if last_start > 0 else math.nan,
        accepted=len(accepted),
        accepted_rate=accepted_rate,
        kept_up=len(accepted) == total and accepted_rate >= KEPT_UP * scale.rate,
        statuses={str(k): v for k, v in sorted(Counter(r[3] for r in results).items())},
        request=Percentiles.of([r[2] - r[0] for r in results]),
        receipted=len(to_receipt),
        completed=completed,
        to_receipt=Percentiles.of(to_receipt),
        answer_to_receipt=Percentiles.of(answer_to_receipt),
    )


# --- the whole run ---------------------------------------------------------------------------


@dataclass
class Results:
    machine: Machine
    scale: Scale
    document_bytes: int
    accepted: Accepted
    offered: Offered
    cpu: list[CpuUse]
    total_seconds: float
    load_start: str
    load_end: str


async def drain(outbox: Outbox, after: int) -> None:
    upto = await outbox.last_id()
    await outbox.wait_final(after, upto, 600, "drain")


async def run(args: argparse.Namespace, scale: Scale, root: Path) -> Results:
    run_started = time.perf_counter()
    load_start = load_average()
    interrupt_on_signals()
    with embedded_postgres(root) as postgres:
        cluster = Cluster(root, postgres, batch_size=args.batch_size, rate_limit=args.rate_limit)
        monitor_task: asyncio.Task[None] | None = None
        try:
            await cluster.add(SENDER, RECEIVER)
            token = add_local_client(cluster)
            for node_id in (SENDER, RECEIVER):
                store = await Store.connect(cluster.nodes[node_id].dsn)
                await store.migrate()
                await store.close()
                cluster.start(node_id)
            for node_id in (SENDER, RECEIVER):
                await cluster.wait_ready(node_id)
            connection = await asyncpg.connect(cluster.nodes[SENDER].dsn)
            version = str(await connection.fetchval("SHOW server_version"))
            outbox = Outbox(connection)
            documents = Documents()
            api = Api(f"http://127.0.0.1:{cluster.nodes[SENDER].api_port}", token, documents)
            log(f"document {documents.size} bytes; working in {root}")
            monitor = Monitor(cluster, root / "postgres")
            monitor_task = asyncio.create_task(monitor.run())
            cpu: list[CpuUse] = []

            after = await outbox.last_id()
            async with phase(monitor, f"accepted, {scale.clients} clients", cpu):
                accepted = await measure_accepted(api, scale)
            log(f"accepted: {accepted.rate:,.0f} msg/s, request {accepted.latency.text()}")
            async with phase(monitor, "drain after accepted", cpu):
                await drain(outbox, after)
            async with phase(monitor, f"offered {scale.rate:,.0f}/s, open loop", cpu):
                offered = await measure_offered(api, connection, scale)
            log(f"offered: to receipt {offered.to_receipt.text()}")
            await connection.close()
        finally:
            if monitor_task is not None:
                monitor_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await monitor_task
            cluster.stop_all()
    return Results(
        machine=machine(version),
        scale=scale,
        document_bytes=documents.size,
        accepted=accepted,
        offered=offered,
        cpu=cpu,
        total_seconds=time.perf_counter() - run_started,
        load_start=load_start,
        load_end=load_average(),
    )


# --- the report ------------------------------------------------------------------------------


def cpu_share(use: CpuUse) -> dict[str, float]:
    """% of one core per process in one phase; other = the machine's busy time not ours."""
    used = dict(use.cpu_seconds)
    ours = sum(used.get(w, 0.0) for w in ("bench", SENDER, RECEIVER, "postgres"))
    used["other"] = max(0.0, used.get("machine", 0.0) - ours)
    return {who: seconds / use.wall_seconds for who, seconds in used.items()}


def report(results: Results) -> str:
    out = io.StringIO()
    a, o = results.accepted, results.offered
    rows: list[tuple[str, str, str, str]] = [
        (
            f"1 accepted, {a.clients} clients, {a.window_seconds:.0f} s window",
            f"{a.rate:,.0f} msg/s",
            f">= {TARGET_ACCEPTED:,.0f} msg/s",
            "met" if a.rate >= TARGET_ACCEPTED else "MISSED",
        ),
        ("  request p50/p95/p99/max", a.latency.text(), "", ""),
        ("  requests in window by status", str(a.statuses), "", ""),
        (
            f"2 @ {o.target_rate:,.0f} msg/s offered: request start -> receipt stored",
            o.to_receipt.text(),
            f"p99 < {TARGET_P99_MS:.0f} ms",
            ("met" if o.to_receipt.p99_ms < TARGET_P99_MS else "MISSED")
            if o.kept_up and o.completed
            else "not kept up"
            if not o.kept_up
            else "INCOMPLETE",
        ),
        (
            "  offered / accepted, kept up?",
            f"{o.offered_rate:,.0f} / {o.accepted_rate:,.0f} msg/s, {'yes' if o.kept_up else 'NO'}",
            "",
            "",
        ),
        ("  request (due -> answer) p50/p95/p99/max", o.request.text(), "", ""),
        ("  202 answer -> receipt stored p50/p95/p99/max", o.answer_to_receipt.text(), "", ""),
        ("  requests by status", str(o.statuses), "", ""),
        ("  receipts stored / accepted", f"{o.receipted:,} / {o.accepted:,}", "", ""),
    ]
    header = ("measure", "value", "target", "verdict")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"Machine: {results.machine.describe()}", file=out)
    print(
        f"Document {results.document_bytes} bytes ({FORMAT}); scale {results.scale}; "
        f"total {results.total_seconds:.0f} s",
        file=out,
    )
    print(file=out)
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip(), file=out)
    print(file=out)
    print("CPU use per phase, % of one core (CPU seconds / wall seconds):", file=out)
    who = ["bench", SENDER, RECEIVER, "postgres", "other", "steal"]
    print(f"  {'phase':36} {'wall s':>7} " + " ".join(f"{w[:12]:>12}" for w in who), file=out)
    for use in results.cpu:
        share = cpu_share(use)
        cells = " ".join(f"{share.get(w, 0.0):>12.0%}" for w in who)
        print(f"  {use.phase:36} {use.wall_seconds:>7.1f} {cells}", file=out)
    print(
        "  other = busy CPU time of the machine not used by the processes above; a phase with\n"
        "  other > 10 % is not a clean measurement. 100% = one core, the machine has "
        f"{results.machine.usable_cpus}.\n"
        f"  Load average (1, 5, 15 min) at start: {results.load_start}; "
        f"at end: {results.load_end}",
        file=out,
    )
    return out.getvalue()


def results_json(results: Results) -> dict[str, object]:
    document: dict[str, object] = {k: to_json(v) for k, v in asdict(results).items()}
    document["cpu_share"] = {use.phase: cpu_share(use) for use in results.cpu}
    document["targets"] = {"accepted_msg_per_s": TARGET_ACCEPTED, "p99_ms": TARGET_P99_MS}
    return document


# --- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="scaled-down smoke run")
    parser.add_argument("--clients", type=int, help="accepted: concurrent clients (16)")
    parser.add_argument("--window", type=float, help="accepted: seconds measured (30)")
    parser.add_argument("--rate", type=float, help="latency: offered requests/s (1,000)")
    parser.add_argument("--seconds", type=float, help="latency: seconds offered (20)")
    parser.add_argument("--batch-size", type=int, default=100, help="sender retry.batch_size")
    parser.add_argument(
        "--rate-limit", type=float, default=1000, help="each node's per-peer requests/s"
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it (logs)")
    parser.add_argument(
        "--profile", action="store_true", help="run the in-process profiling replica instead"
    )
    parser.add_argument(
        "--profile-seconds", type=float, default=10, help="seconds per profiling pass"
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    scale = Scale(
        clients=args.clients or base.clients,
        warmup_seconds=base.warmup_seconds,
        window_seconds=args.window or base.window_seconds,
        rate=args.rate or base.rate,
        offer_seconds=args.seconds or base.offer_seconds,
    )
    with work_folder(args.keep) as root:
        if args.profile:
            asyncio.run(profile_replica(args, root))
            return
        results = asyncio.run(run(args, scale, root))
    publish(report(results), results_json(results), args.json)


if __name__ == "__main__":
    main()
