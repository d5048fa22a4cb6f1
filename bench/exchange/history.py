"""The history phase: claim and delivery cost with H delivered rows (10 M) in the outbox,
against the same outbox empty.

Every outgoing message ever sent stays in the outbox as a finished row (with its receipt in
receipts): retention removes content, not messages. So after a year a node holds millions
of delivered rows beside the few it is sending, and its claims, finishes and receipt inserts
must not grow with them.

1. Once nothing is pending, the sender's outbox and receipts are emptied (TRUNCATE; the
   gateways keep running and hold nothing of them) and VACUUM ANALYZE'd; the throughput
   phase runs (baseline).
2. H delivered rows and their receipts are inserted with set-based SQL, in chunks with
   progress: INSERT ... SELECT over generate_series, rows spread over the past year, four
   messages per case, time-ordered (UUIDv7-like) message ids. Their envelope is NULL:
   history that old has had its content removed by retention (migration 0010,
   gateway/store/retention.py), which keeps the row, its hash, times and receipt. The
   receipts' foreign key is checked by construction, not per row (session_replication_role
   = replica for the insert only). Then VACUUM ANALYZE, as autovacuum would after inserts.
   (Step 1 runs a short warm-up exchange before the baseline: the first exchange after the
   gateways start is slower, which is no part of the comparison.)
3. The throughput phase runs again with the same N; ratio = with history / baseline.
The plans of the statements the exchange runs per batch are printed, so a plan
that scans history shows by name.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.exchange.cluster import log, now_utc
from bench.exchange.phases import Bench, Throughput, measure_throughput
from bench.exchange.targets import RECEIVER
from gateway.store.queries import Q
from gateway.wire import uuid7

# Statements the sender runs per batch or per message: their plans must not touch history.
PLANNED = ("outbox_claim", "outbox_finish_many", "receipt_insert_many", "outbox_expire_due")

INSERT_OUTBOX = """
INSERT INTO outbox (message_id, recipient, case_id, kind, handling, sender_reference,
                    envelope, envelope_sha256, state, attempts, queued_at, expires_at,
                    claimed_at, finished_at)
SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7'
        || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
       $3, md5('case' || (i / 4))::uuid, 'hotline_alert', 'restricted', 'HIST-' || i,
       NULL, sha256(int8send(i)), 'delivered', 1, t, t + interval '7 days',
       t + interval '20 ms', t + interval '60 ms'
FROM generate_series($1::bigint, $2::bigint) AS i,
     LATERAL (SELECT now() - interval '365 days' + (i * $4::float8) * interval '1 second' AS t,
                     md5(i::text) AS h) AS g
"""

INSERT_RECEIPTS = """
INSERT INTO receipts (message_id, receipt, accepted, reason_code, received_at, stored_at)
SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7'
        || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
       decode(repeat(h, 5), 'hex'), true, '', t + interval '40 ms', t + interval '60 ms'
FROM generate_series($1::bigint, $2::bigint) AS i,
     LATERAL (SELECT now() - interval '365 days' + (i * $3::float8) * interval '1 second' AS t,
                     md5(i::text) AS h) AS g
