"""Sending to peers: the one-sender-per-peer lock, claiming, releasing and finishing batches,
and each destination's failure count and retry time.

One sender per destination across all processes sharing the database: a session-level
advisory lock per peer, held on a dedicated connection. A crashed holder's connection closes
and PostgreSQL releases the lock at once; the next holder puts the rows the dead one had
claimed back in the queue (the receiver's deduplication makes the resend harmless). Rows are
claimed with FOR NO KEY UPDATE SKIP LOCKED in queue order, so a claim never waits on another
transaction and never takes a row twice. A pipelined sender (several batches in flight)
names the cases it has in flight, and the claim skips every queued row of those cases, so
no message is sent beside an earlier one of its case. The claim walks the partial index
outbox_pending (recipient, id) of queued and sending rows only, so its cost stays flat
however many delivered rows the outbox keeps (tests/store/test_claim.py checks the plan),
and from the sender's floor (claim_batch): during a long drain the index's head fills with
entries of rows delivered since the last vacuum, which a scan from the start would wade
through on every claim.

A mixin of Store (see gateway.store.part), apart from store.py to keep each file readable.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from gateway.store.part import StorePart, finite_instant, utc_now
from gateway.store.queries import Q
from gateway.store.records import (
    AuditEntry,
    ClaimedBatch,
    ClaimedEnvelope,
    DeliveryOutcome,
    DestinationState,
)

if TYPE_CHECKING:
    from gateway.store.part import Connection


class SessionLock:
    """A held PostgreSQL session-level advisory lock: this process is the only one doing
    something (sending to a peer, delivering to a local client). release() gives it up;
    a crash gives it up too, as the connection closes."""

    def __init__(self, connection: asyncpg.Connection, key: str, unlock_query: str) -> None:
        self._connection = connection
        self.key = key
        self._unlock_query = unlock_query

    @property
    def held(self) -> bool:
        return not self._connection.is_closed()

    async def release(self) -> None:
        if self._connection.is_closed():
            return
        try:
            await self._connection.fetchval(self._unlock_query, self.key)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            pass  # a lost connection has released the lock already
        finally:
            self._connection.terminate()


class Sending(StorePart):
    _dsn: str

    async def try_lock_destination(self, peer: str) -> SessionLock | None:
        """Become the only sender to peer, or None if another process is."""
        lock = await self._try_lock(Q.destination_try_lock, Q.destination_unlock, peer)
        if lock is not None:
            async with self._pool.acquire() as connection:
                await connection.execute(Q.outbox_reset_sending, peer)
        return lock

    async def try_lock_local_client(self, client: str) -> SessionLock | None:
        """Become the only process delivering to a local client, or None."""
        return await self._try_lock(Q.local_delivery_try_lock, Q.local_delivery_unlock, client)

    async def _try_lock(self, lock_query: str, unlock_query: str, key: str) -> SessionLock | None:
        connection: asyncpg.Connection = await asyncpg.connect(self._dsn)
        try:
            if await connection.fetchval(lock_query, key):
                return SessionLock(connection, key, unlock_query)
        except BaseException:
            await connection.close()
            raise
        await connection.close()
        return None

    async def expire_due(self, peer: str, now: datetime) -> list[uuid.UUID]:
        """Move queued messages past their expiry to expired; returns their ids."""
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(Q.outbox_expire_due, peer, now)
            expired = [row["message_id"] for row in rows]
            await self._append_audit(
                connection,
                [AuditEntry("delivery", "outbox.expired", str(m), {"peer": peer}) for m in expired],
                now,
            )
        return expired

    async def claim(self, peer: str, limit: int, owner: str) -> list[ClaimedEnvelope]:
        """Claim up to limit queued envelopes for peer, oldest first."""
        return (await self.claim_batch(peer, limit, owner)).envelopes

    async def claim_batch(
        self,
        peer: str,
        limit: int,
        owner: str,
        *,
        busy_cases: Sequence[uuid.UUID] = (),
        floor: int = 0,
    ) -> ClaimedBatch:
        """Claim up to limit queued envelopes for peer, oldest first, none of busy_cases (a
        case with a batch in flight: its later messages must not overtake it), none below
        queue position floor (the caller knows there is none queued there)."""
        async with self._pool.acquire() as connection:
            # One statement: autocommit, no BEGIN/COMMIT round trips.
            rows = await connection.fetch(
                Q.outbox_claim, peer, limit, owner, utc_now(), list(busy_cases), floor
            )
        claimed = [
            ClaimedEnvelope(
                queue_position=row["id"],
                message_id=row["message_id"],
                case_id=row["case_id"],
                envelope=row["envelope"],
                envelope_sha256=row["envelope_sha256"],
                attempts=row["attempts"],
            )
            for row in rows
        ]
        claimed.sort(key=lambda item: item.queue_position)
        if not claimed:
            return ClaimedBatch([], floor)
        # Below the first row claimed, only rows skipped for their case can still be queued.
        skipped = rows[0]["skipped_from"]
        first = claimed[0].queue_position
        return ClaimedBatch(claimed, first if skipped is None else min(first, skipped))

    async def release(self, message_ids: Sequence[uuid.UUID], error: str | None) -> None:
        """Put claimed envelopes back in the queue (error None keeps the last one)."""
        async with self._pool.acquire() as connection:
            await connection.execute(Q.outbox_release, list(message_ids), error)

    async def release_invalid(
        self, message_ids: Sequence[uuid.UUID], error: str, *, give_up_after: int
    ) -> list[uuid.UUID]:
        """Requeue envelopes whose receipts did not verify; after give_up_after such answers
        a message is dead. Returns the ids that died."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                Q.outbox_release_invalid, list(message_ids), error, give_up_after, now
            )
            dead = [row["message_id"] for row in rows if row["state"] == "dead"]
            await self._append_audit(
                connection,
                [AuditEntry("delivery", "outbox.dead", str(m), {"reason": error}) for m in dead],
                now,
            )
        return dead

    async def finish(self, peer: str, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Record verified receipts (delivered or rejected) in one transaction."""
        if not outcomes:
            return
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                Q.outbox_finish_many,
                [o.message_id for o in outcomes],
                ["delivered" if o.accepted else "rejected" for o in outcomes],
                [None if o.accepted else f"rejected by {peer}: {o.reason_code}" for o in outcomes],
                now,
            )
            # Only rows still being sent by us are finished; a row requeued meanwhile is not.
            await record_finished(connection, peer, outcomes, rows, now)

    async def reject_unreceipted(
        self, peer: str, message_ids: Sequence[uuid.UUID], reason: str
    ) -> None:
        """End claimed messages the peer refused as a whole request (HTTP 4xx, no receipts)."""
        now = utc_now()
        audit: list[AuditEntry] = []
        async with self._pool.acquire() as connection, connection.transaction():
            for message_id in message_ids:
                updated = await connection.fetchval(
                    Q.outbox_finish, message_id, "rejected", f"refused by {peer}: {reason}", now
                )
                if updated is not None:
                    audit.append(
                        AuditEntry(
                            "delivery",
                            "outbox.rejected",
                            str(message_id),
                            {"peer": peer, "reason": reason},
                        )
                    )
            await self._append_audit(connection, audit, now)

    async def pending_count(self, peer: str) -> int:
        async with self._pool.acquire() as connection:
            count: int = await connection.fetchval(Q.outbox_pending_count, peer)
        return count

    # --- destinations -----------------------------------------------------------------

    async def destination(self, peer: str) -> DestinationState:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.destination_get, peer)
        if row is None:
            return DestinationState(peer)
        return DestinationState(
            peer=peer,
            failures=row["failures"],
            retry_at=finite_instant(row["retry_at"]),
            last_error=row["last_error"],
            last_success_at=row["last_success_at"],
            last_failure_at=row["last_failure_at"],
        )

    async def record_failure(
        self, peer: str, failures: int, retry_at: datetime, error: str
    ) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(
                Q.destination_failure, peer, failures, retry_at, error, utc_now()
            )

    async def record_success(self, peer: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(Q.destination_success, peer, utc_now())


async def record_finished(
    connection: Connection,
    peer: str,
    outcomes: Sequence[DeliveryOutcome],
    finished: Sequence[asyncpg.Record],
    now: datetime,
) -> list[DeliveryOutcome]:
    """Inside a finishing transaction: the receipts and audit entries of the outcomes
    whose rows the statement finished (`finished`: rows with message_id); returns those.
    Shared by the online sender and receipts that came in a bundle (gateway.store.bundles)."""
    ids = {row["message_id"] for row in finished}
    done = [o for o in outcomes if o.message_id in ids]
    await connection.execute(
        Q.receipt_insert_many,
        [o.message_id for o in done],
        [o.receipt for o in done],
        [o.accepted for o in done],
        [o.reason_code for o in done],
        [o.received_at for o in done],
    )
    audit = []
    for outcome in done:
        detail: dict[str, str | int | bool | None] = {"peer": peer}
        if not outcome.accepted:
            detail["reason"] = outcome.reason_code
        state = "delivered" if outcome.accepted else "rejected"
        audit.append(AuditEntry("delivery", f"outbox.{state}", str(outcome.message_id), detail))
    await StorePart._append_audit(connection, audit, now)
    return done
