"""SearchIndexer: reads stored messages once each and writes their people, sealed, to the
search index.

Design notes:
- Work: the inbox and outbox rows with no search_indexed record, in bounded batches, oldest
  first. A batch's envelopes are opened (signature check and decryption, the case pages'
  reopen_stored / reopen_sent) and its entries sealed on a worker thread, never on the
  event loop; then its read-records and entries are written in one transaction. A crash
  re-reads at most the batch it was in; a row is never indexed twice (the record's unique
  constraint decides between two indexers). Rows that name nobody, or whose content
  retention already deleted, or that do not open, are recorded as read with 0 persons.
- Wake-ups: the 0020 triggers NOTIFY `blg_search` when inbox or outbox rows are committed
  (by this process or any other: the CLI's send), plus a bounded idle poll for
  notifications lost while the listening session was down. Drafts are not in the outbox
  until approved, so they are never indexed.
- At start it catches up on everything stored before (the backfill), logging progress by
  counts only: nothing of a message's content reaches a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import datetime

from gateway.crypto import Keyring
from gateway.crypto.search_seal import seal_entry
from gateway.ops.logs import fields
from gateway.search.index_key import IndexKey, OpenIndexKey
from gateway.search.persons import encode_person, named_persons, open_stored_message
from gateway.store.search_entries import NewSearchEntry, SearchEntries, UnindexedRow
from gateway.wire import Kind

log = logging.getLogger(__name__)

_CANONICAL_KINDS = frozenset(kind.value for kind in Kind)
BATCH_ROWS = 200
IDLE_POLL_SECONDS = 30.0
RETRY_SECONDS = 5.0


def read_rows(
    keyring: Keyring, key: OpenIndexKey, rows: Sequence[UnindexedRow]
) -> tuple[list[tuple[str, int, int]], list[NewSearchEntry]]:
    """Open each row's envelope and seal its people. Blocking (a worker thread)."""
    read: list[tuple[str, int, int]] = []
    entries: list[NewSearchEntry] = []
    for row in rows:
        # Control messages (receipts' acknowledgements, cancellations, checkpoints) name
        # nobody and are not canonical messages: never opened as one.
        message = (
            open_stored_message(keyring, row.direction, row.envelope)
            if row.kind in _CANONICAL_KINDS
            else None
        )
        persons = [] if message is None else named_persons(message)
        read.append((row.direction, row.id, len(persons)))
        for ordinal, person in enumerate(persons):
            entries.append(
                NewSearchEntry(
                    direction=row.direction,
                    message_row=row.id,
                    ordinal=ordinal,
                    case_id=row.case_id,
                    kind=row.kind,
                    peer=row.peer,
                    occurred_at=row.occurred_at,
                    generation=key.generation,
                    sealed=seal_entry(
                        key.key,
                        encode_person(person),
                        direction=row.direction,
                        message_row=row.id,
                        ordinal=ordinal,
                        generation=key.generation,
                    ),
                )
            )
    return read, entries


class SearchIndexer:
    """The background worker; run() until cancelled."""

    def __init__(
        self,
        *,
        store: SearchEntries,
        keyring: Keyring,
        key: IndexKey,
        clock: Callable[[], datetime],
        executor: Executor | None = None,
        batch_rows: int = BATCH_ROWS,
        idle_poll: float = IDLE_POLL_SECONDS,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._key = key
        self._clock = clock
        self._executor = executor
        self._batch_rows = batch_rows
        self._idle_poll = idle_poll
        self._on_written = on_written
        self._woken = asyncio.Event()

    def wake(self, _table: str = "") -> None:
        self._woken.set()

    async def run(self) -> None:
        stop_listening = None
        try:
            try:
                stop_listening = await self._store.listen_search(self.wake)
            except Exception as error:  # the idle poll still finds every row
                log.warning("search_listen_failed", extra=fields(error_type=type(error).__name__))
            first = True
            while True:
                self._woken.clear()
                try:
                    await self.catch_up(log_progress=first)
                    first = False
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    # Database gone for a moment, say: try again shortly, never give up.
                    # A replaced key (another process made a new generation) is read again.
                    log.warning(
                        "search_index_failed", extra=fields(error_type=type(error).__name__)
                    )
                    self._key.forget()
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), self._idle_poll)
        finally:
            if stop_listening is not None:
                await stop_listening()

    async def catch_up(self, *, log_progress: bool = False) -> int:
        """Index every row not yet read; returns how many rows were read."""
        total = 0
        if log_progress:
            progress = await self._store.search_progress()
            if progress.indexed < progress.messages:
                log.info(
                    "search_backfill_started",
                    extra=fields(indexed=progress.indexed, messages=progress.messages),
                )
        while True:
            read, written = await self.index_batch()
            total += read
            if log_progress and read:
                log.info("search_backfill_progress", extra=fields(rows=total))
            if written and self._on_written is not None:
                self._on_written()
            if read == 0:
                break
        if log_progress and total:
            progress = await self._store.search_progress()
            log.info(
                "search_backfill_done",
                extra=fields(rows=total, entries=progress.entries, messages=progress.messages),
            )
        return total

    async def index_batch(self) -> tuple[int, int]:
        """One batch: (rows read, entries written)."""
        rows = await self._store.unindexed_rows(self._batch_rows)
        if not rows:
            return 0, 0
        key = await self._key.current()
        read, entries = await asyncio.get_running_loop().run_in_executor(
            self._executor, read_rows, self._keyring, key, rows
        )
        written = await self._store.record_indexed(read, entries, self._clock())
        return len(rows), written
