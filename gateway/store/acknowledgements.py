"""Acknowledgements in the database: deadlines of sent messages, acknowledgements received
and given, and control envelopes received (docs/PROTOCOL.md section 13).

Sending side: a message that needs a person's acknowledgement gets its deadline in the
transaction that queues it (Store.enqueue, from OutgoingEnvelope.acknowledge_due); an
acknowledgement received from the peer the message went to is recorded on that row, once
(a second one changes nothing). Receiving side: acknowledging a received message queues
the acknowledgement envelope and records it in acknowledgements_given in one transaction,
whose primary key makes it once per message per node.

`control_received` keeps each accepted control envelope (other than key announcements,
which have their own table) with the receipt we signed, so that a replay gets the same
receipt; a later control kind (a cancellation confirmation) can record its envelopes there
too, by kind.

Kept apart from store.py (a mixin of Store); it shares the pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from gateway.store.part import StorePart, outbox_insert_args
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, OutgoingEnvelope, StoredIncoming


@dataclass(frozen=True)
class IncomingAcknowledgement:
    """A verified acknowledgement to record, with the receipt we signed for it."""

    sender: str
    message_id: uuid.UUID  # the acknowledgement envelope's own id
    case_id: uuid.UUID
    envelope_sha256: bytes
    receipt: bytes = field(repr=False)
    created_at: datetime
    received_at: datetime
    acknowledged: uuid.UUID  # the message of ours it acknowledges
    acknowledged_at: datetime
    acknowledged_by: str
    how: str


@dataclass(frozen=True)
class AcknowledgementState:
    """A sent message's acknowledgement: awaiting, acknowledged or overdue."""

    message_id: uuid.UUID
    peer: str
    kind: str
    due_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    how: str | None
    recorded_at: datetime | None
    case_id: uuid.UUID | None = None

    def status(self, now: datetime) -> str:
        """acknowledged, overdue, awaiting, or not_required (no deadline, none received)."""
        if self.acknowledged_at is not None:
            return "acknowledged"
        if self.due_at is None:
            return "not_required"
        return "overdue" if now > self.due_at else "awaiting"


@dataclass(frozen=True)
class GivenAcknowledgement:
    """This node's acknowledgement of a received message."""

    sender: str
    message_id: uuid.UUID
    acknowledgement: uuid.UUID
    acknowledged_at: datetime
    acknowledged_by: str
    how: str


@dataclass(frozen=True)
class ReceivedMessage:
    """A received message as acknowledging it needs it: ids and marking, no content."""

    sender: str
    message_id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    handling: str | None


class _AlreadyGiven(Exception):  # noqa: N818 - a signal inside one method
    """Another transaction acknowledged the message first: roll this one back."""


def _state(row: asyncpg.Record, with_case: bool = False) -> AcknowledgementState:
    return AcknowledgementState(
        row["message_id"],
        row["peer"],
        row["kind"],
        row["due_at"],
        row["acknowledged_at"],
        row["acknowledged_by"],
        row["how"],
        row["recorded_at"],
        row["case_id"] if with_case else None,
    )


def _given(row: asyncpg.Record) -> GivenAcknowledgement:
    return GivenAcknowledgement(
        row["sender"],
        row["message_id"],
        row["acknowledgement"],
        row["acknowledged_at"],
        row["acknowledged_by"],
        row["how"],
    )


