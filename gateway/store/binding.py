"""Attachments bound to messages (issue 11, migration 0017): the links between an outbox
row and the per-recipient streams it carries, and between an inbox row and the verified
streams its AttachmentKeys name.

A mixin of Store (see gateway.store.part). The streams themselves (rows, appends, reads) are
in gateway.store.attachments; this part only knows which message names which stream, in
AttachmentKey order (`position`), so that a reader finds a message's attachments without
opening its envelope and the retention sweep never deletes a stream a message names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.store.attachments import AttachmentKeyRef, AttachmentState
from gateway.store.part import StorePart
from gateway.store.queries import Q
from gateway.store.records import LinkedAttachment

if TYPE_CHECKING:
    from gateway.store.part import Connection


@dataclass(frozen=True)
class InboxAttachment:
    """One attachment of a received message: its stream is (sender, 'incoming',
    attachment_id), verified against the envelope's AttachmentKey at `position`."""

    inbox_id: int
    position: int
    sender: str
    attachment_id: str
    media_type: str
    plaintext_size: int


@dataclass(frozen=True)
class StagedAttachment:
    """A local client's upload: the stream key is sealed to this node (key_id, key_sealed)
    and present only once the upload is complete."""

    state: AttachmentState
    received: int
    stream_sha256: bytes | None
    key_id: str | None
    key_sealed: bytes | None
    media_type: str | None
    plaintext_size: int | None
    plaintext_sha256: bytes | None

    @property
    def complete(self) -> bool:
        return self.state != "receiving" and self.key_sealed is not None


@dataclass(frozen=True)
class OutboxStream:
    """A per-recipient stream of a claimed envelope, as the sender pushes it."""

    outbox_id: int
    position: int
    recipient: str
    attachment_id: str
    ciphertext_sha256: bytes
    pushed: bool
    length: int

    @property
    def key(self) -> AttachmentKeyRef:
        return AttachmentKeyRef(self.recipient, "outgoing", self.attachment_id)


