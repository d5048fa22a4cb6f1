"""One run: one cluster, the chosen phases in a fixed order, one Results.

Order: ceilings (before any gateway runs), throughput, submit, api, backlog, backlog-1m,
history. History comes last because it empties the sender's outbox for its baseline and
then fills it with H rows; the backlogs before it measure an outbox holding only the run's
own rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg

from bench.exchange.api import CLIENT_ID, Api, measure_accepted, measure_offered
from bench.exchange.ceilings import Ceilings, crypto_ceilings, database_ceilings
from bench.exchange.cluster import (
    Cluster,
    embedded_postgres,
    interrupt_on_signals,
    load_average,
    log,
    machine,
)
from bench.exchange.history import measure_history
from bench.exchange.messages import DOCUMENT_FORMAT, Documents, Sealer
from bench.exchange.monitor import CpuUse, Monitor
from bench.exchange.outbox import Outbox
from bench.exchange.phases import Bench, measure_backlog, measure_submit, measure_throughput
from bench.exchange.report import Results
from bench.exchange.targets import RECEIVER, SENDER
from gateway.store import Store

PHASES = ("ceilings", "throughput", "submit", "api", "backlog", "backlog-1m", "history")


@dataclass(frozen=True)
class Scale:
    """How much work each phase does."""

    messages: int  # throughput (and history's two throughput runs)
    submitters: int
    submit_seconds: float
    clients: int
    warmup_seconds: float
    window_seconds: float
    rate: float
    offer_seconds: float
    backlog: int
    large_backlog: int
    history: int
    chunk: int
    ceiling_seconds: float


FULL = Scale(
    messages=20_000,
    submitters=64,
    submit_seconds=20,
    clients=16,
    warmup_seconds=3,
    window_seconds=20,
    rate=1000,
    offer_seconds=20,
    backlog=100_000,
    large_backlog=1_000_000,
    history=10_000_000,
    chunk=1000,
    ceiling_seconds=3,
)
QUICK = Scale(
    messages=3_000,
    submitters=64,
    submit_seconds=5,
    clients=16,
    warmup_seconds=1,
    window_seconds=5,
    rate=1000,
    offer_seconds=5,
    backlog=10_000,
    large_backlog=20_000,
    history=200_000,
    chunk=1000,
    ceiling_seconds=1,
)


@dataclass(frozen=True)
class Settings:
    batch_size: int
    rate_limit: float
    pool: int


async def run(phases: list[str], scale: Scale, settings: Settings, root: Path) -> Results:
    run_started = time.perf_counter()
    load_start = load_average()
    interrupt_on_signals()
    with embedded_postgres(root) as postgres:
        cluster = Cluster(
            root, postgres, batch_size=settings.batch_size, rate_limit=settings.rate_limit
        )
        monitor_task: asyncio.Task[None] | None = None
        try:
            await cluster.add(SENDER, RECEIVER)
            token = cluster.add_local_client(SENDER, CLIENT_ID, [DOCUMENT_FORMAT])
            sender_dsn = cluster.nodes[SENDER].dsn
            receiver_store = await Store.connect(cluster.nodes[RECEIVER].dsn)
            await receiver_store.migrate()
            await receiver_store.close()
            store = await Store.connect(sender_dsn, max_size=settings.pool)
            await store.migrate()
            connection = await asyncpg.connect(sender_dsn)
            version = str(await connection.fetchval("SHOW server_version"))
            sealer = Sealer(cluster.keyring(SENDER), RECEIVER)
            documents = Documents()
            log(
                f"envelope {sealer.envelope_bytes} bytes, API document {documents.size} bytes;"
                f" phases {', '.join(phases)}; working in {root}"
            )
            monitor = Monitor(cluster, root / "postgres")
            cpu: list[CpuUse] = []
            bench = Bench(cluster, store, Outbox(connection), sealer, monitor, cpu, scale.chunk)
            results = Results(
                machine=machine(version),
                settings=asdict(settings) | {"scale": asdict(scale)},
                phases=phases,
                envelope_bytes=sealer.envelope_bytes,
                document_bytes=documents.size,
                cpu=cpu,
            )

            if "ceilings" in phases:
                async with bench.phase("ceilings"):
                    log("ceilings: crypto")
                    crypto = crypto_ceilings(
                        cluster.keyring(SENDER),
                        cluster.keyring(RECEIVER),
                        sealer,
                        scale.ceiling_seconds,
                    )
                    log("ceilings: bare asyncpg")
                    database = await database_ceilings(postgres, scale.ceiling_seconds)
                results.ceilings = Ceilings(**crypto, **database)

            monitor_task = asyncio.create_task(monitor.run())
            for node_id in (RECEIVER, SENDER):
                cluster.start(node_id)
                await cluster.wait_ready(node_id)

            if "throughput" in phases:
                async with bench.phase("throughput"):
                    results.throughput = await measure_throughput(
                        bench, scale.messages, "throughput"
                    )
                log(f"throughput: {results.throughput.rate:,.0f} msg/s")

            if "submit" in phases:
                async with bench.phase("submit"):
                    results.submit = await measure_submit(
                        bench, scale.submitters, scale.warmup_seconds, scale.submit_seconds
                    )

            if "api" in phases:
                api = Api(f"http://127.0.0.1:{cluster.nodes[SENDER].api_port}", token, documents)
                after = await bench.outbox.last_id()
                async with bench.phase(f"api: accepted, {scale.clients} clients"):
                    results.accepted = await measure_accepted(
                        api, scale.clients, scale.warmup_seconds, scale.window_seconds
                    )
                log(f"api: accepted {results.accepted.rate:,.0f} msg/s")
                async with bench.phase("api: delivery of the accepted"):
                    await bench.outbox.drain(after, "api: delivery")
                async with bench.phase(f"api: offered {scale.rate:,.0f}/s"):
                    results.offered = await measure_offered(
                        api, bench.outbox, scale.rate, scale.offer_seconds
                    )
                log(f"api: request -> receipt {results.offered.to_receipt.text()}")

            if "backlog" in phases:
                results.backlog = await measure_backlog(bench, "backlog", scale.backlog)
                log(f"backlog: {results.backlog.start_to_last_receipt_seconds:.1f} s")

            if "backlog-1m" in phases:
                results.backlog_large = await measure_backlog(
                    bench, "backlog-1m", scale.large_backlog
                )
                log(f"backlog-1m: drain {results.backlog_large.drain_rate:,.0f} msg/s")

            if "history" in phases:
                results.history = await measure_history(
                    bench, connection, scale.history, scale.messages, root
                )
            await store.close()
            await connection.close()
        finally:
            if monitor_task is not None:
                monitor_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await monitor_task
            cluster.stop_all()
    results.rss_peak_bytes = {node: monitor.peak(node) for node in (SENDER, RECEIVER)}
    results.total_seconds = time.perf_counter() - run_started
    results.load_start, results.load_end = load_start, load_average()
    return results
