"""ReportFactsTally: records the report facts of every message whose content is still here,
before retention deletes it (and before a report reads them).

Design notes:
- Runs in the retention sweep, just before content is purged (RetentionSweep's
  before_purge), and at the start of every report for the report's period. Both select
  only rows with content and no facts yet, PAGE at a time per table in id order, so a
  sweep after the first costs what arrived since; several processes may tally at once (the
  insert keeps the first facts of a row).
- Opening and sealing run on a worker thread, one page per hop: CPU work on stored
  envelopes never blocks the event loop, and names never leave the worker (content.py).
- A tally that fails must not stop retention: the sweep logs it and purges all the same
  (those messages are then counted as unreadable, never kept longer than policy says).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Literal, Protocol

from gateway.crypto import Keyring
from gateway.report.content import tally_batch
from gateway.store.report_stats import SealedRow, TalliedFacts
from gateway.wire import Kind

PAGE = 200
CONTENT_KINDS = (Kind.VICTIM_HANDOVER.value, Kind.HOTLINE_ALERT.value)
EVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


class TallyStore(Protocol):
    async def report_untallied_page(
        self,
        direction: Literal["in", "out"],
        kinds: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        after_id: int,
        limit: int,
    ) -> list[SealedRow]: ...

    async def report_facts_insert(self, facts: Sequence[TalliedFacts], now: datetime) -> None: ...


class ReportFactsTally:
    def __init__(
        self,
        store: TallyStore,
        keyring: Keyring,
        zone: tzinfo,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._zone = zone
        self._clock = clock

    async def tally(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> int:
        """Record the facts of every untallied message (queued or received in [start, end)
        when given); how many were recorded."""
        low, high = start or EVER[0], end or EVER[1]
        loop = asyncio.get_running_loop()
        count = 0
        directions: tuple[Literal["in", "out"], ...] = ("out", "in")
        for direction in directions:
            after = 0
            while True:
                rows = await self._store.report_untallied_page(
                    direction, CONTENT_KINDS, low, high, after_id=after, limit=PAGE
                )
                if not rows:
                    break
                now = self._clock()
                facts = await loop.run_in_executor(
                    None, tally_batch, self._keyring, rows, self._zone, now
                )
                await self._store.report_facts_insert(facts, now)
                count += len(rows)
                after = rows[-1].id
                if progress is not None:
                    progress(f"opened {count} messages")
        return count
