"""What every part of Store shares: the pool, the audit appender and row readers.

Store is one class mixed from several files (store.py and one mixin per console area), and
each part writes audit entries in the same transaction as the change they record. They all
derive from StorePart, so there is one appender for the one hash chain, not a declaration of
it in every mixin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

from gateway.store.audit import GENESIS, canonical_detail, entry_hash
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, InboxRow, OutgoingEnvelope

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]


class StorePart:
    """The base of Store and of each of its mixins."""

    _pool: asyncpg.Pool

    @staticmethod
    async def _append_audit(
        connection: Connection, entries: Sequence[AuditEntry], at: datetime
    ) -> None:
        if not entries:
            return
        # Serialises appenders for the rest of this transaction (the chain must be linear):
        # takes the lock, then reads the head under it, in one round trip.
        head = await connection.fetchrow(Q.audit_head)
        seq, prev = (head["seq"], bytes(head["hash"])) if head else (0, GENESIS)
        seqs: list[int] = []
        prevs: list[bytes] = []
        hashes: list[bytes] = []
        for entry in entries:
            seq += 1
            digest = entry_hash(prev, seq, at, entry)
            seqs.append(seq)
            prevs.append(prev)
            hashes.append(digest)
            prev = digest
        # One statement for them all: the lock is held until commit, so every round trip
        # inside it is paid by every appender waiting behind it.
        await connection.execute(
            Q.audit_insert,
            seqs,
            at,
            [entry.actor for entry in entries],
            [entry.action for entry in entries],
            [entry.subject for entry in entries],
            [canonical_detail(entry.detail) for entry in entries],
            prevs,
            hashes,
        )


def stored_content(value: bytes | None) -> bytes | None:
    """A stored envelope as bytes; None once retention deleted it."""
    return None if value is None else bytes(value)


def inbox_row(row: asyncpg.Record) -> InboxRow:
    return InboxRow(
        id=row["id"],
        sender=row["sender"],
        message_id=row["message_id"],
        case_id=row["case_id"],
        kind=row["kind"],
        created_at=row["created_at"],
        received_at=row["received_at"],
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def finite_instant(value: datetime | None) -> datetime | None:
    # asyncpg maps '-infinity' to datetime.min without a zone; that means "no wait".
    if value is None or value.tzinfo is None:
        return None
    return value


def outbox_insert_many_args(items: Sequence[OutgoingEnvelope], now: datetime) -> tuple[object, ...]:
    """The arguments of Q.outbox_insert_many: one array per column, then `now`."""
    return (
        [item.message_id for item in items],
        [item.recipient for item in items],
        [item.case_id for item in items],
        [item.kind for item in items],
        [item.handling for item in items],
        [item.sender_reference for item in items],
        [item.local_client for item in items],
        [item.envelope for item in items],
        [item.envelope_sha256 for item in items],
        [item.expires_at for item in items],
        now,
    )


def outbox_insert_args(item: OutgoingEnvelope, now: datetime) -> tuple[object, ...]:
    """The arguments of Q.outbox_insert for one envelope queued at `now`."""
    return (
        item.message_id,
        item.recipient,
        item.case_id,
        item.kind,
        item.handling,
        item.sender_reference,
        item.local_client,
        item.envelope,
        item.envelope_sha256,
        item.expires_at,
        now,
    )
