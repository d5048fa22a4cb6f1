"""Confirmed cancellation, the store's side (docs/PROTOCOL.md section 14, migration 0016).

Sending: the peers a case's earlier messages went to (a cancellation goes to each), the
cancellations queued (recorded by Store.enqueue in its transaction, cancellations_sent), the
confirmations received for them, and the per-recipient status of a case's cancellations.

Receiving: Store.store_incoming calls apply_cancellations inside its transaction for each
newly stored CANCEL, so that storing it, marking its case cancelled, withdrawing the local
deliveries of the case's earlier messages that have not gone out and queuing the
confirmation back to its sender are one commit: a crash leaves all or nothing, and a
replayed cancellation (already stored) is not applied twice.

Kept apart from store.py (a mixin of Store) to keep each file readable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.store.part import StorePart, outbox_insert_many_args, utc_now
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, IncomingEnvelope, OutgoingEnvelope, StoredIncoming

if TYPE_CHECKING:
    from gateway.store.part import Connection

# Seals the confirmation of a stored cancellation, given how many deliveries it withdrew;
# None when it cannot be sealed (the sender is no peer any more: audited, nothing queued).
ConfirmationSealer = Callable[[IncomingEnvelope, int], OutgoingEnvelope | None]


@dataclass(frozen=True)
class IncomingConfirmation:
    """A verified cancellation confirmation to record, with the receipt we signed for it."""

    sender: str
    message_id: uuid.UUID
    envelope_sha256: bytes
    receipt: bytes = field(repr=False)
    cancellation_message_id: uuid.UUID
    confirmed_at: datetime
    withdrawn: int
    received_at: datetime


@dataclass(frozen=True)
class AppliedCancellation:
    """A cancellation applied at this node: its withdrawn deliveries per local client."""

    sender: str
    message_id: uuid.UUID
    case_id: uuid.UUID
    withdrawn: dict[str, int]
    confirmation: uuid.UUID | None


@dataclass(frozen=True)
class CancellationRecipient:
    """One copy of a cancellation this node sent, and how far it got."""

    message_id: uuid.UUID
    recipient: str
    state: str  # the outbox row's
    queued_at: datetime
    receipted_at: datetime | None
    rejected_reason: str | None
    confirmed_at: datetime | None
    withdrawn: int | None
    confirmation_received_at: datetime | None

    @property
    def progress(self) -> str:
        """sent (queued, not receipted yet) / receipted / confirmed / rejected / failed."""
        if self.confirmed_at is not None:
            return "confirmed"
        if self.rejected_reason is not None:
            return "rejected"
        if self.receipted_at is not None:
            return "receipted"
        if self.state in ("expired", "dead"):
            return "failed"
        return "sent"


@dataclass(frozen=True)
class CancelledCase:
    """A case a peer cancelled at this node."""

    sender: str
    case_id: uuid.UUID
    cancellation: uuid.UUID
    cancelled_at: datetime
    withdrawn: int


class Cancellations(StorePart):
    """Mixed into Store: cancellations sent and confirmed, and applied when received."""

    async def case_recipients(self, case_id: uuid.UUID, kinds: Sequence[str]) -> list[str]:
        """The peers earlier messages (of kinds) of case_id were queued for, first first."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.cancellation_case_recipients, case_id, list(kinds))
        return [row["recipient"] for row in rows]

    @staticmethod
    async def _record_cancellations_sent(
        connection: Connection, items: Sequence[OutgoingEnvelope]
    ) -> None:
        cancels = [item for item in items if item.cancels]
        if cancels:
            await connection.execute(
                Q.cancellation_sent_insert_many,
                [item.message_id for item in cancels],
                [item.recipient for item in cancels],
                [item.case_id for item in cancels],
            )

    async def _apply_cancellations(
        self,
        connection: Connection,
        stored: Sequence[tuple[IncomingEnvelope, int]],
        now: datetime,
        confirm: ConfirmationSealer | None,
    ) -> tuple[list[AuditEntry], list[AppliedCancellation]]:
        """Inside store_incoming's transaction: for each newly stored cancellation (and its
        inbox row id), mark the case, withdraw, and queue the confirmation."""
        audit: list[AuditEntry] = []
        applied: list[AppliedCancellation] = []
        queued: list[OutgoingEnvelope] = []
        for item, inbox_id in stored:
            await connection.execute(Q.cancellation_case_lock, item.sender, item.case_id)
            rows = await connection.fetch(
                Q.cancellation_withdraw, item.sender, item.case_id, inbox_id, now, item.message_id
            )
            withdrawn: dict[str, int] = {}
            for row in rows:
                withdrawn[row["client"]] = withdrawn.get(row["client"], 0) + 1
                audit.append(
                    AuditEntry(
                        "local-delivery",
                        "local.withdrawn",
                        str(row["message_id"]),
                        {
                            "client": row["client"],
                            "sender": item.sender,
                            "cancellation": str(item.message_id),
                        },
                    )
                )
            await connection.execute(
                Q.cancellation_case_insert,
                item.sender,
                item.case_id,
                item.message_id,
                now,
                len(rows),
            )
            audit.append(
                AuditEntry(
                    "federation",
                    "case.cancelled",
                    str(item.case_id),
                    {"sender": item.sender, "cancellation": str(item.message_id)},
                )
            )
            confirmation = None if confirm is None else confirm(item, len(rows))
            if confirmation is not None:
                queued.append(confirmation)
                audit.append(
                    AuditEntry(
                        "federation",
                        "outbox.queued",
                        str(confirmation.message_id),
                        {
                            "peer": confirmation.recipient,
                            "kind": confirmation.kind,
                            "case": str(item.case_id),
                            "confirms": str(item.message_id),
                        },
                    )
                )
            applied.append(
                AppliedCancellation(
                    item.sender,
                    item.message_id,
                    item.case_id,
                    withdrawn,
                    None if confirmation is None else confirmation.message_id,
                )
            )
        if queued:
            await connection.execute(
                Q.outbox_insert_many, *outbox_insert_many_args(queued, now), [], [], []
            )
        return audit, applied

    async def find_cancellation_confirmations(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        """The confirmations from sender among message_ids that we accepted before."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                Q.cancellation_confirmation_find_many, sender, list(message_ids)
            )
        return {
            row["message_id"]: StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
            for row in rows
        }

    async def record_cancellation_confirmation(
        self, item: IncomingConfirmation
    ) -> StoredIncoming | None:
        """Record a confirmation with its audit entry; what is stored under its (sender,
        message id) afterwards (another envelope's, when one got there first), or None when
        this node sent no such cancellation to item.sender (nothing is written)."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            inserted = await connection.fetchval(
                Q.cancellation_confirmation_insert,
                item.sender,
                item.message_id,
                item.cancellation_message_id,
                item.envelope_sha256,
                item.receipt,
                item.confirmed_at,
                item.withdrawn,
                item.received_at,
            )
            if inserted is None:
                row = await connection.fetchrow(
                    Q.cancellation_confirmation_get, item.sender, item.message_id
                )
                if row is None:
                    return None
                return StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        "federation",
                        "cancellation.confirmed",
                        str(item.cancellation_message_id),
                        {
                            "peer": item.sender,
                            "confirmation": str(item.message_id),
                            "withdrawn": item.withdrawn,
                        },
                    )
                ],
                now,
            )
        return StoredIncoming(item.envelope_sha256, item.receipt)

    async def cancellation_status(self, case_id: uuid.UUID) -> list[CancellationRecipient]:
        """Every copy of every cancellation this node sent in case_id, in queue order."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.cancellation_status, case_id)
        return [
            CancellationRecipient(
                message_id=row["message_id"],
                recipient=row["recipient"],
                state=row["state"],
                queued_at=row["queued_at"],
                receipted_at=row["receipted_at"] if row["accepted"] else None,
                rejected_reason=(row["reason_code"] or "rejected")
                if row["accepted"] is False
                else None,
                confirmed_at=row["confirmed_at"],
                withdrawn=row["withdrawn"],
                confirmation_received_at=row["confirmation_received_at"],
            )
            for row in rows
        ]

    async def cancelled_cases(self, case_ids: Sequence[uuid.UUID]) -> list[CancelledCase]:
        """Which of case_ids a peer cancelled here, by whom."""
        if not case_ids:
            return []
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.cancellation_cases_cancelled, list(set(case_ids)))
        return [
            CancelledCase(
                row["sender"],
                row["case_id"],
                row["cancellation"],
                row["cancelled_at"],
                row["withdrawn"],
            )
            for row in rows
        ]

    async def release_local_delivery(self, delivery_id: int) -> bool:
        """Undo a claim the target did not take (nothing recorded): pending again, or, when
        its case was cancelled while the attempt was on, withdrawn (audited); True then."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            case = await connection.fetchrow(Q.local_delivery_case, delivery_id)
            if case is None:
                return False
            await connection.execute(Q.cancellation_case_lock, case["sender"], case["case_id"])
            row = await connection.fetchrow(Q.local_delivery_release, delivery_id, now)
            if row is None or row["state"] != "withdrawn":
                return False
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        "local-delivery",
                        "local.withdrawn",
                        str(row["message_id"]),
                        {
                            "client": row["client"],
                            "sender": row["sender"],
                            "cancellation": str(row["withdrawn_by"]),
                        },
                    )
                ],
                now,
            )
        return True

    async def claim_local_delivery(self, delivery_id: int) -> bool:
        """A delivery worker's claim just before it hands a document over: False when a
        cancellation withdrew the delivery first (it must not go out)."""
        async with self._pool.acquire() as connection:
            return await connection.fetchval(Q.local_delivery_claim, delivery_id) is not None
