"""What every part of Store shares: the pool, the audit appender and row readers.

Store is one class mixed from several files (store.py and one mixin per console area), and
each part writes audit entries in the same transaction as the change they record. They all
derive from StorePart, so there is one appender for the one hash chain, not a declaration of
it in every mixin.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

from gateway.store.audit import GENESIS, canonical_detail, entry_hash
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, InboxRow

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
        # Serialises appenders for the rest of this transaction: the chain must be linear.
        await connection.execute(Q.audit_lock)
        head = await connection.fetchrow(Q.audit_head)
        seq, prev = (head["seq"], bytes(head["hash"])) if head else (0, GENESIS)
        rows = []
        for entry in entries:
            seq += 1
            digest = entry_hash(prev, seq, at, entry)
            rows.append(
                (
                    seq,
                    at,
                    entry.actor,
                    entry.action,
                    entry.subject,
                    canonical_detail(entry.detail),
                    prev,
                    digest,
                )
            )
            prev = digest
        await connection.executemany(Q.audit_insert, rows)


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