class AttachmentBinding(StorePart):
    """Mixed into Store: which message names which attachment stream."""

    async def inbox_attachments(self, inbox_id: int) -> list[InboxAttachment]:
        """The attachments of inbox row inbox_id in AttachmentKey order (empty when none)."""
        return (await self.inbox_attachments_by_row([inbox_id])).get(inbox_id, [])

    async def inbox_attachments_by_row(
        self, inbox_ids: Sequence[int]
    ) -> dict[int, list[InboxAttachment]]:
        """The attachments of several inbox rows in one query (an inbox page), per row in
        AttachmentKey order; a row with none is absent."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.inbox_attachments_of, list(inbox_ids))
        found: dict[int, list[InboxAttachment]] = {}
        for row in rows:
            found.setdefault(row["inbox_id"], []).append(
                InboxAttachment(
                    inbox_id=row["inbox_id"],
                    position=row["position"],
                    sender=row["sender"],
                    attachment_id=row["attachment_id"],
                    media_type=row["media_type"],
                    plaintext_size=row["plaintext_size"],
                )
            )
        return found

    async def staged_attachment(self, client: str, attachment_id: str) -> StagedAttachment | None:
        """The upload attachment_id of local client `client`, or None."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.attachment_staging_get, client, attachment_id)
        if row is None:
            return None
        return StagedAttachment(
            state=row["state"],
            received=row["received_bytes"],
            stream_sha256=_bytes(row["stream_sha256"]),
            key_id=row["key_id"],
            key_sealed=_bytes(row["key_sealed"]),
            media_type=row["media_type"],
            plaintext_size=row["plaintext_size"],
            plaintext_sha256=_bytes(row["plaintext_sha256"]),
        )

    async def finish_staging(
        self,
        key: AttachmentKeyRef,
        *,
        stream_sha256: bytes,
        key_id: str,
        key_sealed: bytes,
        media_type: str,
        plaintext_size: int,
        plaintext_sha256: bytes,
        now: datetime,
    ) -> bool:
        """An upload written whole (its declared size set by the last append) becomes complete
        with its sealed key; False when it was not in that state."""
        async with self._pool.acquire() as connection:
            state = await connection.fetchval(
                Q.attachment_staging_finish,
                *key.args(),
                stream_sha256,
                now,
                key_id,
                key_sealed,
                media_type,
                plaintext_size,
                plaintext_sha256,
            )
        return state is not None

    async def discard_attachment(self, key: AttachmentKeyRef) -> None:
        """Drop an unfinished stream this node was writing (nothing when it is complete)."""
        async with self._pool.acquire() as connection:
            await connection.execute(Q.attachment_discard, *key.args())

    async def drop_staged_attachment(self, client: str, attachment_id: str) -> None:
        """Delete a local client's staged upload, complete or not, unless a message links it
        (the console's files once their message is queued or their form refused)."""
        async with self._pool.acquire() as connection:
            await connection.execute(Q.attachment_drop_staged, client, attachment_id)

    async def outbox_streams(self, outbox_ids: Sequence[int]) -> list[OutboxStream]:
        """The per-recipient streams of these outbox rows, by row and position."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.outbox_attachments_of, list(outbox_ids))
        return [
            OutboxStream(
                outbox_id=row["outbox_id"],
                position=row["position"],
                recipient=row["recipient"],
                attachment_id=row["attachment_id"],
                ciphertext_sha256=bytes(row["ciphertext_sha256"]),
                pushed=row["pushed"],
                length=row["received_bytes"],
            )
            for row in rows
        ]

    async def mark_pushed(self, recipient: str, attachment_id: str, now: datetime) -> None:
        """The receiver holds the stream whole (it answered 'complete')."""
        async with self._pool.acquire() as connection:
            await connection.execute(Q.outbox_attachment_pushed, recipient, attachment_id, now)

    async def delete_unreferenced_attachments(self, created_before: datetime) -> int:
        """Drop the streams created before created_before that no message names (the
        retention sweep, retention.unreferenced_attachments); returns how many."""
        async with self._pool.acquire() as connection:
            status = await connection.execute(Q.attachment_delete_unreferenced, created_before)
        return int(status.split()[-1])

    async def delete_sent_attachments(self) -> int:
        """Drop the per-recipient streams of outbox rows whose content retention removed
        (for the retention sweep); returns how many."""
        async with self._pool.acquire() as connection:
            status = await connection.execute(Q.attachment_delete_sent)
        return int(status.split()[-1])

    async def verify_incoming_attachment(self, sender: str, attachment_id: str) -> None:
        """complete -> verified, once the stream passed 7.3 against its AttachmentKey."""
        async with self._pool.acquire() as connection:
            await connection.execute(Q.attachment_verify, sender, attachment_id)


def _bytes(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


async def link_outbox_attachments(
    connection: Connection, links: Sequence[tuple[object, LinkedAttachment]]
) -> None:
    """In the enqueue transaction: (message id, stream) links of the envelopes queued."""
    if not links:
        return
    await connection.execute(
        Q.outbox_attachments_insert,
        [message_id for message_id, _ in links],
        [link.position for _, link in links],
        [link.attachment_id for _, link in links],
        [link.ciphertext_sha256 for _, link in links],
    )


async def link_inbox_attachments(
    connection: Connection, links: Sequence[tuple[int, str, LinkedAttachment]]
) -> None:
    """In the inbox transaction: (inbox id, sender, stream) links of the rows inserted."""
    if not links:
        return
    await connection.execute(
        Q.inbox_attachments_insert,
        [inbox_id for inbox_id, _, _ in links],
        [link.position for _, _, link in links],
        [sender for _, sender, _ in links],
        [link.attachment_id for _, _, link in links],
        [link.media_type for _, _, link in links],
        [link.plaintext_size for _, _, link in links],
    )
