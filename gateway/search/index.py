"""SearchIndex: the search index encrypted at rest, matched in memory.

Design notes (the decision, with the numbers in README "Search" and bench/README.md):
- Rejected: a keyed blind index (HMAC'd n-grams or phonetic keys in the database). A dump of
  it leaks frequencies and equality patterns (who shares a name, how common a gram is), and
  it cannot rank by real edit distance across transliterations: Khmer-script, Vietnamese and
  Latin forms of one name share few exact grams.
- Rejected: opening envelopes at query time. A signature check, a decryption and a parse per
  message, over 100,000 cases, per query: bench/search.py measures it (seconds per query,
  against a p95 target of 1 s).
- Chosen: one sealed row per person (search_entries, sealed under the node's index key,
  gateway.crypto.search_seal), opened once at start on worker threads, kept in memory as an
  immutable Snapshot (gateway.search.matcher) and ranked with rapidfuzz on a worker thread.
  Plaintext names exist only in this process's memory.
- Freshness: before answering, entries with an id above the last seen are loaded (one
  indexed query when nothing is new); the indexer's on_written also triggers it. Entries
  whose rows are gone (retention deleted the content, a row was deleted) are dropped: the
  hits are checked against the database before they are returned, and every
  FULL_CHECK_SECONDS the whole id set is compared.
- Bounds: query text at most MAX_TEXT_CHARS characters and MAX_TEXT_TOKENS words, at most
  MAX_LIMIT hits (checked by the API and the console; enforced again here).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace

from gateway.crypto.search_seal import SearchEntryUnreadable, open_entry
from gateway.ops.logs import fields
from gateway.search import matcher
from gateway.search.index_key import IndexKey, OpenIndexKey
from gateway.search.model import IndexedPerson, ScoredPerson, SearchQuery
from gateway.search.persons import decode_person
from gateway.store.search_entries import SearchEntries, StoredSearchEntry

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 200
MAX_TEXT_TOKENS = 8
MAX_LIMIT = 200
LOAD_BATCH = 5000
FULL_CHECK_SECONDS = 600.0


def open_entries(
    key: OpenIndexKey, entries: Sequence[StoredSearchEntry]
) -> tuple[list[IndexedPerson], int]:
    """The persons of sealed entries, and how many did not open. Blocking (worker thread)."""
    persons: list[IndexedPerson] = []
    unreadable = 0
    for entry in entries:
        if entry.generation != key.generation:
            unreadable += 1
            continue
        try:
            named = decode_person(
                open_entry(
                    key.key,
                    entry.sealed,
                    direction=entry.direction,
                    message_row=entry.message_row,
                    ordinal=entry.ordinal,
                    generation=entry.generation,
                )
            )
        except (SearchEntryUnreadable, ValueError, KeyError, TypeError):
            unreadable += 1
            continue
        persons.append(
            IndexedPerson(
                entry_id=entry.id,
                case_id=entry.case_id,
                direction="in" if entry.direction == "in" else "out",
                message_row=entry.message_row,
                kind=entry.kind,
                peer=entry.peer,
                occurred_at=entry.occurred_at,
                role=named.role,
                names=named.names,
                folded=named.folded,
                sex=named.sex,
                birth_year=named.birth_year,
                birth_date=named.birth_date,
                document_numbers=named.document_numbers,
                border_gate=named.border_gate,
                handling=named.handling,
            )
        )
    return persons, unreadable


def bounded(query: SearchQuery) -> SearchQuery:
    """The query cut to the index's bounds (the API refuses longer ones with a field error)."""
    words = query.text[:MAX_TEXT_CHARS].split()[:MAX_TEXT_TOKENS]
    return replace(query, text=" ".join(words), limit=max(1, min(query.limit, MAX_LIMIT)))


