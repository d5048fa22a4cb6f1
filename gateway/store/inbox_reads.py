"""Reading one received message by its id, with its marking: for the attachment reads
(gateway/attachments_read.py), which apply the inbox's visibility rule themselves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from gateway.store.part import StorePart, inbox_row, stored_content
from gateway.store.queries import Q
from gateway.store.records import InboxRow


@dataclass(frozen=True)
class InboxMessage:
    """An inbox row with its handling marking (None: the sender set none, or the row
    predates 0010) and its sealed envelope (None once retention deleted it)."""

    row: InboxRow
    handling: str | None
    envelope: bytes | None


class InboxReads(StorePart):
    """Mixed into Store."""

    async def inbox_by_message(self, message_id: uuid.UUID) -> list[InboxMessage]:
        """The inbox rows holding message_id, oldest first (almost always one: ids are the
        senders', so two peers could each send one id)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.inbox_by_message, message_id)
        return [
            InboxMessage(inbox_row(row), row["handling"], stored_content(row["envelope"]))
            for row in rows
        ]
