"""Cases: the outbox and inbox rows of one case_id, as the console's lists and pages read them.

A case has no table of its own: it is the set of messages that share a case_id, sent (one
outbox row per recipient) and received (inbox rows), with the drafts not sent yet (compose's
drafts table: a handover waiting for its four-eyes approval is already part of its case).
Grouping them at read time keeps those tables the only truth, at the cost of one grouping
scan per list page (28 ms over 20,000 messages in 5,000 cases, measured); the page is
bounded (MAX_CASES_PER_PAGE) and the case page reads through an index
(0008_case_index.sql). Envelopes stay sealed here: opening them is the caller's work, off
the event loop (gateway.console.cases).

Kept apart from store.py (a mixin of Store) to keep each file readable; it shares the pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from gateway.store.part import StorePart, stored_content
from gateway.store.queries import Q

MAX_CASES_PER_PAGE = 100
MAX_THREAD_MESSAGES = 200

Direction = Literal["in", "out"]
# Where a case's latest entry is: a sent or received message, or a draft not sent yet.
Latest = Literal["in", "out", "draft"]


@dataclass(frozen=True)
class CaseSummary:
    """One case in the list: what it is about, with whom, where it stands."""

    case_id: uuid.UUID
    last_activity_at: datetime
    opened_at: datetime
    kinds: tuple[str, ...]
    peers: tuple[str, ...]
    sent: int
    received: int
    drafts: int
    # The latest entry's state: an outbox state, 'received' when it came in, or a draft's.
    latest_state: str
    latest_direction: Latest
    # The latest entry's row (outbox, inbox or drafts id by direction), to open it.
    latest_row: int


@dataclass(frozen=True)
class CasePage:
    cases: list[CaseSummary]
    total: int


@dataclass(frozen=True)
class CaseMessage:
    """One message of a case thread, sent or received, with its envelope still sealed."""

    direction: Direction
    row_id: int
    message_id: uuid.UUID
    # The recipient of a sent message, the sender of a received one.
    peer: str
    kind: str
    # Known without opening: the outbox's, or the inbox's as the receiver read it when the
    # message arrived (None for messages received before it did: 0010_retention_content.sql).
    handling: str | None
    state: str
    queued_at: datetime
    # Sent: the time in the peer's signed receipt, when it accepted the message.
    receipt_at: datetime | None
    # Received: when this node stored it.
    received_at: datetime | None
    # None once retention deleted the content (the row, its times and receipt stay).
    envelope: bytes | None = field(repr=False)


class Cases(StorePart):
    """Mixed into Store: read-only views of cases."""

    async def list_cases(
        self,
        *,
        kind: str | None = None,
        peer: str | None = None,
        state: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> CasePage:
        """Cases with the newest activity first; filters match any kind or peer of a case
        and its latest state."""
        limit = max(1, min(limit, MAX_CASES_PER_PAGE))
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.case_list, kind, peer, state, limit, max(0, offset))
        cases = [
            CaseSummary(
                case_id=row["case_id"],
                last_activity_at=row["last_at"],
                opened_at=row["first_at"],
                kinds=tuple(row["kinds"]),
                peers=tuple(row["peers"]),
                sent=row["sent"],
                received=row["received"],
                drafts=row["drafts"],
                latest_state=row["latest_state"],
                latest_direction=row["latest_direction"],
                latest_row=row["latest_row"],
            )
            for row in rows
        ]
        return CasePage(cases, rows[0]["total"] if rows else 0)

    async def case_envelopes(
        self, rows: Sequence[tuple[Latest, int]]
    ) -> dict[tuple[Latest, int], bytes]:
        """The sealed envelopes of some messages, by (direction, row id); drafts have none
        (they are compose's, sealed to this node's own key), nor have rows whose content
        retention deleted."""
        out = [row_id for direction, row_id in rows if direction == "out"]
        incoming = [row_id for direction, row_id in rows if direction == "in"]
        async with self._pool.acquire() as connection:
            found = await connection.fetch(Q.case_envelopes, out, incoming)
        return {(row["direction"], row["row_id"]): bytes(row["envelope"]) for row in found}

    async def case_thread(
        self, case_id: uuid.UUID, *, limit: int = MAX_THREAD_MESSAGES
    ) -> list[CaseMessage]:
        """Every message of the case, sent and received, in time order (at most limit)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.case_thread, case_id, limit)
        return [
            CaseMessage(
                direction=row["direction"],
                row_id=row["row_id"],
                message_id=row["message_id"],
                peer=row["peer"],
                kind=row["kind"],
                handling=row["handling"],
                state=row["state"],
                queued_at=row["queued_at"],
                receipt_at=row["receipt_at"] if row["receipt_accepted"] else None,
                received_at=row["received_at"],
                envelope=stored_content(row["envelope"]),
            )
            for row in rows
        ]

    async def case_of_message(self, message_id: uuid.UUID) -> uuid.UUID | None:
        """The case of a message sent or received by this node, if it knows one."""
        async with self._pool.acquire() as connection:
            found: uuid.UUID | None = await connection.fetchval(Q.case_of_message, message_id)
        return found
