"""How long `gateway status` takes on a node whose outbox holds 1,000,000 rows.

Two databases of 1,000,000 outbox rows each, 1 KiB envelopes, queued over the last 7 days:
- `backlog`: every row still queued for the one peer (a week-long outage: the worst case,
  since the figures count and date what waits);
- `history`: 990,000 delivered and 10,000 queued (a node in service, before retention).
Rows are written with COPY (the bench measures reading, not queueing), then the table is
vacuumed and analyzed as autovacuum does after inserts. For each database:
- `in process`: gateway.ops.node_health.node_health (the figures the command, the console
  and /metrics use), first call and the median of 10;
- `command`: `gateway status --config FILE` as an operator runs it, wall time from exec to
  exit (Python start and imports, connecting, the schema check, the figures, the table),
  median of 5.
The target: the command answers in under a second.

    .venv/bin/python -m bench.status                # 1,000,000 rows, ~3 minutes
    .venv/bin/python -m bench.status --rows 100000  # a quicker run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.exchange.cluster import GATEWAY, Cluster, log, machine
from gateway.ops.node_health import node_health
from gateway.store import EmbeddedPostgres, Store

SENDER, PEER = "vn-gialai-police", "kh-ratanakiri-police"
ENVELOPE_BYTES = 1024
CHUNK = 50_000
COLUMNS = (
    "message_id",
    "recipient",
    "case_id",
    "kind",
    "handling",
    "envelope",
    "envelope_sha256",
    "state",
    "queued_at",
    "expires_at",
    "finished_at",
)


@dataclass(frozen=True)
class Result:
    scenario: str
    rows: int
    queued: int
    first_ms: float
    median_ms: float
    command_ms: float


async def fill(dsn: str, rows: int, delivered: int) -> None:
    """rows outbox rows for PEER, the first `delivered` of them delivered, the rest queued."""
    now = datetime.now(UTC)
    week = timedelta(days=7).total_seconds()
    envelope = os.urandom(ENVELOPE_BYTES)
    digest = os.urandom(32)
    connection = await asyncpg.connect(dsn)
    try:
        done = 0
        while done < rows:
            count = min(CHUNK, rows - done)
            records = []
            for index in range(done, done + count):
                queued_at = now - timedelta(seconds=week * (1 - index / rows))
                final = index < delivered
                records.append(
                    (
                        uuid.uuid4(),
                        PEER,
                        uuid.uuid4(),
                        "hotline_alert",
                        "restricted",
                        envelope,
                        digest,
                        "delivered" if final else "queued",
                        queued_at,
                        queued_at + timedelta(days=30),
                        queued_at + timedelta(seconds=1) if final else None,
                    )
                )
            await connection.copy_records_to_table("outbox", records=records, columns=COLUMNS)
            done += count
        await connection.execute("VACUUM ANALYZE outbox")
    finally:
        await connection.close()


def run_command(config: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [GATEWAY, "status", "--config", str(config)],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    return (time.perf_counter() - started) * 1000


async def measure(cluster: Cluster, scenario: str, rows: int, delivered: int) -> Result:
    node = cluster.nodes[SENDER]
    log(f"{scenario}: writing {rows:,} outbox rows ({delivered:,} delivered)")
    await fill(node.dsn, rows, delivered)
    config = cluster.config(SENDER)
    store = await Store.connect(node.dsn)
    try:
        timings = []
        for _ in range(11):
            started = time.perf_counter()
            health = await node_health(config, store, datetime.now(UTC))
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await store.close()
    [peer] = health.peers
    assert peer.pending == rows - delivered, peer
    commands = [run_command(node.config_path) for _ in range(5)]
    return Result(
        scenario,
        rows,
        peer.pending,
        timings[0],
        statistics.median(timings[1:]),
        statistics.median(commands),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="blg-status-bench-") as folder:
        root = Path(folder)
        postgres = await asyncio.to_thread(EmbeddedPostgres, root / "postgres")
        try:
            version = await _server_version(postgres)
            cluster = Cluster(root, postgres, batch_size=100, rate_limit=100)
            await cluster.add(SENDER, PEER)
            dsn = cluster.nodes[SENDER].dsn
            store = await Store.connect(dsn)
            await store.migrate()
            await store.close()
            for scenario, delivered in (("backlog", 0), ("history", args.rows * 99 // 100)):
                await _empty_outbox(dsn)
                results.append(await measure(cluster, scenario, args.rows, delivered))
        finally:
            postgres.stop()
    print(machine(version).describe())
    print()
    print("| outbox | queued | in process, first | in process, median | `gateway status` |")
    print("|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.rows:,} rows ({r.scenario}) | {r.queued:,} | {r.first_ms:.0f} ms "
            f"| {r.median_ms:.0f} ms | {r.command_ms:.0f} ms |"
        )


async def _empty_outbox(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("TRUNCATE outbox CASCADE")
    finally:
        await connection.close()


async def _server_version(postgres: EmbeddedPostgres) -> str:
    dsn = await postgres.ensure_database("version_probe")
    connection = await asyncpg.connect(dsn)
    try:
        version: str = await connection.fetchval("SHOW server_version")
        return version
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