class SearchIndex:
    """Implements PersonSearch and PersonIndex (gateway.search.model)."""

    def __init__(
        self,
        *,
        store: SearchEntries,
        key: IndexKey,
        executor: Executor | None = None,
        full_check_seconds: float = FULL_CHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._key = key
        self._executor = executor
        self._full_check_seconds = full_check_seconds
        self._monotonic = monotonic
        self._snapshot = matcher.Snapshot()
        self._last_id = 0
        self._checked_at = monotonic()
        self._lock = asyncio.Lock()
        # Workers that read the index's new people (possible matches) and want to know at
        # once rather than at their next poll.
        self._followers: list[Callable[[], None]] = []
        self._ids: list[int] = []  # sorted entry ids of the snapshot, for persons_after

    @property
    def size(self) -> int:
        return len(self._snapshot.persons)

    @property
    def distinct_names(self) -> int:
        """Distinct folded names: what each query's scorers run over (bench/search.py)."""
        return len(self._snapshot.folded)

    async def start(self) -> None:
        """Load every entry (worker threads, batches of LOAD_BATCH)."""
        started = time.monotonic()
        await self.refresh()
        log.info(
            "search_index_loaded",
            extra=fields(entries=self.size, seconds=round(time.monotonic() - started, 2)),
        )

    def follow(self, wake: Callable[[], None]) -> None:
        """Call wake whenever the indexer has written entries."""
        self._followers.append(wake)

    def written(self) -> None:
        """The indexer wrote entries: wake the followers; the index itself refreshes before
        its next answer."""
        for wake in self._followers:
            wake()

    async def refresh(self) -> None:
        async with self._lock:
            await self._load_new()
            if self._monotonic() - self._checked_at >= self._full_check_seconds:
                await self._drop_gone()

    async def _load_new(self) -> None:
        key = await self._key.current()
        snapshot = self._snapshot
        added: list[IndexedPerson] = []
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._store.search_entries_after(self._last_id, LOAD_BATCH)
            if not batch:
                break
            if any(entry.generation > key.generation for entry in batch):
                # Another process made a new key: read it, and everything, again.
                self._key.forget()
                key = await self._key.current()
                snapshot, added, self._last_id = matcher.Snapshot(), [], 0
                continue
            persons, unreadable = await loop.run_in_executor(
                self._executor, open_entries, key, batch
            )
            if unreadable:
                log.warning("search_entries_unreadable", extra=fields(count=unreadable))
            added += persons
            self._last_id = batch[-1].id
            if len(batch) < LOAD_BATCH:
                break
        if added or snapshot is not self._snapshot:
            await self._publish(snapshot, added, ())

    async def _publish(
        self, base: matcher.Snapshot, added: Sequence[IndexedPerson], dropped: Sequence[int]
    ) -> None:
        snapshot = await asyncio.get_running_loop().run_in_executor(
            self._executor, matcher.extend, base, added, dropped
        )
        self._snapshot = snapshot
        self._ids = sorted(snapshot.persons)

    async def _drop_gone(self) -> None:
        self._checked_at = self._monotonic()
        present = await self._store.search_entry_ids(self._last_id)
        gone = [entry_id for entry_id in self._snapshot.persons if entry_id not in present]
        if gone:
            await self._publish(self._snapshot, (), gone)

    async def _verified(self, hits: list[ScoredPerson]) -> list[ScoredPerson]:
        """The hits whose entries are still stored; the others leave the index now."""
        if not hits:
            return hits
        present = await self._store.search_entries_present([hit.person.entry_id for hit in hits])
        gone = [hit.person.entry_id for hit in hits if hit.person.entry_id not in present]
        if gone:
            async with self._lock:
                await self._publish(self._snapshot, (), gone)
        return [hit for hit in hits if hit.person.entry_id in present]

    async def search(self, query: SearchQuery) -> list[ScoredPerson]:
        await self.refresh()
        query = bounded(query)
        snapshot = self._snapshot
        # A few more than asked: some may turn out gone when checked against the database.
        asked = replace(query, limit=min(query.limit + 10, MAX_LIMIT + 10))
        hits = await asyncio.get_running_loop().run_in_executor(
            self._executor, matcher.search, snapshot, asked
        )
        return (await self._verified(hits))[: query.limit]

    async def similar(self, person: IndexedPerson, *, limit: int) -> list[ScoredPerson]:
        await self.refresh()
        snapshot = self._snapshot
        limit = max(1, min(limit, MAX_LIMIT))
        hits = await asyncio.get_running_loop().run_in_executor(
            self._executor, matcher.similar, snapshot, person, limit + 10
        )
        return (await self._verified(hits))[:limit]

    async def persons_after(self, entry_id: int, *, limit: int) -> list[IndexedPerson]:
        await self.refresh()
        ids = self._ids
        persons = self._snapshot.persons
        start = bisect.bisect_right(ids, entry_id)
        return [persons[i] for i in ids[start : start + max(0, limit)] if i in persons]
