"""Attachment streams at rest: chunk rows, resumable appends, bounded reads (issue 11).

A stream (docs/PROTOCOL.md 7.1) is stored as it arrives, in rows of at most CHUNK_BYTES
(migration 0014), keyed by its owner (the peer that sends it, or later the local client that
uploads it), its direction and its attachment id. Design:

- Resumable and idempotent: `append_attachment(key, offset, data)` takes the bytes at
  `offset` and returns the contiguous length received. Bytes before the received length are
  skipped (a resend after a lost answer), so a retried piece changes nothing; bytes after a
  gap are refused (`AttachmentGap`, with the length to resume from). Only the last row may be
  short; an append fills it up before adding rows, so the received length is always the
  sum of the rows, and a caller that hands in pieces ending on CHUNK_BYTES boundaries writes
  each row once.
- Bounded: one append writes what the caller holds (the endpoint holds at most one row); a
  read yields one row at a time, each fetched on its own, so neither side ever holds a
  stream. Limits are checked under the stream's row lock, so two concurrent uploads of one
  stream cannot together pass them.
- Complete: when the received length reaches the declared size, `complete_attachment`
  hashes the stored rows (read back one by one) and moves the stream to 'complete' with its
  SHA-256, which the envelope's AttachmentKey.ciphertext_sha256 must then match (next step).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import asyncpg

from gateway.store.part import StorePart
from gateway.store.queries import Q

if TYPE_CHECKING:
    from gateway.store.part import Connection

CHUNK_BYTES = 1024 * 1024
Direction = Literal["incoming", "outgoing"]
AttachmentState = Literal["receiving", "complete", "verified"]


@dataclass(frozen=True)
class AttachmentKeyRef:
    """Which stream: its owner (peer or local client), direction and attachment id."""

    owner: str
    direction: Direction
    attachment_id: str

    def args(self) -> tuple[str, str, str]:
        return (self.owner, self.direction, self.attachment_id)


@dataclass(frozen=True)
class AttachmentProgress:
    """A stream's state as stored."""

    received: int
    declared_size: int | None
    state: AttachmentState
    stream_sha256: bytes | None = None

    @property
    def all_received(self) -> bool:
        return self.declared_size is not None and self.received == self.declared_size


class AttachmentRefused(Exception):  # noqa: N818 - a verdict, with the progress to resume from
    """An append the store does not take; nothing of it was written."""

    code = "attachment_refused"

    def __init__(self, progress: AttachmentProgress) -> None:
        super().__init__(self.code)
        self.progress = progress


class AttachmentGap(AttachmentRefused):
    """The piece starts after the received length: resume from progress.received."""

    code = "attachment_offset_mismatch"


class AttachmentSizeConflict(AttachmentRefused):
    """The piece names another total size than the one declared before, or passes it."""

    code = "attachment_size_mismatch"


class AttachmentTooLarge(AttachmentRefused):
    """The stream would pass the size limit."""

    code = "attachment_too_large"


def _progress(row: asyncpg.Record) -> AttachmentProgress:
    sha = row["stream_sha256"]
    return AttachmentProgress(
        row["received_bytes"], row["declared_size"], row["state"], bytes(sha) if sha else None
    )


