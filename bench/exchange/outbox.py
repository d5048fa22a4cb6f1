"""The sender's outbox, read directly by the bench (one host clock: every instant is the
sender database's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bench.exchange.cluster import log
from bench.exchange.targets import RECEIVER


@dataclass(frozen=True)
class Span:
    """Instants of the outbox rows with after < id <= upto."""

    rows: int
    delivered: int
    retried: int
    first_queued: datetime | None
    last_queued: datetime | None
    first_claimed: datetime | None
    first_stored: datetime | None
    last_stored: datetime | None


class Outbox:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def last_id(self) -> int:
        value: int = await self._connection.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
        return value

    async def states(self, after: int, upto: int) -> dict[str, int]:
        rows = await self._connection.fetch(
            "SELECT state::text AS state, count(*) AS n FROM outbox"
            " WHERE id > $1 AND id <= $2 GROUP BY 1",
            after,
            upto,
        )
        return {row["state"]: row["n"] for row in rows}

    async def first_pending(self, after: int, upto: int) -> int | None:
        """The lowest id still queued or sending, or None when all are final.

        Cheap on purpose (the gateway's own partial index on pending rows, one entry read):
        a count over the phase's rows would scan ~1 KiB per row and load the very database
        being measured. Claims go in id order, so the ids before it are (nearly all) done.
        """
        value: int | None = await self._connection.fetchval(
            "SELECT min(id) FROM outbox WHERE recipient = $1"
            " AND state IN ('queued', 'sending') AND id > $2 AND id <= $3",
            RECEIVER,
            after,
            upto,
        )
        return value

    async def wait_final(
        self, after: int, upto: int, timeout: float, label: str
    ) -> tuple[bool, float]:
        """Poll every 0.1 s until no row is pending; (all final?, perf_counter when seen)."""
        expected = upto - after
        started = time.perf_counter()
        deadline = started + timeout
        last_report = started
        while True:
            pending = await self.first_pending(after, upto)
            now = time.perf_counter()
            if pending is None:
                return True, now
            if now > deadline:
                log(f"{label}: timed out after {timeout:.0f}s: {await self.states(after, upto)}")
                return False, now
            if now - last_report >= 5:
                done = pending - after - 1
                log(f"{label}: ~{done}/{expected} done after {now - started:.0f}s")
                last_report = now
            await asyncio.sleep(0.1)

    async def span(self, after: int, upto: int) -> Span:
        row = await self._connection.fetchrow(
            """
            SELECT count(*) AS rows,
                   count(*) FILTER (WHERE o.state = 'delivered') AS delivered,
                   count(*) FILTER (WHERE o.attempts > 1) AS retried,
                   min(o.queued_at) AS first_queued, max(o.queued_at) AS last_queued,
                   min(o.claimed_at) AS first_claimed,
                   min(r.stored_at) AS first_stored, max(r.stored_at) AS last_stored
            FROM outbox o LEFT JOIN receipts r USING (message_id)
            WHERE o.id > $1 AND o.id <= $2
            """,
            after,
            upto,
        )
        assert row is not None
        return Span(**dict(row.items()))

    async def latencies(self, after: int, upto: int) -> list[tuple[float, float, float]]:
        """(claimed - queued, stored - claimed, stored - queued) in seconds, per delivery."""
        rows = await self._connection.fetch(
            """
            SELECT extract(epoch FROM o.claimed_at - o.queued_at)::float8 AS waiting,
                   extract(epoch FROM r.stored_at - o.claimed_at)::float8 AS in_flight,
                   extract(epoch FROM r.stored_at - o.queued_at)::float8 AS total
            FROM outbox o JOIN receipts r USING (message_id)
            WHERE o.id > $1 AND o.id <= $2 AND o.state = 'delivered'
            """,
            after,
            upto,
        )
        return [(row["waiting"], row["in_flight"], row["total"]) for row in rows]

    async def receipts_stored(
        self, ids: Sequence[str], timeout: float
    ) -> tuple[dict[str, datetime], bool]:
        """receipts.stored_at of the messages ids, polled until all are there or timeout."""
        deadline = time.perf_counter() + timeout
        last_report = time.perf_counter()
        while True:
            count: int = await self._connection.fetchval(
                "SELECT count(*) FROM receipts WHERE message_id = ANY($1::uuid[])", ids
            )
            now = time.perf_counter()
            if count >= len(ids) or now > deadline:
                break
            if now - last_report >= 5:
                log(f"{count}/{len(ids)} receipts stored")
                last_report = now
            await asyncio.sleep(0.2)
        rows = await self._connection.fetch(
            "SELECT message_id::text AS id, stored_at FROM receipts"
            " WHERE message_id = ANY($1::uuid[])",
            ids,
        )
        return {row["id"]: row["stored_at"] for row in rows}, count >= len(ids)

    async def drain(self, after: int, label: str) -> bool:
        """Wait until every row queued after `after` so far is final."""
        upto = await self.last_id()
        completed, _ = await self.wait_final(after, upto, 900, label)
        return completed