class Acknowledgements(StorePart):
    """Mixed into Store: acknowledgement deadlines, received and given acknowledgements."""

    async def find_control_received(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        """The control envelopes from sender among message_ids that we accepted before."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.control_received_find_many, sender, list(message_ids))
        return {
            row["message_id"]: StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
            for row in rows
        }

    async def record_acknowledgements(
        self, items: Sequence[IncomingAcknowledgement], now: datetime
    ) -> list[StoredIncoming | None]:
        """Record verified acknowledgements, with audit entries, in one transaction. Per
        item: what is stored afterwards (an earlier envelope with the same id wins), or None
        when it acknowledges no message of ours that went to its sender in its case (check
        A5 of section 13.3: nothing is recorded, the caller refuses it)."""
        results: list[StoredIncoming | None] = []
        if not items:
            return results
        async with self._pool.acquire() as connection, connection.transaction():
            audit: list[AuditEntry] = []
            for item in items:
                kind = await connection.fetchval(
                    Q.ack_sent_message, item.acknowledged, item.sender, item.case_id
                )
                if kind is None:
                    results.append(None)
                    continue
                inserted = await connection.fetchval(
                    Q.control_received_insert,
                    item.sender,
                    item.message_id,
                    "acknowledgement",
                    item.envelope_sha256,
                    item.receipt,
                    item.created_at,
                    item.received_at,
                )
                if inserted is None:
                    row = await connection.fetchrow(
                        Q.control_received_get, item.sender, item.message_id
                    )
                    assert row is not None  # committed, never deleted
                    results.append(
                        StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
                    )
                    continue
                first = await connection.fetchval(
                    Q.ack_record,
                    item.acknowledged,
                    item.sender,
                    kind,
                    item.acknowledged_at,
                    item.acknowledged_by,
                    item.how,
                    item.message_id,
                    now,
                )
                audit.append(
                    AuditEntry(
                        f"peer:{item.sender}",
                        "outbox.acknowledged" if first else "outbox.acknowledged_again",
                        str(item.acknowledged),
                        {
                            "peer": item.sender,
                            "by": item.acknowledged_by,
                            "how": item.how,
                            "acknowledgement": str(item.message_id),
                        },
                    )
                )
                results.append(StoredIncoming(item.envelope_sha256, item.receipt))
            await self._append_audit(connection, audit, now)
        return results

    async def acknowledgement_states(
        self, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, AcknowledgementState]:
        """Of sent messages, those that need or got an acknowledgement."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.ack_states, list(message_ids))
        return {row["message_id"]: _state(row) for row in rows}

    async def overdue_acknowledgements(
        self, now: datetime, limit: int = 100
    ) -> list[AcknowledgementState]:
        """Sent messages past their deadline without an acknowledgement, with their case."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.ack_overdue_list, now, limit)
        return [_state(row, with_case=True) for row in rows]

    async def overdue_acknowledgement_counts(self, now: datetime) -> dict[tuple[str, str], int]:
        """(peer, kind) -> how many sent messages are overdue."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.ack_overdue_counts, now)
        return {(row["peer"], row["kind"]): row["overdue"] for row in rows}

    async def received_message(self, message_id: uuid.UUID) -> ReceivedMessage | None:
        """The received message with this id, for acknowledging it."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.ack_received_message, message_id)
        if row is None:
            return None
        return ReceivedMessage(
            row["sender"], row["message_id"], row["case_id"], row["kind"], row["handling"]
        )

    async def given_acknowledgement(
        self, sender: str, message_id: uuid.UUID
    ) -> GivenAcknowledgement | None:
        """This node's acknowledgement of a received message, if it gave one."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.ack_given_get, sender, message_id)
        return None if row is None else _given(row)

    async def given_acknowledgements(
        self, message_ids: Sequence[uuid.UUID]
    ) -> dict[tuple[str, uuid.UUID], GivenAcknowledgement]:
        """This node's acknowledgements of received messages, by (sender, message id)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.ack_given_many, list(message_ids))
        return {(row["sender"], row["message_id"]): _given(row) for row in rows}

    async def give_acknowledgement(
        self,
        given: GivenAcknowledgement,
        envelope: OutgoingEnvelope,
        audit: AuditEntry,
        now: datetime,
    ) -> tuple[GivenAcknowledgement, bool]:
        """Queue the acknowledgement envelope of a received message and record it, with its
        audit entry, in one transaction; (what is recorded, whether this call did it). When
        the message was acknowledged before (or concurrently), nothing is queued."""
        async with self._pool.acquire() as connection:
            try:
                async with connection.transaction():
                    row = await connection.fetchrow(Q.ack_given_get, given.sender, given.message_id)
                    if row is not None:
                        return _given(row), False
                    await connection.execute(Q.outbox_insert, *outbox_insert_args(envelope, now))
                    inserted = await connection.fetchval(
                        Q.ack_given_insert,
                        given.sender,
                        given.message_id,
                        given.acknowledgement,
                        given.acknowledged_at,
                        given.acknowledged_by,
                        given.how,
                    )
                    if inserted is None:
                        raise _AlreadyGiven
                    await self._append_audit(connection, [audit], now)
                    await connection.execute(Q.outbox_notify, envelope.recipient)
            except _AlreadyGiven:
                row = await connection.fetchrow(Q.ack_given_get, given.sender, given.message_id)
                assert row is not None  # the other transaction committed it
                return _given(row), False
        return given, True