class Attachments(StorePart):
    """Mixed into Store: attachment streams and their chunk rows."""

    async def attachment_progress(self, key: AttachmentKeyRef) -> AttachmentProgress | None:
        """The stream's stored state, or None when nothing of it was ever received."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.attachment_get, *key.args())
        return _progress(row) if row else None

    async def append_attachment(
        self,
        key: AttachmentKeyRef,
        offset: int,
        data: bytes,
        *,
        declared_size: int | None,
        max_bytes: int,
        now: datetime,
    ) -> AttachmentProgress:
        """Store data as the stream's bytes from offset; returns the stream's progress.

        Raises an AttachmentRefused (nothing written) on a gap, a size that contradicts the
        declared one, or a stream over max_bytes."""
        if offset < 0:
            raise ValueError("offset must not be negative")
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(Q.attachment_create, *key.args(), now)
            row = await connection.fetchrow(Q.attachment_lock, *key.args())
            assert row is not None  # created above or before, never deleted in between
            progress = _progress(row)
            received = progress.received
            if declared_size is not None and progress.declared_size not in (None, declared_size):
                raise AttachmentSizeConflict(progress)
            total = progress.declared_size if progress.declared_size is not None else declared_size
            if offset > received:
                raise AttachmentGap(progress)
            fresh = data[received - offset :]
            end = received + len(fresh)
            if total is not None and (total > max_bytes or end > total):
                raise (AttachmentTooLarge if total > max_bytes else AttachmentSizeConflict)(
                    progress
                )
            if end > max_bytes:
                raise AttachmentTooLarge(progress)
            if not fresh:
                if total is not None and progress.declared_size is None:
                    await connection.execute(
                        Q.attachment_set_received, *key.args(), received, total
                    )
                    return AttachmentProgress(received, total, progress.state)
                return progress
            await self._write_rows(connection, key, received, fresh)
            await connection.execute(Q.attachment_set_received, *key.args(), end, total)
        return AttachmentProgress(end, total, progress.state)

    @staticmethod
    async def _write_rows(
        conn: Connection, key: AttachmentKeyRef, received: int, fresh: bytes
    ) -> None:
        n, used = divmod(received, CHUNK_BYTES)
        at = 0
        if used:
            # The last row is short: fill it up first, so that rows stay CHUNK_BYTES long.
            piece = fresh[: CHUNK_BYTES - used]
            status = await conn.execute(Q.attachment_chunk_extend, *key.args(), n, used, piece)
            if status != "UPDATE 1":
                raise RuntimeError("attachment row missing under its lock")
            at, n = len(piece), n + 1
        while at < len(fresh):
            await conn.execute(
                Q.attachment_chunk_insert, *key.args(), n, fresh[at : at + CHUNK_BYTES]
            )
            at, n = at + CHUNK_BYTES, n + 1

    async def read_attachment(
        self, key: AttachmentKeyRef, *, limit: int | None = None, start: int = 0
    ) -> AsyncIterator[bytes]:
        """The stream's bytes from start, one row at a time (at most CHUNK_BYTES held), up to
        the length received when the read began (or limit). Each row is fetched on its own
        pool connection, so a slow consumer holds no connection."""
        progress = await self.attachment_progress(key)
        if progress is None:
            return
        length = progress.received if limit is None else min(limit, progress.received)
        for n in range(start // CHUNK_BYTES, (length + CHUNK_BYTES - 1) // CHUNK_BYTES):
            async with self._pool.acquire() as connection:
                data = await connection.fetchval(Q.attachment_chunk_read, *key.args(), n)
            if data is None:
                raise RuntimeError("attachment row missing below the received length")
            first = max(0, start - n * CHUNK_BYTES)
            yield bytes(data[first : length - n * CHUNK_BYTES])

    async def complete_attachment(
        self, key: AttachmentKeyRef, now: datetime, *, stream_sha256: bytes | None = None
    ) -> AttachmentProgress:
        """receiving -> complete once every declared byte is in, with the stream's SHA-256.
        Returns the progress after (unchanged when not all received, or already complete).

        stream_sha256: given by a writer that hashed the stream as it wrote it (this node's
        own encryption), which spares reading it back."""
        progress = await self.attachment_progress(key)
        if progress is None or progress.state != "receiving" or not progress.all_received:
            if progress is None:
                raise KeyError("no such attachment")
            return progress
        if stream_sha256 is None:
            digest = hashlib.sha256()
            async for data in self.read_attachment(key):
                digest.update(data)
            stream_sha256 = digest.digest()
        async with self._pool.acquire() as connection:
            await connection.fetchval(Q.attachment_complete, *key.args(), stream_sha256, now)
            row = await connection.fetchrow(Q.attachment_get, *key.args())
        assert row is not None
        return _progress(row)

    async def pending_attachment_bytes(self, sender: str) -> int:
        """Bytes of the peer's incoming streams that no accepted envelope names (its quota)."""
        async with self._pool.acquire() as connection:
            return int(await connection.fetchval(Q.attachment_pending_bytes, sender))

    async def delete_stale_attachments(self, created_before: datetime) -> int:
        """Drop the uploads begun before created_before and never completed (a sender that
        gave up, or a peer filling the disk); returns how many. For the retention sweep."""
        async with self._pool.acquire() as connection:
            status = await connection.execute(Q.attachment_delete_stale, created_before)
        return int(status.split()[-1])
