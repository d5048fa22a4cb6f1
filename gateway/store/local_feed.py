"""Held local deliveries and per-client summaries: the store's local-delivery side.

A local delivery that no retry can fix (the client's format cannot carry the message, the
stored envelope no longer opens) moves from `pending` to `held` with a reason code, so the
client's feed behind it flows on; only an operator's requeue moves it back to `pending`, in
its original place in the queue (rows are taken in id order). Both moves are checked by the
transition trigger and written to the audit log.

Retention (gateway.store.retention) deletes an incoming message's content only once every
local client has had it, so a held delivery keeps its message's content.

Kept apart from store.py (a mixin of Store) to keep each file readable; it shares the pool
and the audit appender.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gateway.store.part import StorePart
from gateway.store.queries import Q
from gateway.store.records import (
    AuditEntry,
    LocalClientSummary,
    LocalDeliveryRow,
    PendingLocalDelivery,
    RequeuedDelivery,
)


class LocalFeed(StorePart):
    """Mixed into Store: operations on held deliveries and summaries."""

    async def hold_local(self, delivery: PendingLocalDelivery, client: str, reason: str) -> bool:
        """Set a delivery aside with its reason code; False when it was not pending."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as connection, connection.transaction():
            held = await connection.fetchval(Q.local_delivery_hold, delivery.id, reason, now)
            if held is None:
                return False
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        "local-delivery",
                        "local.held",
                        str(delivery.message_id),
                        {"client": client, "sender": delivery.sender, "reason": reason},
                    )
                ],
                now,
            )
        return True

    async def list_local_deliveries(
        self, *, client: str | None = None, state: str | None = None, limit: int = 50
    ) -> list[LocalDeliveryRow]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.local_delivery_list, client, state, limit)
        return [
            LocalDeliveryRow(
                id=row["id"],
                client=row["client"],
                state=row["state"],
                attempts=row["attempts"],
                last_error=row["last_error"],
                held_reason=row["held_reason"],
                held_at=row["held_at"],
                created_at=row["created_at"],
                delivered_at=row["delivered_at"],
                sender=row["sender"],
                message_id=row["message_id"],
                kind=row["kind"],
            )
            for row in rows
        ]

    async def requeue_held(
        self, operator: str, *, client: str | None = None, ids: Sequence[int] | None = None
    ) -> list[RequeuedDelivery]:
        """Put held deliveries back in their place in the queue (all of client's, or ids)."""
        now = datetime.now(UTC)
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                Q.local_delivery_requeue, client, None if ids is None else list(ids)
            )
            requeued = [
                RequeuedDelivery(row["id"], row["client"], row["sender"], row["message_id"])
                for row in rows
            ]
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        operator,
                        "local.requeued",
                        str(item.message_id),
                        {"client": item.client, "sender": item.sender, "delivery": item.id},
                    )
                    for item in requeued
                ],
                now,
            )
            for woken in sorted({item.client for item in requeued}):
                await connection.execute(Q.inbox_notify, woken)
        return requeued

    async def local_client_summaries(self, clients: Sequence[str]) -> list[LocalClientSummary]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.local_client_summary, list(clients))
        return [
            LocalClientSummary(
                client=row["client"],
                backlog=row["backlog"],
                oldest_pending=row["oldest"],
                head_attempts=row["head_attempts"],
                held=row["held"],
            )
            for row in rows
        ]
