"""Attachment streams written and read through the store, encrypted and checked on the way.

Three pipelines, one shape: bytes come in pieces (an HTTP body, or a stored stream one 1 MiB
row at a time), the crypto of each piece runs in a worker thread (gateway.crypto's piecewise
encryptor and decryptor; libsodium releases the GIL, and the loop keeps serving), and the
output goes to the store in whole rows. Nothing ever holds more than a row and a piece, so a
100 MiB scan costs a few MiB whatever the path.

- write_encrypted: plaintext pieces -> a new stream under a fresh key (a local upload, and
  each per-recipient copy at submission). A failure part-way deletes what was written.
- reencrypt: a stored stream -> the same plaintext as a new stream under a new key and id
  (one per recipient: docs/PROTOCOL.md 7.1 forbids a key for two recipients).
- verify: a received stream checked against its AttachmentKey (7.3) with the plaintext
  discarded: the receiver keeps the stream encrypted and decrypts again when a reader asks.

Staging streams' keys are kept sealed to this node's own key (gateway.crypto.drafts sealing,
bound to the client and id), never in the clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from gateway.crypto import Keyring
from gateway.crypto.attachment import CHUNK_OVERHEAD, HEADER_BYTES
from gateway.crypto.attachment_stream import AttachmentDecryptor, AttachmentEncryptor
from gateway.crypto.drafts import SealedDraft, open_draft, seal_draft
from gateway.store import AuditEntry, Store
from gateway.store.attachments import CHUNK_BYTES, AttachmentKeyRef
from gateway.store.binding import StagedAttachment
from gateway.wire import envelope

# Plaintext per stream chunk (7.1, c): 1 MiB, so that a chunk fills a stored row and the
# per-chunk overhead (17 bytes) is negligible. Decryption follows whatever c a stream names.
STREAM_CHUNK_BYTES = 1 << 20
_PREAMBLE_BYTES = 12 + HEADER_BYTES
# The smallest chunk size a peer's streams are expected to use: a receiver bounds a stream by
# the encrypted length of limits.max_attachment_bytes of plaintext at this chunk size.
MIN_PEER_CHUNK_BYTES = 4096


def stream_length(plaintext_size: int, chunk_bytes: int = STREAM_CHUNK_BYTES) -> int:
    """The encrypted length of a plaintext of that size (7.1)."""
    chunks = max(1, -(-plaintext_size // chunk_bytes))
    return _PREAMBLE_BYTES + plaintext_size + chunks * CHUNK_OVERHEAD


@dataclass(frozen=True)
class Written:
    """A stream written whole: its key and the plaintext's own hash."""

    key: envelope.AttachmentKey
    plaintext_sha256: bytes


# A local upload's rules, for every entry point (the API's PUT, a drop folder's files).
# Photos and scans; anything else is refused rather than carried blindly to a peer whose
# console would show it.
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf", "image/tiff")
ATTACHMENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
READ_PIECE = 256 * 1024


class StagingLocks:
    """One staging of a (client, id) at a time in this process, whichever entry point (the
    API's PUT, a drop folder's file) asks: the second waits, then finds the first's upload."""

    def __init__(self) -> None:
        # The lock of each (client, id) in use and how many hold or await it.
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, client: str, attachment_id: str) -> AsyncIterator[None]:
        slot = (client, attachment_id)
        lock, users = self._locks.get(slot, (asyncio.Lock(), 0))
        self._locks[slot] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[slot]
            if users == 1:
                del self._locks[slot]
            else:
                self._locks[slot] = (lock, users - 1)


class PlaintextTooLarge(Exception):  # noqa: N818 - a verdict on the caller's input
    """More plaintext than the limit allowed; nothing was kept."""


async def write_encrypted(
    store: Store,
    target: AttachmentKeyRef,
    plaintext: AsyncIterator[bytes],
    *,
    media_type: str,
    max_plaintext: int,
    now: datetime,
    executor: Executor | None = None,
) -> Written:
    """Encrypt plaintext pieces into the new stream `target` (its id is the stream's AD).

    Raises PlaintextTooLarge past max_plaintext; on any failure the partial stream is
    deleted. The stream is left all received but 'receiving': the caller completes it."""
    loop = asyncio.get_running_loop()
    encryptor = AttachmentEncryptor(
        attachment_id=target.attachment_id, media_type=media_type, chunk_bytes=STREAM_CHUNK_BYTES
    )
    digest = hashlib.sha256()
    max_stream = stream_length(max_plaintext)
    pending = bytearray()
    offset = 0
    size = 0

    def encrypt(piece: bytes) -> bytes:
        digest.update(piece)
        return encryptor.update(piece)

    async def flush(everything: bool) -> None:
        nonlocal offset
        # Whole rows only, but at the end: each stored row is then written once.
        cut = len(pending) if everything else len(pending) - len(pending) % CHUNK_BYTES
        if cut:
            await store.append_attachment(
                target,
                offset,
                bytes(pending[:cut]),
                declared_size=None,
                max_bytes=max_stream,
                now=now,
            )
            offset += cut
            del pending[:cut]

    try:
        async for piece in plaintext:
            size += len(piece)
            if size > max_plaintext:
                raise PlaintextTooLarge(f"more than {max_plaintext} bytes")
            pending += await loop.run_in_executor(executor, encrypt, piece)
            if len(pending) >= CHUNK_BYTES:
                await flush(False)
        last, key = await loop.run_in_executor(executor, encryptor.finish)
        pending += last
        await flush(True)
        # Declares the total, so the stream counts as all received.
        await store.append_attachment(
            target, offset, b"", declared_size=offset, max_bytes=max_stream, now=now
        )
    except BaseException:
        await asyncio.shield(store.discard_attachment(target))
        raise
    return Written(key, digest.digest())


