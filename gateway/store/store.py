"""The gateway's only door to PostgreSQL.

Design notes:
- Every state lives here, so a crash at any line loses nothing: a message is either in the
  outbox (and will be sent) or not accepted; an incoming envelope is either in the inbox with
  its receipt (and a replay gets the same receipt) or was never acknowledged.
- Audit entries are written in the same transaction as the change they record.
- Outbox state is a database enum, moved only by the statements in queries.sql and checked
  by a trigger, so a bug or a hand-written UPDATE cannot, say, un-deliver a message.
- One sender per destination across all processes sharing the database: a session-level
  advisory lock per peer, held on a dedicated connection. A crashed holder's connection
  closes and PostgreSQL releases the lock at once; the next holder puts the rows the dead one
  had claimed back in the queue (the receiver's deduplication makes the resend harmless).
- Rows are claimed with FOR UPDATE SKIP LOCKED in queue order, so a claim never waits on
  another transaction and never takes a row twice.
- Wake-ups go through LISTEN/NOTIFY on channel `blg_outbox` with the recipient as payload;
  NOTIFY is transactional, so a worker is woken only for committed rows. The listening
  session is replaced when it is lost (gateway.store.listening).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from gateway.store.audit import GENESIS, entry_hash
from gateway.store.cases import Cases
from gateway.store.console_users import ConsoleUsers
from gateway.store.drafts import DraftApproval, Drafts
from gateway.store.listening import Listener
from gateway.store.local_feed import LocalFeed
from gateway.store.part import inbox_row, stored_content
from gateway.store.peer_keys import PeerKeys
from gateway.store.queries import Q, migrations
from gateway.store.records import (
    AuditEntry,
    AuditRow,
    AuditVerdict,
    ClaimedEnvelope,
    DeliveryOutcome,
    DestinationState,
    DroppedFile,
    InboxRow,
    IncomingEnvelope,
    OutboxRow,
    OutgoingEnvelope,
    PeerSummary,
    PendingLocalDelivery,
    StoredIncoming,
)
from gateway.store.retention import Retention

OUTBOX_CHANNEL = "blg_outbox"
INBOX_CHANNEL = "blg_inbox"
FINAL_STATES = frozenset({"delivered", "rejected", "expired", "dead"})


def _now() -> datetime:
    return datetime.now(UTC)


class AlreadyQueued(Exception):  # noqa: N818 - a verdict, not a failure
    """This dropped file's content was queued before (by this or another process)."""


class OutboxStateError(Exception):
    """An operator asked for a state change the outbox does not allow."""


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


@dataclass(frozen=True)
class PoolUsage:
    in_use: int
    size: int
    max_size: int


