"""Offline bundles, the store's side (docs/PROTOCOL.md section 15, migration 0018).

Export: the rows a bundle for a peer takes (pending, unexpired, not in a bundle still
waiting for its receipts unless asked), and the record of the export with its audit entry,
in one transaction. The rows stay queued: whichever of the bundle and the online sender
gets there first is stored by the peer, the other is a replay.

Import of envelopes goes through the federation receiver (Store.store_incoming), so here
only the bundle id is looked up before (bundle_replayed) and recorded after. Import of
receipts finishes rows like the online sender's Store.finish (the same receipt and audit
recording, sending.record_finished), from queued or sending, for the bundle's sender only,
and records the bundle id in that same transaction: a replayed receipts bundle changes
nothing.

A mixin of Store (see gateway.store.part), apart from store.py to keep each file readable.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.store.part import StorePart, utc_now
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, ClaimedEnvelope, DeliveryOutcome
from gateway.store.sending import record_finished

if TYPE_CHECKING:
    from gateway.store.part import Connection


class BundleAlreadyImported(Exception):  # noqa: N818 - a verdict on a bundle
    """This (sender, bundle id) was imported before."""


@dataclass(frozen=True)
class ReceiptSubject:
    """An outbox row a receipt in a bundle names: its envelope and state."""

    queue_position: int
    message_id: uuid.UUID
    envelope: bytes = field(repr=False)
    state: str


@dataclass(frozen=True)
class BundleImportRecord:
    """What an import did, kept in bundles_received."""

    sender: str
    bundle_id: uuid.UUID
    kind: str
    items: int
    accepted: int
    refused: int


class OfflineBundles(StorePart):
    async def bundle_export_candidates(
        self, peer: str, now: datetime, *, include_exported: bool, limit: int
    ) -> list[ClaimedEnvelope]:
        """Up to limit of peer's pending rows for a bundle, in queue order."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                Q.bundle_export_candidates, peer, now, include_exported, limit
            )
        return [
            ClaimedEnvelope(
                queue_position=row["id"],
                message_id=row["message_id"],
                case_id=row["case_id"],
                envelope=bytes(row["envelope"]),
                envelope_sha256=bytes(row["envelope_sha256"]),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    async def record_bundle_export(
        self, bundle_id: uuid.UUID, peer: str, message_ids: Sequence[uuid.UUID], actor: str
    ) -> None:
        """The rows exported in bundle_id, and the audit entry (ids and count, no content)."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                Q.bundle_export_insert, bundle_id, peer, list(message_ids), now
            )
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        actor,
                        "bundle.exported",
                        str(bundle_id),
                        {"peer": peer, "count": len(message_ids)},
                    )
                ],
                now,
            )

    async def bundles_travelling(
        self, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """Per pending message of message_ids that is in a bundle still waiting for its
        receipts, that bundle's id (the newest)."""
        if not message_ids:
            return {}
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.bundle_travelling, list(message_ids))
        return {row["message_id"]: row["bundle_id"] for row in rows}

    async def bundle_imported(self, sender: str, bundle_id: uuid.UUID) -> bool:
        async with self._pool.acquire() as connection:
            found = await connection.fetchval(Q.bundle_received_find, sender, bundle_id)
        return found is not None

    async def record_bundle_import(self, record: BundleImportRecord, actor: str) -> None:
        """Record an imported envelopes bundle (after its envelopes were stored by the
        receiver); BundleAlreadyImported when another import recorded it meanwhile."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            await self._insert_import(connection, record, now, actor)

    async def receipt_subjects(
        self, peer: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ReceiptSubject]:
        """The rows sent to peer that receipts in a bundle from peer name."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.bundle_receipt_subjects, peer, list(message_ids))
        return {
            row["message_id"]: ReceiptSubject(
                row["id"], row["message_id"], bytes(row["envelope"]), row["state"]
            )
            for row in rows
        }

    async def finish_from_bundle(
        self,
        record: BundleImportRecord,
        outcomes: Sequence[DeliveryOutcome],
        actor: str,
        *,
        answered: Sequence[uuid.UUID] = (),
    ) -> list[DeliveryOutcome]:
        """Record verified receipts that came in a bundle from record.sender, and the bundle,
        in one transaction; returns the outcomes whose rows this finished (a row already
        finished, online or by an earlier bundle, keeps its outcome). `answered`: further
        messages the bundle answered without finishing them ("not yet" refusals): no longer
        travelling, so the next export takes them again. BundleAlreadyImported (and nothing
        changed) when the bundle was imported before."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            await self._insert_import(connection, record, now, actor)
            rows = await connection.fetch(
                Q.bundle_outbox_finish,
                record.sender,
                [o.message_id for o in outcomes],
                ["delivered" if o.accepted else "rejected" for o in outcomes],
                [
                    None if o.accepted else f"rejected by {record.sender}: {o.reason_code}"
                    for o in outcomes
                ],
                now,
            )
            done = await record_finished(connection, record.sender, outcomes, rows, now)
            await connection.execute(
                Q.bundle_exports_receipted,
                record.sender,
                [o.message_id for o in outcomes] + list(answered),
                now,
            )
        return done

    async def _insert_import(
        self, connection: Connection, record: BundleImportRecord, now: datetime, actor: str
    ) -> None:
        inserted = await connection.fetchval(
            Q.bundle_received_insert,
            record.sender,
            record.bundle_id,
            record.kind,
            now,
            record.items,
            record.accepted,
            record.refused,
        )
        if inserted is None:
            raise BundleAlreadyImported(str(record.bundle_id))
        detail: Mapping[str, str | int | bool | None] = {
            "peer": record.sender,
            "kind": record.kind,
            "items": record.items,
            "accepted": record.accepted,
            "refused": record.refused,
        }
        await self._append_audit(
            connection,
            [AuditEntry(actor, "bundle.imported", str(record.bundle_id), dict(detail))],
            now,
        )
