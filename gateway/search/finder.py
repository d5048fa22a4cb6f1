"""The possible-match finder: each new person in the index, once, against the people already
in it (issue 13 item 2).

Design notes:
- The finder keeps its own durable cursor (possible_match_cursor, the last index entry it
  examined) and reads new people with PersonIndex.persons_after(), at most `batch` at a time.
  For each it asks PersonIndex.similar() for at most `candidates` people, applies the rules
  of gateway.search.matching, and records the pairs with the cursor advance in one
  transaction (Store.record_possible_matches): killed at any line, it starts again where the
  last commit left it; a pair found twice (from each side, or by a re-run) is one row.
- Only people in open cases are candidates, and a person never matches their own case:
  a case is open when nobody cancelled it (a peer here, or this node) and at least one of
  its messages is alive (received, or sent and not rejected, expired or dead); see the
  possible_match_open_cases query. A person examined while their case is closed is passed
  over for good (a cancellation is final).
- Received and sent messages are indexed alike (a composed message once it is in the
  outbox), so a hotline alert this node sent and a handover it received meet here.
- Nothing here logs a name: log lines carry counts and entry ids only. similar() is the
  index's work, bounded by `candidates` and off the event loop as the index does it; the
  rules themselves are a few comparisons.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.ops.logs import fields
from gateway.search.matching import match_reasons
from gateway.search.model import IndexedPerson, PersonIndex
from gateway.store import Store
from gateway.store.matches import CursorMoved, FoundPair

log = logging.getLogger(__name__)


class PossibleMatchFinder:
    """Finds possible matches among newly indexed people; run() until cancelled."""

    def __init__(
        self,
        *,
        index: PersonIndex,
        store: Store,
        batch: int = 100,
        candidates: int = 20,
        poll: float = 2.0,
    ) -> None:
        self._index = index
        self._store = store
        self._batch = batch
        self._candidates = candidates
        self._poll = poll
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for new people now (the index calls it after adding some)."""
        self._wake.set()

    async def run(self) -> None:
        """Examine new people in batches, then wait for a wake-up or `poll` seconds. A
        failed batch (the database away) is logged and tried again at the next turn."""
        while True:
            # Cleared before the batch: a wake-up during it is not lost.
            self._wake.clear()
            examined = 0
            try:
                examined = await self.step()
            except CursorMoved:
                examined = 1  # another finder went first: read the cursor again now
            except (TimeoutError, OSError) as error:
                log.warning("possible_match_failed", extra=fields(error=type(error).__name__))
            except Exception:
                log.exception("possible_match_failed")
            if not examined:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def step(self) -> int:
        """Examine the next batch of new people; how many were examined (0: none new)."""
        after = await self._store.possible_match_cursor()
        persons = await self._index.persons_after(after, limit=self._batch)
        if not persons:
            return 0
        found: list[FoundPair] = []
        for person in persons:
            found.extend(await self._pairs_of(person))
        cases = {p.case_id for p in persons} | {p.other_case_id for p in found}
        open_cases = await self._store.open_cases(sorted(cases))
        kept = [p for p in found if p.case_id in open_cases and p.other_case_id in open_cases]
        up_to = max(person.entry_id for person in persons)
        new = await self._store.record_possible_matches(after=after, up_to=up_to, pairs=kept)
        log.info(
            "possible_matches_examined",
            extra=fields(examined=len(persons), up_to=up_to, found=len(kept), new=new),
        )
        return len(persons)

    async def _pairs_of(self, person: IndexedPerson) -> list[FoundPair]:
        pairs: list[FoundPair] = []
        seen: set[int] = set()
        for candidate in await self._index.similar(person, limit=self._candidates):
            other = candidate.person
            if other.case_id == person.case_id or other.entry_id in seen:
                continue
            reasons = match_reasons(person, candidate)
            if reasons:
                seen.add(other.entry_id)
                pairs.append(
                    FoundPair(
                        person.entry_id, person.case_id, other.entry_id, other.case_id, reasons
                    )
                )
        return pairs