"""


@dataclass
class History:
    rows: int
    insert_seconds: float
    vacuum_seconds: float
    disk_bytes: int
    database_bytes: int
    baseline: Throughput
    with_history: Throughput
    ratio: float
    plans: dict[str, str]
    plans_empty: dict[str, str]


async def database_bytes(connection: asyncpg.Connection) -> int:
    size: int = await connection.fetchval("SELECT pg_database_size(current_database())")
    return size


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


async def insert_history(connection: asyncpg.Connection, rows: int, chunk: int) -> float:
    started = time.perf_counter()
    spacing = 365 * 86400 / max(rows, 1)  # seconds between two history messages
    done = 0
    await connection.execute("SET session_replication_role = replica")
    try:
        while done < rows:
            upto = min(rows, done + chunk)
            async with connection.transaction():
                await connection.execute(INSERT_OUTBOX, done + 1, upto, RECEIVER, spacing)
                await connection.execute(INSERT_RECEIPTS, done + 1, upto, spacing)
            done = upto
            elapsed = time.perf_counter() - started
            log(
                f"history: {done:,}/{rows:,} rows in {elapsed:.0f} s "
                f"(~{(rows - done) * elapsed / done:.0f} s left)"
            )
    finally:
        await connection.execute("RESET session_replication_role")
    return time.perf_counter() - started


async def vacuum(connection: asyncpg.Connection) -> float:
    started = time.perf_counter()
    await connection.execute("VACUUM ANALYZE outbox")
    await connection.execute("VACUUM ANALYZE receipts")
    return time.perf_counter() - started


_UUID_ARRAY = re.compile(r"'\{[^}']*\}'::uuid\[\]")


def same_plan(one: str, other: str) -> bool:
    """Equal but for the instants bound to the statement."""
    instant = re.compile(r"'[^']*'::timestamp with time zone")
    return instant.sub("'...'", one) == instant.sub("'...'", other)


def plan_arguments(name: str) -> tuple[object, ...]:
    """Values like the sender's for a batch of 100: the plan is the one PostgreSQL picks for
    them (a custom plan, as for the first executions of a prepared statement). The claim
    skips the cases of one batch in flight (the pipelined sender's second batch) and scans
    from floor 0, as a round's first claim does."""
    now = now_utc()
    ids = [uuid7() for _ in range(100)]
    busy_cases = sorted(uuid7() for _ in range(100))
    return {
        "outbox_claim": (RECEIVER, 100, "bench", now, busy_cases, 0),
        "outbox_finish_many": (ids, ["delivered"] * 100, [None] * 100, now),
        "receipt_insert_many": (ids, [b"r" * 80] * 100, [True] * 100, [""] * 100, [now] * 100),
        "outbox_expire_due": (RECEIVER, now),
    }[name]


async def plans(connection: asyncpg.Connection) -> dict[str, str]:
    """Each PLANNED statement's plan shape (EXPLAIN without costs, not run), one line per
    node."""
    found: dict[str, str] = {}
    for name in PLANNED:
        statement = f"EXPLAIN (COSTS OFF) {getattr(Q, name)}"
        rows = await connection.fetch(statement, *plan_arguments(name))
        # The busy cases' 100 ids would fill the screen and differ from run to run.
        found[name] = _UUID_ARRAY.sub("'{...}'::uuid[]", "\n".join(row[0] for row in rows))
    return found


async def measure_history(
    bench: Bench, connection: asyncpg.Connection, rows: int, messages: int, folder: Path
) -> History:
    """The sender and receiver must be up; both are left running."""
    await bench.outbox.drain(0, "history: settle")
    await connection.execute("TRUNCATE receipts, outbox")
    await vacuum(connection)
    # A first exchange after the gateways start is slower (connections, caches): not the
    # baseline's business.
    await measure_throughput(bench, min(messages, 2000), "history warm-up")
    async with bench.phase("history: baseline, empty outbox"):
        baseline = await measure_throughput(bench, messages, "history baseline")
    log(f"history: baseline {baseline.rate:,.0f} msg/s")
    plans_empty = await plans(connection)
    free_before = free_bytes(folder)
    size_before = await database_bytes(connection)
    async with bench.phase(f"history: insert {rows:,} delivered rows"):
        insert_seconds = await insert_history(connection, rows, chunk=500_000)
        log("history: VACUUM ANALYZE")
        vacuum_seconds = await vacuum(connection)
    disk = free_before - free_bytes(folder)
    database = await database_bytes(connection) - size_before
    log(
        f"history: database +{database / 1e9:.1f} GB (disk free -{disk / 1e9:.1f} GB, WAL and"
        f" other workloads included); insert {insert_seconds:.0f} s"
    )
    found = await plans(connection)
    async with bench.phase(f"history: throughput with {rows:,} rows"):
        with_history = await measure_throughput(bench, messages, "history throughput")
    log(f"history: {with_history.rate:,.0f} msg/s with history")
    return History(
        rows=rows,
        insert_seconds=insert_seconds,
        vacuum_seconds=vacuum_seconds,
        disk_bytes=disk,
        database_bytes=database,
        baseline=baseline,
        with_history=with_history,
        ratio=with_history.rate / baseline.rate if baseline.rate > 0 else float("nan"),
        plans=found,
        plans_empty=plans_empty,
    )
