"""Drafts awaiting approval (four eyes): the store's side of composing a victim handover.

A handover composed in the console is kept as a draft, its message sealed to this node's own
key (gateway/crypto/drafts.py), until a different user with the supervisor role approves
it. Approval is not a separate step from queueing: Store.enqueue(approval=...) moves the
draft to `approved` as the first statement of the transaction that inserts the outbox rows.
The UPDATE takes the draft's row lock, so of two concurrent approvals the second waits, then
finds the draft no longer awaiting approval and rolls back its own outbox rows: exactly one
set of copies is queued. The database checks the rest (see the migration): states only move
forward, and the approver is never the composer.

Mixed into Store (like LocalFeed); it shares the pool and the audit appender.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg

from gateway.store.part import StorePart, inbox_row, stored_content
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, InboxRow

if TYPE_CHECKING:
    from gateway.store.part import Connection


class DraftNotAwaiting(Exception):  # noqa: N818 - a verdict on the request
    """The draft is approved or withdrawn already (or does not exist)."""


class OwnDraft(Exception):  # noqa: N818 - a verdict on the request
    """The user asked to approve a draft they composed themselves."""


class NotDraftComposer(Exception):  # noqa: N818 - a verdict on the request
    """Only the composer or a supervisor may withdraw a draft."""


@dataclass(frozen=True)
class NewDraft:
    """A composed message, sealed, with what the console shows without opening it."""

    case_id: uuid.UUID
    kind: str
    recipients: tuple[str, ...]
    composed_by: int
    composed_at: datetime
    key_id: str
    sealed_message: bytes = field(repr=False)


@dataclass(frozen=True)
class DraftRow:
    """A draft's metadata: never its content."""

    id: int
    case_id: uuid.UUID
    kind: str
    recipients: tuple[str, ...]
    state: str
    composed_by: int
    composed_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    message_ids: tuple[uuid.UUID, ...]
    # Sign-in names of the console users (the ids are what the audit log holds).
    composed_by_name: str = ""
    decided_by_name: str | None = None


@dataclass(frozen=True)
class SealedDraftRow:
    """A draft with its sealed message, for approval (and for showing it to the approver)."""

    row: DraftRow
    key_id: str
    # None once retention deleted it (only ever of an approved or withdrawn draft).
    sealed_message: bytes | None = field(repr=False)


@dataclass(frozen=True)
class DraftApproval:
    """Approval of one draft by one user, recorded in the transaction that queues it."""

    draft_id: int
    approved_by: int
    actor: str


def _draft_row(row: asyncpg.Record) -> DraftRow:
    return DraftRow(
        id=row["id"],
        case_id=row["case_id"],
        kind=row["kind"],
        recipients=tuple(row["recipients"]),
        state=row["state"],
        composed_by=row["composed_by"],
        composed_at=row["composed_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        message_ids=tuple(row["message_ids"] or ()),
        composed_by_name=row["composed_by_name"] or "",
        decided_by_name=row["decided_by_name"],
    )


class Drafts(StorePart):
    """Mixed into Store: drafts awaiting approval."""

    async def create_draft(self, draft: NewDraft, *, actor: str) -> int:
        """Store a composed draft and its audit entry (console.handover_composed); its id."""
        async with self._pool.acquire() as connection, connection.transaction():
            draft_id: int = await connection.fetchval(
                Q.draft_insert,
                draft.case_id,
                draft.kind,
                list(draft.recipients),
                draft.composed_by,
                draft.composed_at,
                draft.key_id,
                draft.sealed_message,
            )
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        actor,
                        "console.handover_composed",
                        f"draft:{draft_id}",
                        {
                            "case": str(draft.case_id),
                            "kind": draft.kind,
                            "peer": ",".join(draft.recipients),
                        },
                    )
                ],
                draft.composed_at,
            )
        return draft_id

    async def draft(self, draft_id: int) -> SealedDraftRow | None:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.draft_get, draft_id)
        if row is None:
            return None
        sealed = row["sealed_message"]
        return SealedDraftRow(
            _draft_row(row), row["key_id"], None if sealed is None else bytes(sealed)
        )

    async def drafts_for_case(self, case_id: uuid.UUID) -> list[DraftRow]:
        """Every draft of a case, oldest first: metadata only."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.draft_list_case, case_id)
        return [_draft_row(row) for row in rows]

    async def drafts_awaiting(self) -> list[DraftRow]:
        """Drafts awaiting approval, oldest first: metadata only."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.draft_list_awaiting)
        return [_draft_row(row) for row in rows]

    async def latest_incoming(self, case_id: uuid.UUID) -> tuple[InboxRow, bytes | None] | None:
        """The case's most recently received message and its stored envelope (None once
        retention deleted it): what an answer from the console replies to."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.case_latest_incoming, case_id)
        if row is None:
            return None
        return inbox_row(row), stored_content(row["envelope"])

    async def withdraw_draft(
        self, draft_id: int, *, user_id: int, actor: str, any_composer: bool
    ) -> DraftRow:
        """Withdraw a draft awaiting approval: its composer may, or anyone when any_composer
        (a supervisor). Audited as console.handover_withdrawn."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(Q.draft_withdraw, draft_id, user_id, now, any_composer)
            if row is None:
                current = await connection.fetchrow(Q.draft_get, draft_id)
                if current is None or current["state"] != "awaiting_approval":
                    raise DraftNotAwaiting(str(draft_id))
                raise NotDraftComposer(str(draft_id))
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        actor,
                        "console.handover_withdrawn",
                        f"draft:{draft_id}",
                        {"case": str(row["case_id"]), "composed_by": row["composed_by"]},
                    )
                ],
                now,
            )
            found = await connection.fetchrow(Q.draft_get, draft_id)
        assert found is not None, "a row just updated exists"
        return _draft_row(found)

    async def _approve_draft(
        self,
        connection: Connection,
        approval: DraftApproval,
        message_ids: Sequence[uuid.UUID],
        at: datetime,
    ) -> None:
        """Inside Store.enqueue's transaction, before its outbox rows: approve the draft, or
        raise (and so roll the queueing back) when it is not awaiting approval or is the
        approver's own."""
        approved = await connection.fetchval(
            Q.draft_approve, approval.draft_id, approval.approved_by, at, list(message_ids)
        )
        if approved is None:
            current = await connection.fetchrow(Q.draft_get, approval.draft_id)
            if current is None or current["state"] != "awaiting_approval":
                raise DraftNotAwaiting(str(approval.draft_id))
            raise OwnDraft(str(approval.draft_id))
        current = await connection.fetchrow(Q.draft_get, approval.draft_id)
        assert current is not None, "a row just updated exists"
        await self._append_audit(
            connection,
            [
                AuditEntry(
                    approval.actor,
                    "console.handover_approved",
                    f"draft:{approval.draft_id}",
                    {
                        "case": str(current["case_id"]),
                        "composed_by": current["composed_by"],
                        "messages": ",".join(str(m) for m in message_ids),
                    },
                )
            ],
            at,
        )
