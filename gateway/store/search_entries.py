"""The search index's rows (0020_search_index.sql): its sealed key, the entries, and the
record of which inbox/outbox rows were read.

Everything here is opaque bytes to the store: sealing and opening are gateway.crypto's, what
is in an entry is gateway.search's. Kept apart from store.py (a mixin of Store).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.store.listening import Listener
from gateway.store.part import StorePart, stored_content
from gateway.store.queries import Q

SEARCH_CHANNEL = "blg_search"


@dataclass(frozen=True, slots=True)
class StoredSearchKey:
    generation: int
    key_id: str
    sealed: bytes


@dataclass(frozen=True, slots=True)
class UnindexedRow:
    """An inbox ("in") or outbox ("out") row the indexer has not read yet."""

    direction: str
    id: int
    peer: str
    case_id: uuid.UUID
    kind: str
    envelope: bytes | None  # None once retention deleted the content
    handling: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class NewSearchEntry:
    direction: str
    message_row: int
    ordinal: int
    case_id: uuid.UUID
    kind: str
    peer: str
    occurred_at: datetime
    generation: int
    sealed: bytes


@dataclass(frozen=True, slots=True)
class StoredSearchEntry:
    id: int
    direction: str
    message_row: int
    ordinal: int
    case_id: uuid.UUID
    kind: str
    peer: str
    occurred_at: datetime
    generation: int
    sealed: bytes


@dataclass(frozen=True, slots=True)
class SearchProgress:
    indexed: int  # inbox + outbox rows read
    entries: int
    messages: int  # inbox + outbox rows


class SearchEntries(StorePart):
    """Mixed into Store."""

    _dsn: str

    async def search_key(self) -> StoredSearchKey | None:
        """The newest index key, sealed."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.search_key_newest)
        return None if row is None else StoredSearchKey(row[0], row[1], bytes(row[2]))

    async def add_search_key(self, key: StoredSearchKey, at: datetime) -> bool:
        """Stores a new generation; older generations, their entries and the record of read
        rows go in the same transaction (everything is read again under the new key).
        False when another process stored this generation first."""
        async with self._pool.acquire() as connection, connection.transaction():
            added = await connection.fetchval(
                Q.search_key_insert, key.generation, key.key_id, key.sealed, at
            )
            if added is None:
                return False
            if key.generation > 1:
                await connection.execute(Q.search_keys_drop_older, key.generation)
                await connection.execute(Q.search_indexed_forget)
            return True

    async def rewrap_search_key(self, old: StoredSearchKey, key_id: str, sealed: bytes) -> bool:
        """The key sealed anew to own pair key_id; False when someone else did it first."""
        async with self._pool.acquire() as connection:
            done = await connection.fetchval(
                Q.search_key_rewrap, old.generation, old.key_id, key_id, sealed
            )
        return done is not None

    async def unindexed_rows(self, limit: int) -> list[UnindexedRow]:
        """Up to limit rows of each of inbox and outbox not yet read, oldest first."""
        found: list[UnindexedRow] = []
        async with self._pool.acquire() as connection:
            for direction, query in (
                ("in", Q.search_pending_inbox),
                ("out", Q.search_pending_outbox),
            ):
                for row in await connection.fetch(query, limit):
                    found.append(
                        UnindexedRow(
                            direction=direction,
                            id=row["id"],
                            peer=row["peer"],
                            case_id=row["case_id"],
                            kind=row["kind"],
                            envelope=stored_content(row["envelope"]),
                            handling=row["handling"],
                            occurred_at=row["occurred_at"],
                        )
                    )
        return found

    async def record_indexed(
        self,
        read: Sequence[tuple[str, int, int]],
        entries: Sequence[NewSearchEntry],
        at: datetime,
    ) -> int:
        """Marks rows (direction, row id, persons) read and stores their entries, in one
        transaction; rows another indexer marked first keep its entries, not these.
        Returns the number of entries written."""
        async with self._pool.acquire() as connection, connection.transaction():
            claimed = await connection.fetch(
                Q.search_indexed_insert,
                [direction for direction, _, _ in read],
                [row if direction == "in" else None for direction, row, _ in read],
                [row if direction == "out" else None for direction, row, _ in read],
                [persons for _, _, persons in read],
                at,
            )
            mine = {(row["direction"], row["message_row"]) for row in claimed}
            kept = [entry for entry in entries if (entry.direction, entry.message_row) in mine]
            if kept:
                await connection.execute(
                    Q.search_entries_insert,
                    [entry.direction for entry in kept],
                    [entry.message_row if entry.direction == "in" else None for entry in kept],
                    [entry.message_row if entry.direction == "out" else None for entry in kept],
                    [entry.ordinal for entry in kept],
                    [entry.case_id for entry in kept],
                    [entry.kind for entry in kept],
                    [entry.peer for entry in kept],
                    [entry.occurred_at for entry in kept],
                    [entry.generation for entry in kept],
                    [entry.sealed for entry in kept],
                )
        return len(kept)

    async def search_entries_after(self, after: int, limit: int) -> list[StoredSearchEntry]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.search_entries_after, after, limit)
        return [
            StoredSearchEntry(
                id=row["id"],
                direction=row["direction"],
                message_row=row["message_row"],
                ordinal=row["ordinal"],
                case_id=row["case_id"],
                kind=row["kind"],
                peer=row["peer"],
                occurred_at=row["occurred_at"],
                generation=row["generation"],
                sealed=bytes(row["sealed"]),
            )
            for row in rows
        ]

    async def search_entries_present(self, ids: Sequence[int]) -> set[int]:
        """Which of ids are still stored."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.search_entries_present, list(ids))
        return {row["id"] for row in rows}

    async def search_entry_ids(self, up_to: int) -> set[int]:
        """Every stored entry id up to up_to (a full reload's check of what is gone)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.search_entries_ids, up_to)
        return {row["id"] for row in rows}

    async def search_progress(self) -> SearchProgress:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.search_progress)
        assert row is not None
        return SearchProgress(row["indexed"], row["entries"], row["messages"])

    async def listen_search(
        self, on_stored: Callable[[str], None]
    ) -> Callable[[], Awaitable[None]]:
        """Call on_stored(table) whenever inbox or outbox rows are committed."""
        listener = Listener(self._dsn, {SEARCH_CHANNEL: on_stored})
        await listener.start()
        return listener.stop
