"""Receiving: incoming envelopes into the inbox with their receipts, and their local
deliveries to the node's own clients (drop folders and webhooks).

A mixin of Store (see gateway.store.part), apart from store.py to keep each file readable.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from gateway.store.binding import link_inbox_attachments
from gateway.store.part import StorePart, utc_now
from gateway.store.queries import Q
from gateway.store.records import (
    AuditEntry,
    IncomingEnvelope,
    LinkedAttachment,
    PendingLocalDelivery,
    StoredIncoming,
)


class Receiving(StorePart):
    # --- inbox ------------------------------------------------------------------------

    async def find_incoming(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        """What the inbox holds of these messages from sender, in one query."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.inbox_find_many, sender, list(message_ids))
        return {
            row["message_id"]: StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
            for row in rows
        }

    async def store_incoming(self, items: Sequence[IncomingEnvelope]) -> list[StoredIncoming]:
        """Store verified envelopes with their receipts, local deliveries and audit entries in
        one transaction.

        Returns, per item, what the inbox holds afterwards: the item itself, or, when another
        envelope with the same (sender, message id) got there first (a concurrent request, or
        earlier in the same batch), that one.
        """
        if not items:
            return []
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                Q.inbox_insert_many,
                [i.sender for i in items],
                [i.message_id for i in items],
                [i.case_id for i in items],
                [i.kind for i in items],
                [i.envelope for i in items],
                [i.envelope_sha256 for i in items],
                [i.receipt for i in items],
                [i.created_at for i in items],
                [i.received_at for i in items],
                [i.handling for i in items],
            )
            inserted = {(row["sender"], row["message_id"]): row["id"] for row in rows}
            results: list[StoredIncoming] = []
            audit: list[AuditEntry] = []
            clients: list[str] = []
            inbox_ids: list[int] = []
            links: list[tuple[int, str, LinkedAttachment]] = []
            earlier: dict[tuple[str, uuid.UUID], StoredIncoming] = {}
            for item in items:
                key = (item.sender, item.message_id)
                inbox_id = inserted.pop(key, None)
                if inbox_id is None:
                    if key not in earlier:
                        row = await connection.fetchrow(Q.inbox_find, *key)
                        assert row is not None, "ON CONFLICT implies the row exists"
                        earlier[key] = StoredIncoming(
                            bytes(row["envelope_sha256"]), bytes(row["receipt"])
                        )
                    results.append(earlier[key])
                    continue
                stored = StoredIncoming(item.envelope_sha256, item.receipt)
                # A second envelope with this key later in the batch meets this one.
                earlier[key] = stored
                results.append(stored)
                links += [(inbox_id, item.sender, link) for link in item.attachments]
                clients += item.local_recipients
                inbox_ids += [inbox_id] * len(item.local_recipients)
                audit.append(
                    AuditEntry(
                        "federation",
                        "inbox.received",
                        str(item.message_id),
                        {"sender": item.sender, "kind": item.kind},
                    )
                )
                audit += [
                    AuditEntry(
                        "local-delivery",
                        "local.withheld",
                        str(item.message_id),
                        {"client": client, "sender": item.sender, "reason": "victim_protected"},
                    )
                    for client in item.withheld_recipients
                ]
            await link_inbox_attachments(connection, links)
            if clients:
                await connection.execute(Q.local_delivery_insert_many, clients, inbox_ids)
                for client in sorted(set(clients)):
                    await connection.execute(Q.inbox_notify, client)
            await self._append_audit(connection, audit, now)
        return results

    # --- local delivery ---------------------------------------------------------------

    async def next_local_deliveries(self, client: str, limit: int) -> list[PendingLocalDelivery]:
        """The oldest undelivered incoming messages for a local client."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.local_delivery_next, client, limit)
        return [
            PendingLocalDelivery(
                id=row["id"],
                inbox_id=row["inbox_id"],
                delivering=row["state"] == "delivering",
                attempts=row["attempts"],
                file_name=row["file_name"],
                sender=row["sender"],
                message_id=row["message_id"],
                case_id=row["case_id"],
                kind=row["kind"],
                envelope=bytes(row["envelope"]),
            )
            for row in rows
        ]

    async def mark_local_delivering(self, delivery_id: int, file_name: str) -> None:
        """Record the file about to be renamed into a drop folder (see gateway.delivery)."""
        async with self._pool.acquire() as connection:
            await connection.execute(Q.local_delivery_mark_delivering, delivery_id, file_name)

    async def mark_local_delivered(
        self, delivery: PendingLocalDelivery, client: str, how: str
    ) -> None:
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            updated = await connection.fetchval(Q.local_delivery_mark_delivered, delivery.id, now)
            if updated is not None:
                await self._append_audit(
                    connection,
                    [
                        AuditEntry(
                            "local-delivery",
                            "local.delivered",
                            str(delivery.message_id),
                            {"client": client, "via": how},
                        )
                    ],
                    now,
                )

    async def mark_local_failed(self, delivery_id: int, error: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(Q.local_delivery_mark_failed, delivery_id, error)

    async def dropped_file_seen(self, client: str, sha256: bytes) -> bool:
        async with self._pool.acquire() as connection:
            return await connection.fetchrow(Q.dropped_file_find, client, sha256) is not None
