"""Attachment streams carried inside an offline bundle (docs/PROTOCOL.md 15.4).

Online, a sender pushes each stream (7.4) before the envelope naming it; in a bundle the
streams ride beside the envelopes, inside the ciphertext, and the importer stores each one
as the attachment endpoint would have (same owner, the bundle's authenticated sender; same
bounds: the id's alphabet, the stream size limit, the per-peer quota of streams no envelope
names yet) before the envelopes go through the receiver. The receiver then finds the
streams held whole and checks them against the envelopes' AttachmentKeys exactly as online
(8.2 step 8): a stream the importer could not take leaves its envelope refused
`attachment_incomplete`, which the sender keeps queued.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.federation.attachments import ATTACHMENT_ID
from gateway.store import Store
from gateway.store.attachments import CHUNK_BYTES, AttachmentKeyRef, AttachmentRefused
from gateway.store.binding import OutboxStream


@dataclass(frozen=True)
class CarriedStream:
    """One encrypted attachment stream in a bundle, under its wire id."""

    attachment_id: str
    data: bytes = field(repr=False)


async def gather_streams(store: Store, streams: Sequence[OutboxStream]) -> list[CarriedStream]:
    """The bytes of these per-recipient streams, read row by row from the store."""
    carried: list[CarriedStream] = []
    for stream in streams:
        parts = [part async for part in store.read_attachment(stream.key)]
        carried.append(CarriedStream(stream.attachment_id, b"".join(parts)))
    return carried


async def take_streams(
    store: Store,
    sender: str,
    carried: Sequence[CarriedStream],
    *,
    max_stream_bytes: int,
    quota: int | None,
    clock: Callable[[], datetime],
) -> dict[str, int]:
    """Store each stream as sender's incoming stream, as the attachment endpoint would;
    returns the streams not taken, per reason code of PROTOCOL.md 7.4."""
    refused: Counter[str] = Counter()
    for stream in carried:
        if not ATTACHMENT_ID.fullmatch(stream.attachment_id):
            refused["attachment_id_invalid"] += 1
            continue
        if len(stream.data) > max_stream_bytes:
            refused["attachment_too_large"] += 1
            continue
        key = AttachmentKeyRef(sender, "incoming", stream.attachment_id)
        progress = await store.attachment_progress(key)
        if progress is not None and progress.state != "receiving":
            continue  # held whole already (pushed online, or an earlier bundle)
        if progress is None and quota is not None:
            pending = await store.pending_attachment_bytes(sender)
            if pending + len(stream.data) > quota:
                refused["attachment_quota_exceeded"] += 1
                continue
        try:
            # Row by row, like the endpoint: no transaction holds more than one row.
            for offset in range(0, max(1, len(stream.data)), CHUNK_BYTES):
                await store.append_attachment(
                    key,
                    offset,
                    stream.data[offset : offset + CHUNK_BYTES],
                    declared_size=len(stream.data),
                    max_bytes=max_stream_bytes,
                    now=clock(),
                )
        except AttachmentRefused as problem:
            refused[problem.code] += 1
            continue
        await store.complete_attachment(key, clock())
    return dict(refused)
