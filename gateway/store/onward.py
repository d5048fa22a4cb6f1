"""Where a case's content came from: the markings onward sharing is judged by.

The Dispatcher (gateway.federation.outgoing) asks, before it queues a message of a case, what
that case (or the message it answers) received from peers; only gateway/store speaks SQL.

Kept apart from store.py (a mixin of Store) to keep each file readable; it shares the pool.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from gateway.store.part import StorePart
from gateway.store.queries import Q


@dataclass(frozen=True)
class ReceivedMarking:
    """One received message a new message may carry content of.

    handling is the marking the receiver read when it arrived (None: unknown, which counts as
    the strictest); via says how it is linked: it belongs to the case its sender opened here,
    or it is the message being answered."""

    sender: str
    handling: str | None
    via: Literal["case", "in_reply_to"]


class Onward(StorePart):
    """Mixed into Store: the origin of a case's content."""

    async def received_markings(
        self, case_id: uuid.UUID | None, in_reply_to: uuid.UUID | None
    ) -> list[ReceivedMarking]:
        """The messages from peers a new message in case_id (answering in_reply_to) may carry
        on: every message received from the peer that opened the case here (none when this
        node opened it), and the answered message when it was received."""
        if case_id is None and in_reply_to is None:
            return []
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.onward_origins, case_id, in_reply_to)
        return [ReceivedMarking(row["sender"], row["handling"], row["via"]) for row in rows]
