"""Attachments bound to messages (issue 11, migration 0017): the links between an outbox
row and the per-recipient streams it carries, and between an inbox row and the verified
streams its AttachmentKeys name.

A mixin of Store (see gateway.store.part). The streams themselves (rows, appends, reads) are
in gateway.store.attachments; this part only knows which message names which stream, in
AttachmentKey order (`position`), so that a reader finds a message's attachments without
opening its envelope and the retention sweep never deletes a stream a message names.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.store.part import StorePart
from gateway.store.queries import Q


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


class AttachmentBinding(StorePart):
    """Mixed into Store: which message names which attachment stream."""

    async def inbox_attachments(self, inbox_id: int) -> list[InboxAttachment]:
        """The attachments of inbox row inbox_id in AttachmentKey order (empty when none)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.inbox_attachments_of, inbox_id)
        return [
            InboxAttachment(
                inbox_id=row["inbox_id"],
                position=row["position"],
                sender=row["sender"],
                attachment_id=row["attachment_id"],
                media_type=row["media_type"],
                plaintext_size=row["plaintext_size"],
            )
            for row in rows
        ]