class Store(LocalFeed, ConsoleUsers, Cases, Drafts, Retention, PeerKeys):
    """Narrow, intention-named operations over one PostgreSQL database."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> Store:
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool, dsn)

    async def close(self) -> None:
        await self._pool.close()

    def pool_usage(self) -> PoolUsage:
        """This process's connections: checked out, open, and the most it may open."""
        size = self._pool.get_size()
        return PoolUsage(
            in_use=size - self._pool.get_idle_size(), size=size, max_size=self._pool.get_max_size()
        )

    # --- schema -----------------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Apply pending migrations in order, each in its own transaction; returns names."""
        applied_now: list[str] = []
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(Q.migrations_lock)
            await connection.execute(Q.migrations_table)
            done = {row["version"] for row in await connection.fetch(Q.migrations_applied)}
            for version, name, sql in migrations():
                if version in done:
                    continue
                await connection.execute(sql)
                await connection.execute(Q.migration_record, version, name)
                applied_now.append(name)
        return applied_now

    # --- outbox -----------------------------------------------------------------------

    async def enqueue(
        self,
        items: Sequence[OutgoingEnvelope],
        audit: Sequence[AuditEntry],
        *,
        dropped_file: DroppedFile | None = None,
        approval: DraftApproval | None = None,
    ) -> None:
        """Queue sealed envelopes and their audit entries atomically, and wake the senders.

        dropped_file, when given, is recorded in the same transaction, so a file from a
        drop folder is either fully queued and remembered, or neither. approval, when given,
        approves a console draft first in that transaction (see gateway.store.drafts): the
        draft is approved and queued, or neither.
        """
        now = _now()
        async with self._pool.acquire() as connection, connection.transaction():
            if approval is not None:
                await self._approve_draft(
                    connection, approval, [item.message_id for item in items], now
                )
            if dropped_file is not None:
                try:
                    await connection.execute(
                        Q.dropped_file_insert,
                        dropped_file.client,
                        dropped_file.sha256,
                        dropped_file.file_name,
                        dropped_file.messages,
                        dropped_file.rejected,
                    )
                except asyncpg.UniqueViolationError:
                    raise AlreadyQueued(dropped_file.file_name) from None
            await connection.executemany(
                Q.outbox_insert,
                [
                    (
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
                    for item in items
                ],
            )
            referenced = [item for item in items if item.sender_reference]
            if referenced:
                await connection.execute(
                    Q.case_reference_insert_many,
                    [item.kind for item in referenced],
                    [item.sender_reference for item in referenced],
                    [item.case_id for item in referenced],
                )
            await self._append_audit(connection, audit, now)
            for recipient in sorted({item.recipient for item in items}):
                await connection.execute(Q.outbox_notify, recipient)

    async def case_for_reference(self, kind: str, reference: str) -> uuid.UUID | None:
        """The case an earlier message of this kind with this own reference opened, if any."""
        async with self._pool.acquire() as connection:
            found: uuid.UUID | None = await connection.fetchval(
                Q.case_reference_find, kind, reference
            )
        return found

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
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(Q.outbox_claim, peer, limit, owner, _now())
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
        return claimed

    async def release(self, message_ids: Sequence[uuid.UUID], error: str | None) -> None:
        """Put claimed envelopes back in the queue (error None keeps the last one)."""
        async with self._pool.acquire() as connection:
            await connection.execute(Q.outbox_release, list(message_ids), error)

    async def release_invalid(
        self, message_ids: Sequence[uuid.UUID], error: str, *, give_up_after: int
    ) -> list[uuid.UUID]:
        """Requeue envelopes whose receipts did not verify; after give_up_after such answers
        a message is dead. Returns the ids that died."""
        now = _now()
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
        now = _now()
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                Q.outbox_finish_many,
                [o.message_id for o in outcomes],
                ["delivered" if o.accepted else "rejected" for o in outcomes],
                [None if o.accepted else f"rejected by {peer}: {o.reason_code}" for o in outcomes],
                now,
            )
            # Only rows still being sent by us are finished; a row requeued meanwhile is not.
            finished = {row["message_id"] for row in rows}
            done = [o for o in outcomes if o.message_id in finished]
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
                audit.append(
                    AuditEntry("delivery", f"outbox.{state}", str(outcome.message_id), detail)
                )
            await self._append_audit(connection, audit, now)

    async def reject_unreceipted(
        self, peer: str, message_ids: Sequence[uuid.UUID], reason: str
    ) -> None:
        """End claimed messages the peer refused as a whole request (HTTP 4xx, no receipts)."""
        now = _now()
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
            retry_at=_finite(row["retry_at"]),
            last_error=row["last_error"],
            last_success_at=row["last_success_at"],
            last_failure_at=row["last_failure_at"],
        )

    async def record_failure(
        self, peer: str, failures: int, retry_at: datetime, error: str
    ) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(Q.destination_failure, peer, failures, retry_at, error, _now())

    async def record_success(self, peer: str) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(Q.destination_success, peer, _now())

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
        now = _now()
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
        now = _now()
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

    # --- audit ------------------------------------------------------------------------

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append entries that record no other change (operator actions, configuration)."""
        async with self._pool.acquire() as connection, connection.transaction():
            await self._append_audit(connection, entries, _now())

    async def verify_audit(self, page: int = 5000) -> AuditVerdict:
        """Recompute the chain; names the first entry whose hash or link is wrong."""
        checked = 0
        last_seq = 0
        prev: bytes | None = None
        async with self._pool.acquire() as connection:
            while True:
                rows = await connection.fetch(Q.audit_scan, last_seq, page)
                if not rows:
                    return AuditVerdict(checked, None, None)
                for row in rows:
                    seq = row["seq"]
                    stored_prev = bytes(row["prev_hash"])
                    # Retention may have pruned the start: trust the first link kept.
                    first_kept = stored_prev if seq != 1 else GENESIS
                    expected_prev = first_kept if prev is None else prev
                    if seq != last_seq + 1 and last_seq != 0:
                        return AuditVerdict(checked, seq, f"entry {last_seq + 1} is missing")
                    if stored_prev != expected_prev:
                        return AuditVerdict(checked, seq, "link to the previous entry is wrong")
                    entry = AuditEntry(
                        row["actor"], row["action"], row["subject"], json.loads(row["detail"])
                    )
                    digest = entry_hash(stored_prev, seq, row["at"], entry)
                    if digest != bytes(row["hash"]):
                        return AuditVerdict(checked, seq, "entry content does not match its hash")
                    prev, last_seq = digest, seq
                    checked += 1

    async def list_audit(self, limit: int = 100) -> list[AuditRow]:
        """The newest entries, oldest first."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.audit_list, limit)
        return [
            AuditRow(
                seq=row["seq"],
                at=row["at"],
                actor=row["actor"],
                action=row["action"],
                subject=row["subject"],
                detail=json.loads(row["detail"]),
            )
            for row in reversed(rows)
        ]

    # --- operators --------------------------------------------------------------------

    async def list_outbox(
        self, *, state: str | None = None, peer: str | None = None, limit: int = 50
    ) -> list[OutboxRow]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.outbox_list, state, peer, limit)
        return [_outbox_row(row) for row in rows]

    async def get_outbox(
        self, message_id: uuid.UUID
    ) -> tuple[OutboxRow, bytes | None, bytes | None] | None:
        """The row, its envelope (None once retention deleted it) and its receipt (if any)."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.outbox_get, message_id)
        if row is None:
            return None
        return _outbox_row(row), stored_content(row["envelope"]), row["receipt"]

    async def requeue(self, message_id: uuid.UUID, operator: str) -> str:
        """Send a rejected or dead message again; returns its recipient."""
        async with self._pool.acquire() as connection, connection.transaction():
            recipient = await connection.fetchval(Q.outbox_requeue, message_id)
            if recipient is None:
                raise OutboxStateError(
                    "only rejected or dead messages can be requeued, and only while "
                    "retention keeps their content (an expired one carries its expiry in its "
                    "signature: send it anew)"
                )
            await self._append_audit(
                connection,
                [AuditEntry(operator, "outbox.requeued", str(message_id), {"peer": recipient})],
                _now(),
            )
            await connection.execute(Q.outbox_notify, recipient)
        return str(recipient)

    async def list_inbox(self, *, sender: str | None = None, limit: int = 50) -> list[InboxRow]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.inbox_list, sender, limit)
        return [inbox_row(row) for row in rows]

    async def get_inbox(self, message_id: uuid.UUID) -> tuple[InboxRow, bytes | None] | None:
        """The row and its envelope (None once retention deleted it)."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.inbox_get, message_id)
        return None if row is None else (inbox_row(row), stored_content(row["envelope"]))

    async def inbox_after(
        self, after: int, kinds: Sequence[str], limit: int
    ) -> list[tuple[InboxRow, bytes | None]]:
        """Incoming messages of the given kinds after the cursor, oldest first; the envelope
        is None once retention deleted it."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.inbox_after, after, list(kinds), limit)
        return [(inbox_row(row), stored_content(row["envelope"])) for row in rows]

    async def peer_summaries(self, peers: Sequence[str]) -> list[PeerSummary]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.peer_summary, list(peers))
        return [
            PeerSummary(
                peer=row["peer"],
                pending=row["pending"],
                oldest_pending=row["oldest_pending"],
                failures=row["failures"] or 0,
                retry_at=_finite(row["retry_at"]),
                last_error=row["last_error"],
                last_success_at=row["last_success_at"],
                last_failure_at=row["last_failure_at"],
            )
            for row in rows
        ]

    async def state_counts(self) -> dict[tuple[str, str], int]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.outbox_state_counts)
        return {(row["recipient"], row["state"]): row["n"] for row in rows}

    # --- wake-ups ---------------------------------------------------------------------

    async def listen_outbox(
        self, on_recipient: Callable[[str], None]
    ) -> Callable[[], Awaitable[None]]:
        """Call on_recipient(peer) whenever envelopes are queued for peer; returns a stopper."""
        return await self._listen({OUTBOX_CHANNEL: on_recipient})

    async def listen_inbox(self, on_client: Callable[[str], None]) -> Callable[[], Awaitable[None]]:
        """Call on_client(client) whenever a message is stored for local delivery to it."""
        return await self._listen({INBOX_CHANNEL: on_client})

    async def _listen(
        self, handlers: dict[str, Callable[[str], None]]
    ) -> Callable[[], Awaitable[None]]:
        listener = Listener(self._dsn, handlers)
        await listener.start()
        return listener.stop


def _finite(value: datetime | None) -> datetime | None:
    # asyncpg maps '-infinity' to datetime.min without a zone; that means "no wait".
    if value is None or value.tzinfo is None:
        return None
    return value


def _outbox_row(row: asyncpg.Record) -> OutboxRow:
    return OutboxRow(
        message_id=row["message_id"],
        recipient=row["recipient"],
        case_id=row["case_id"],
        kind=row["kind"],
        handling=row["handling"],
        sender_reference=row["sender_reference"],
        state=row["state"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        queued_at=row["queued_at"],
        expires_at=row["expires_at"],
        finished_at=row["finished_at"],
        receipt_received_at=row["receipt_received_at"],
        local_client=row["local_client"],
    )
