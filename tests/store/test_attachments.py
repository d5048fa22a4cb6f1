"""Attachment streams at rest (migration 0014, gateway.store.attachments), on a real database."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.store import Store
from gateway.store.attachments import (
    CHUNK_BYTES,
    AttachmentGap,
    AttachmentKeyRef,
    AttachmentRefused,
    AttachmentSizeConflict,
    AttachmentTooLarge,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
KEY = AttachmentKeyRef("vn-gialai-blo", "incoming", "att-1")
LIMIT = 8 * CHUNK_BYTES
STREAM = os.urandom(2 * CHUNK_BYTES + 1234)


async def _read(store: Store, key: AttachmentKeyRef = KEY) -> bytes:
    return b"".join([piece async for piece in store.read_attachment(key)])


async def _append(store: Store, offset: int, end: int, total: int | None = len(STREAM)) -> int:
    progress = await store.append_attachment(
        KEY, offset, STREAM[offset:end], declared_size=total, max_bytes=LIMIT, now=NOW
    )
    return progress.received


# Pieces as (first, end) of STREAM, sent in order: each table row must store STREAM whole.
PIECES = {
    "one_piece": [(0, len(STREAM))],
    "row_aligned": [(0, CHUNK_BYTES), (CHUNK_BYTES, 2 * CHUNK_BYTES), (2 * CHUNK_BYTES, None)],
    "unaligned": [(0, 1000), (1000, CHUNK_BYTES + 7), (CHUNK_BYTES + 7, None)],
    "overlapping_resends": [(0, 5000), (0, 5000), (3000, CHUNK_BYTES + 1), (10, 20), (5, None)],
}


@pytest.mark.parametrize("pieces", PIECES.values(), ids=PIECES.keys())
async def test_pieces_in_any_split_store_the_stream_whole(
    store: Store, pieces: list[tuple[int, int | None]]
) -> None:
    received = 0
    for first, end in pieces:
        stop = len(STREAM) if end is None else end
        received = await _append(store, first, stop)
        assert received == max(received, stop)
    assert received == len(STREAM)
    assert await _read(store) == STREAM
    complete = await store.complete_attachment(KEY, NOW)
    assert (complete.state, complete.stream_sha256) == ("complete", hashlib.sha256(STREAM).digest())
    # Rows stay 1 MiB but the last, whatever the pieces were.
    async with store._pool.acquire() as connection:
        lengths = [
            r["l"]
            for r in await connection.fetch(
                "SELECT length(bytes) AS l FROM attachment_chunks ORDER BY n"
            )
        ]
    assert lengths == [CHUNK_BYTES, CHUNK_BYTES, 1234]


# (total the first piece declared, the next append, its refusal): nothing of it is written.
REFUSALS = {
    "gap_after_received": (None, dict(offset=200, end=300, total=len(STREAM)), AttachmentGap),
    "other_total": (
        len(STREAM),
        dict(offset=100, end=200, total=len(STREAM) + 1),
        AttachmentSizeConflict,
    ),
    "past_total": (
        None,
        dict(offset=100, end=len(STREAM), total=len(STREAM) - 1),
        AttachmentSizeConflict,
    ),
    "total_over_limit": (None, dict(offset=100, end=200, total=LIMIT + 1), AttachmentTooLarge),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
async def test_refused_appends_write_nothing(
    store: Store, case: tuple[int | None, dict[str, int], type[AttachmentRefused]]
) -> None:
    first_total, args, refusal = case
    assert await _append(store, 0, 100, total=first_total) == 100
    with pytest.raises(refusal) as raised:
        await _append(store, args["offset"], args["end"], total=args["total"])
    assert raised.value.progress.received == 100
    progress = await store.attachment_progress(KEY)
    assert progress is not None
    assert (progress.received, progress.declared_size) == (100, first_total)
    assert await _read(store) == STREAM[:100]


async def test_a_stream_without_a_total_is_bounded_by_the_limit(store: Store) -> None:
    with pytest.raises(AttachmentTooLarge):
        await store.append_attachment(
            KEY, 0, b"x" * 1001, declared_size=None, max_bytes=1000, now=NOW
        )
    with pytest.raises(AttachmentTooLarge):
        await store.append_attachment(
            KEY, 0, b"x" * 10, declared_size=1001, max_bytes=1000, now=NOW
        )
    assert await _read(store) == b""


async def test_streams_of_two_owners_with_one_id_are_apart(store: Store) -> None:
    other = AttachmentKeyRef("kh-ratanakiri-police", "incoming", KEY.attachment_id)
    await _append(store, 0, 100)
    await store.append_attachment(other, 0, b"other", declared_size=5, max_bytes=LIMIT, now=NOW)
    assert await _read(store) == STREAM[:100]
    assert await _read(store, other) == b"other"


async def test_a_complete_stream_cannot_change_nor_go_back(store: Store) -> None:
    await _append(store, 0, len(STREAM))
    await store.complete_attachment(KEY, NOW)
    # A resend of what is held is answered, not written.
    assert await _append(store, 0, 10) == len(STREAM)
    async with store._pool.acquire() as connection:
        for statement in (
            "UPDATE attachments SET state = 'receiving'",
            "UPDATE attachments SET stream_sha256 = '\\x00'::bytea || substr(stream_sha256, 2)",
            "UPDATE attachments SET declared_size = declared_size + 1",
        ):
            with pytest.raises(asyncpg.CheckViolationError):
                await connection.execute(statement)
        await connection.execute("UPDATE attachments SET state = 'verified'")


async def test_completion_waits_for_every_declared_byte(store: Store) -> None:
    await _append(store, 0, 10)
    progress = await store.complete_attachment(KEY, NOW)
    assert (progress.state, progress.stream_sha256) == ("receiving", None)


async def test_stale_unfinished_uploads_are_dropped_with_their_rows(store: Store) -> None:
    await _append(store, 0, CHUNK_BYTES + 10)  # receiving, created at NOW
    done = AttachmentKeyRef("vn-gialai-blo", "incoming", "att-done")
    await store.append_attachment(done, 0, b"abc", declared_size=3, max_bytes=LIMIT, now=NOW)
    await store.complete_attachment(done, NOW)
    assert await store.delete_stale_attachments(NOW) == 0
    assert await store.delete_stale_attachments(NOW + timedelta(seconds=1)) == 1
    assert await store.attachment_progress(KEY) is None
    assert await _read(store, done) == b"abc"
    async with store._pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM attachment_chunks") == 1


async def test_concurrent_appends_of_one_stream_serialise_on_its_row(store: Store) -> None:
    # Two uploads of the same stream racing (a sender retrying while its first try still
    # runs): each append sees the other's bytes under the row lock; every one that starts
    # at or before the offset succeeds, and the stream comes out whole.
    cuts = [*range(0, len(STREAM), 300_000), len(STREAM)]
    for first, end in itertools.pairwise(cuts):
        results = await asyncio.gather(
            _append(store, first, end), _append(store, first, end), return_exceptions=True
        )
        assert list(results) == [end, end]
    assert await _read(store) == STREAM