async def decrypted(
    store: Store,
    source: AttachmentKeyRef,
    key: envelope.AttachmentKey,
    executor: Executor | None = None,
) -> AsyncIterator[bytes]:
    """The plaintext of a stored stream, piece by piece; AttachmentInvalid (from the last
    piece at the latest) when it fails 7.3. Pieces come before the whole-stream checks."""
    loop = asyncio.get_running_loop()
    decryptor = AttachmentDecryptor(key)
    async for row in store.read_attachment(source):
        plain = await loop.run_in_executor(executor, decryptor.update, row)
        if plain:
            yield plain
    last, _ = await loop.run_in_executor(executor, decryptor.finish)
    if last:
        yield last


async def verify(
    store: Store,
    source: AttachmentKeyRef,
    key: envelope.AttachmentKey,
    executor: Executor | None = None,
) -> None:
    """Raises AttachmentInvalid unless the stored stream passes 7.3 against key; keeps no
    plaintext."""
    async for _ in decrypted(store, source, key, executor):
        pass


async def reencrypt(
    store: Store,
    source: AttachmentKeyRef,
    source_key: envelope.AttachmentKey,
    target: AttachmentKeyRef,
    *,
    max_plaintext: int,
    now: datetime,
    executor: Executor | None = None,
) -> envelope.AttachmentKey:
    """The stream `source` again, as the new complete stream `target` under a fresh key."""
    written = await write_encrypted(
        store,
        target,
        decrypted(store, source, source_key, executor),
        media_type=source_key.media_type,
        max_plaintext=max_plaintext,
        now=now,
        executor=executor,
    )
    await store.complete_attachment(target, now, stream_sha256=written.key.ciphertext_sha256)
    return written.key


def _key_context(client: str, attachment_id: str) -> str:
    return f"attachment-key\x00{client}\x00{attachment_id}"


def seal_stream_key(
    keyring: Keyring, key: bytes, *, client: str, attachment_id: str, at: datetime
) -> SealedDraft:
    """A staging stream's key, sealed to this node and bound to its client and id."""
    return seal_draft(keyring, key, context=_key_context(client, attachment_id), at=at)


def staged_key(
    keyring: Keyring, staged: StagedAttachment, *, client: str, attachment_id: str
) -> envelope.AttachmentKey:
    """The AttachmentKey of a complete staging stream (DraftUnreadable when it won't open)."""
    assert staged.key_id
    assert staged.key_sealed
    assert staged.stream_sha256
    key = open_draft(
        keyring,
        SealedDraft(staged.key_id, staged.key_sealed),
        context=_key_context(client, attachment_id),
    )
    return envelope.AttachmentKey(
        attachment_id=attachment_id,
        key=key,
        ciphertext_sha256=staged.stream_sha256,
        plaintext_size=staged.plaintext_size or 0,
        media_type=staged.media_type or "",
    )


async def stage_upload(
    store: Store,
    keyring: Keyring,
    *,
    client: str,
    attachment_id: str,
    plaintext: AsyncIterator[bytes],
    media_type: str,
    max_plaintext: int,
    now: datetime,
    executor: Executor | None = None,
) -> Written:
    """A local client's upload stored whole as its staging stream: encrypted under a fresh
    key, the key sealed to this node, complete. The caller has removed any earlier,
    unfinished upload of the id; PlaintextTooLarge past max_plaintext (nothing kept)."""
    target = AttachmentKeyRef(client, "outgoing", attachment_id)
    written = await write_encrypted(
        store,
        target,
        plaintext,
        media_type=media_type,
        max_plaintext=max_plaintext,
        now=now,
        executor=executor,
    )
    sealed = seal_stream_key(
        keyring, written.key.key, client=client, attachment_id=attachment_id, at=now
    )
    await store.finish_staging(
        target,
        stream_sha256=written.key.ciphertext_sha256,
        key_id=sealed.key_id,
        key_sealed=sealed.data,
        media_type=media_type,
        plaintext_size=written.key.plaintext_size,
        plaintext_sha256=written.plaintext_sha256,
        now=now,
    )
    return written


async def stage_afresh(
    store: Store,
    keyring: Keyring,
    *,
    actor: str,
    client: str,
    attachment_id: str,
    plaintext: AsyncIterator[bytes],
    media_type: str,
    max_plaintext: int,
    now: datetime,
    executor: Executor | None = None,
) -> Written:
    """A local client's attachment staged whole, the one way every entry point stages one
    (the API's PUT, an outgoing drop folder's attachments/ file): an earlier upload of the id
    cut off part-way is discarded first, then stage_upload, then `attachment.uploaded` is
    audited with sizes only (never content or a file name). The caller has checked that no
    complete upload of the id exists; PlaintextTooLarge as stage_upload."""
    await store.discard_attachment(AttachmentKeyRef(client, "outgoing", attachment_id))
    written = await stage_upload(
        store,
        keyring,
        client=client,
        attachment_id=attachment_id,
        plaintext=plaintext,
        media_type=media_type,
        max_plaintext=max_plaintext,
        now=now,
        executor=executor,
    )
    await store.audit(
        [
            AuditEntry(
                actor,
                "attachment.uploaded",
                attachment_id,
                {"client": client, "size": written.key.plaintext_size, "media_type": media_type},
            )
        ]
    )
    return written
