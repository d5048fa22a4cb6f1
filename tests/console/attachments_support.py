"""Received messages with attachments in a console test's store: the peer's streams stored as
the federation endpoint stores them (append, then complete), and the envelope naming them
stored as the receiver stores it."""

from __future__ import annotations

import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta

from gateway.crypto import seal
from gateway.store import IncomingEnvelope
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.api.attachment_support import encrypted
from tests.console.conftest import NODE, PEER, ConsoleHarness


def png(width: int, height: int) -> bytes:
    """A valid RGB PNG of the given size (a colour gradient)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 7 % 256, y * 5 % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def receive_with_attachments(
    console: ConsoleHarness,
    message: canonical.Message,
    files: list[tuple[bytes, str]],
    *,
    handling: str,
    stored: int | None = None,
) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
    """Store files (plaintext, media type) as the peer's streams and the message naming them;
    (message id, case id, attachment ids). stored: keep only the first `stored` bytes of
    each stream (a transfer still under way)."""
    case = uuid.uuid4()
    message.case_id = str(case)
    now = datetime.now(UTC)
    keys = []
    for plaintext, media_type in files:
        stream, key = encrypted(plaintext, media_type)
        ref = AttachmentKeyRef(PEER, "incoming", key.attachment_id)
        piece = stream if stored is None else stream[:stored]
        await console.store.append_attachment(
            ref, 0, piece, declared_size=len(stream), max_bytes=len(stream), now=now
        )
        await console.store.complete_attachment(ref, now)
        keys.append(key)
    sealed = seal(
        console.federation.keyring(PEER),
        recipient=NODE,
        kind=Kind(message.WhichOneof("body") or ""),
        case_id=case,
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString(), attachments=keys),
        created_at=now - timedelta(seconds=2),
        expires_at=now + timedelta(days=1),
    )
    await console.store.store_incoming(
        [
            IncomingEnvelope(
                sender=PEER,
                message_id=sealed.header.message_id,
                case_id=case,
                kind=Kind(message.WhichOneof("body") or "").value,
                envelope=sealed.data,
                envelope_sha256=sealed.sha256,
                receipt=b"receipt",
                created_at=sealed.header.created_at,
                received_at=now,
                handling=handling,
            )
        ]
    )
    return sealed.header.message_id, case, [key.attachment_id for key in keys]
