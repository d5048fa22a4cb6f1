"""The report's figures, the store's side (issue 13 item 3): aggregates over what the
database holds in the clear, and pages of sealed envelopes for what only their content says.

Design notes:
- Counts, deadlines and times are aggregated in SQL (queries.sql, `-- issue 13: report`):
  nothing but numbers and peer, kind and month keys comes back. Percentiles are
  percentile_cont over seconds, so a median of an even count is the mean of the middle two.
- Months are local calendar months of the caller's time zone, given as the instants they
  start at (`month_starts`); a row's month is its 1-based index in that list
  (width_bucket), so PostgreSQL needs no zone name and a fixed offset (UTC+7) works.
- Victims' sex and age and hotline categories are only inside sealed envelopes. Their coded
  facts are recorded once per row, sealed, in report_facts (migration 0022) before retention
  deletes the content: `report_untallied_page` hands out rows still to tally a bounded page at
  a time, `report_facts_insert` records them, and `report_facts_page` gives the report the
  period's rows with their facts. Pages are per table in primary-key order (keyset on id),
  so each walks an index instead of sorting the period again.

Kept apart from store.py (a mixin of Store); it shares the pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from gateway.store.part import StorePart
from gateway.store.queries import Q

ReportDirection = Literal["sent", "received"]


@dataclass(frozen=True)
class MessageCount:
    direction: ReportDirection
    peer: str
    kind: str
    month: int  # 1-based index into the month starts asked for
    count: int


@dataclass(frozen=True)
class AcknowledgementFigures:
    peer: str
    kind: str
    on_time: int
    late: int
    missing: int
    awaiting: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class DeliveryFigures:
    peer: str
    delivered: int
    undelivered: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class CancellationCount:
    direction: ReportDirection
    peer: str
    kind: str
    count: int


@dataclass(frozen=True)
class SealedRow:
    """One stored message to open: `direction` "out" for an outbox row, "in" for inbox."""

    direction: Literal["in", "out"]
    id: int
    case_id: uuid.UUID
    kind: str
    at: datetime  # queued (out) or received (in)
    envelope: bytes = field(repr=False)


@dataclass(frozen=True)
class TalliedFacts:
    """A row's report facts, sealed to this node (key_id, sealed); both None: unreadable."""

    direction: Literal["in", "out"]
    row_id: int
    key_id: str | None
    sealed: bytes | None = field(repr=False)


@dataclass(frozen=True)
class FactsRow:
    """A message of the report's period and its recorded facts (None: never tallied)."""

    direction: Literal["in", "out"]
    id: int
    case_id: uuid.UUID
    kind: str
    at: datetime
    facts: TalliedFacts | None


@dataclass(frozen=True)
class CaseOrigin:
    case_id: uuid.UUID
    first_sent: datetime | None
    first_received: datetime | None

    @property
    def ours(self) -> bool:
        """Whether this node wrote the case's first message (ours wins a tie)."""
        if self.first_sent is None:
            return False
        return self.first_received is None or self.first_sent <= self.first_received


class ReportStatistics(StorePart):
    """Mixed into Store: the figures of gateway.report.aggregate."""

    async def report_message_counts(
        self, month_starts: Sequence[datetime], kinds: Sequence[str], start: datetime, end: datetime
    ) -> list[MessageCount]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                Q.report_message_counts, list(month_starts), list(kinds), start, end
            )
        return [
            MessageCount(row["direction"], row["peer"], row["kind"], row["month"], row["n"])
            for row in rows
        ]

    async def report_acknowledgements(
        self, start: datetime, end: datetime, now: datetime
    ) -> list[AcknowledgementFigures]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.report_acknowledgements, start, end, now)
        return [
            AcknowledgementFigures(
                row["peer"],
                row["kind"],
                row["on_time"],
                row["late"],
                row["missing"],
                row["awaiting"],
                row["median_seconds"],
                row["p90_seconds"],
            )
            for row in rows
        ]

    async def report_delivery_latency(
        self, start: datetime, end: datetime, kinds: Sequence[str]
    ) -> list[DeliveryFigures]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.report_delivery_latency, start, end, list(kinds))
        return [
            DeliveryFigures(
                row["peer"],
                row["delivered"],
                row["undelivered"],
                row["median_seconds"],
                row["p90_seconds"],
            )
            for row in rows
        ]

    async def report_cancellations(self, start: datetime, end: datetime) -> list[CancellationCount]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.report_cancellations, start, end)
        return [
            CancellationCount(row["direction"], row["peer"], row["kind"], row["n"]) for row in rows
        ]

    async def report_untallied_page(
        self,
        direction: Literal["in", "out"],
        kinds: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        after_id: int,
        limit: int,
    ) -> list[SealedRow]:
        """Up to `limit` sent ("out") or received ("in") rows with content and no recorded
        facts, after row `after_id`, in id order."""
        query = Q.report_untallied_outbox if direction == "out" else Q.report_untallied_inbox
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(query, list(kinds), start, end, after_id, limit)
        return [
            SealedRow(
                row["direction"],
                row["id"],
                row["case_id"],
                row["kind"],
                row["at"],
                bytes(row["envelope"]),
            )
            for row in rows
        ]

    async def report_facts_insert(self, facts: Sequence[TalliedFacts], now: datetime) -> None:
        if not facts:
            return
        async with self._pool.acquire() as connection:
            await connection.execute(
                Q.report_facts_insert,
                [item.direction for item in facts],
                [item.row_id for item in facts],
                [item.key_id for item in facts],
                [item.sealed for item in facts],
                now,
            )

    async def report_facts_page(
        self,
        direction: Literal["in", "out"],
        start: datetime,
        end: datetime,
        kinds: Sequence[str],
        *,
        after_id: int,
        limit: int,
    ) -> list[FactsRow]:
        """Up to `limit` sent or received messages of the period with their sealed facts,
        after row `after_id`, in id order."""
        query = Q.report_facts_outbox if direction == "out" else Q.report_facts_inbox
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(query, start, end, list(kinds), after_id, limit)
        return [
            FactsRow(
                row["direction"],
                row["id"],
                row["case_id"],
                row["kind"],
                row["at"],
                TalliedFacts(
                    row["direction"],
                    row["id"],
                    row["key_id"],
                    None if row["sealed"] is None else bytes(row["sealed"]),
                )
                if row["tallied"]
                else None,
            )
            for row in rows
        ]

    async def report_case_origins(
        self, case_ids: Sequence[uuid.UUID], kinds: Sequence[str]
    ) -> dict[uuid.UUID, CaseOrigin]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.report_case_origins, list(case_ids), list(kinds))
        return {
            row["case_id"]: CaseOrigin(row["case_id"], row["first_sent"], row["first_received"])
            for row in rows
        }
