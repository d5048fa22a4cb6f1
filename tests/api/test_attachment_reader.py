"""AttachmentReader against real PostgreSQL: each state of a stored stream gives its answer,
the plaintext only ever after every check, and its temporary file has no name on disk."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.attachments_read import AttachmentReader, AttachmentReadError
from gateway.store import Store
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import envelope
from tests.api.attachment_support import encrypted
from tests.crypto.support import make_pair

PEER = "kh-ratanakiri-police"
PLAINTEXT = os.urandom(2 * 1024 * 1024 + 4321)


async def _stored(store: Store, stream: bytes, attachment_id: str, upto: int | None = None) -> None:
    ref = AttachmentKeyRef(PEER, "incoming", attachment_id)
    now = datetime.now(UTC)
    await store.append_attachment(
        ref,
        0,
        stream[:upto] if upto is not None else stream,
        declared_size=len(stream),
        max_bytes=len(stream),
        now=now,
    )
    await store.complete_attachment(ref, now)


async def _absent(store: Store) -> envelope.AttachmentKey:
    return encrypted(PLAINTEXT, "image/png")[1]


async def _partial(store: Store) -> envelope.AttachmentKey:
    stream, key = encrypted(PLAINTEXT, "image/png")
    await _stored(store, stream, key.attachment_id, upto=1_500_000)
    return key


async def _other_bytes(store: Store) -> envelope.AttachmentKey:
    stream, key = encrypted(PLAINTEXT, "image/png")
    await _stored(store, stream[:-1] + bytes([stream[-1] ^ 1]), key.attachment_id)
    return key


async def _other_key(store: Store) -> envelope.AttachmentKey:
    stream, key = encrypted(PLAINTEXT, "image/png")
    await _stored(store, stream, key.attachment_id)
    key.key = bytes(32)
    return key


async def _damaged_at_rest(store: Store) -> envelope.AttachmentKey:
    stream, key = encrypted(PLAINTEXT, "image/png")
    await _stored(store, stream, key.attachment_id)
    async with store._pool.acquire() as connection:
        await connection.execute(
            "UPDATE attachment_chunks SET bytes = set_byte(bytes, 9, get_byte(bytes, 9) # 1) "
            "WHERE owner = $1 AND attachment_id = $2 AND n = 2",
            PEER,
            key.attachment_id,
        )
    return key


async def _bad_id(store: Store) -> envelope.AttachmentKey:
    return encrypted(PLAINTEXT, "image/png", attachment_id="../etc")[1]


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (_absent, 409, "attachment_unavailable"),
        (_partial, 409, "attachment_unavailable"),
        (_other_bytes, 502, "attachment_corrupt"),
        (_other_key, 502, "attachment_corrupt"),
        (_damaged_at_rest, 502, "attachment_corrupt"),
        (_bad_id, 404, "attachment_not_found"),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
async def test_each_refusal_has_its_code(
    store: Store, tmp_path: Path, make: object, status: int, code: str
) -> None:
    key = await make(store)  # type: ignore[operator]
    reader = AttachmentReader(store, make_pair().ratanakiri, spool=tmp_path / "spool")
    (tmp_path / "spool").mkdir(mode=0o700)
    with pytest.raises(AttachmentReadError) as refused:
        await reader.verify(PEER, uuid.uuid4(), key)
    assert (refused.value.status, refused.value.code) == (status, code)
    assert list((tmp_path / "spool").iterdir()) == []


async def test_a_verified_attachment_is_read_from_a_nameless_private_file(
    store: Store, tmp_path: Path
) -> None:
    stream, key = encrypted(PLAINTEXT, "application/pdf")
    await _stored(store, stream, key.attachment_id)
    reader = AttachmentReader(store, make_pair().ratanakiri)
    verified = await reader.verify(PEER, uuid.uuid4(), key)
    spool = reader._spool
    assert spool is not None
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    assert list(spool.iterdir()) == []  # O_TMPFILE, or unlinked at once
    assert stat.S_IMODE(os.fstat(verified._file.fileno()).st_mode) == 0o600
    assert b"".join([piece async for piece in verified.pieces()]) == PLAINTEXT
    assert verified._file.closed
    assert verified.info.file_name == f"{key.attachment_id}.pdf"


async def test_a_message_whose_content_retention_deleted_is_gone(store: Store) -> None:
    reader = AttachmentReader(store, make_pair().ratanakiri)
    with pytest.raises(AttachmentReadError) as refused:
        await reader.open_message(None)
    assert (refused.value.status, refused.value.code) == (410, "content_deleted")


class _HeldStore:
    """The real store, with its stream reads held after the first row until `go` is set."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.first_row = asyncio.Event()
        self.go = asyncio.Event()
        self.closed = asyncio.Event()

    async def attachment_progress(self, ref: AttachmentKeyRef) -> object:
        return await self.store.attachment_progress(ref)

    async def read_attachment(self, ref: AttachmentKeyRef) -> AsyncIterator[bytes]:
        try:
            async for row in self.store.read_attachment(ref):
                yield row
                if not self.first_row.is_set():
                    self.first_row.set()
                    await self.go.wait()
        finally:
            self.closed.set()


async def test_a_caller_that_goes_away_stops_the_decryption_and_leaves_nothing(
    store: Store, tmp_path: Path
) -> None:
    stream, key = encrypted(PLAINTEXT, "application/pdf")
    await _stored(store, stream, key.attachment_id)
    held = _HeldStore(store)
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    reader = AttachmentReader(held, make_pair().ratanakiri, spool=spool)  # type: ignore[arg-type]
    unhandled: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: unhandled.append(context))
    reading = asyncio.create_task(reader.verify(PEER, uuid.uuid4(), key))
    await held.first_row.wait()
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    held.go.set()
    # The thread's next read stops it; then its task closes the rows (and the file).
    await asyncio.wait_for(held.closed.wait(), timeout=60)
    assert list(spool.iterdir()) == []
    assert unhandled == []
