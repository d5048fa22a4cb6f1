"""The gateway's only door to PostgreSQL.

Design notes:
- Every state lives here, so a crash at any line loses nothing: a message is either in the
  outbox (and will be sent) or not accepted; an incoming envelope is either in the inbox with
  its receipt (and a replay gets the same receipt) or was never acknowledged.
- Audit entries are written in the same transaction as the change they record.
- Concurrent enqueues share one transaction (group commit), and concurrent case lookups one
  statement: see gateway.store.group_commit.
- Outbox state is a database enum, moved only by the statements in queries.sql and checked
  by a trigger, so a bug or a hand-written UPDATE cannot, say, un-deliver a message.
- One sender per destination, and claims that never wait or take a row twice: see the
  Sending mixin (gateway.store.sending). Store is mixed from StorePart parts (part.py).
- Wake-ups go through LISTEN/NOTIFY on channel `blg_outbox` with the recipient as payload;
  NOTIFY is transactional, so a worker is woken only for committed rows. The listening
  session is replaced when it is lost (gateway.store.listening).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from gateway.store.acknowledgements import Acknowledgements
from gateway.store.attachments import Attachments
from gateway.store.audit import GENESIS, entry_hash
from gateway.store.binding import AttachmentBinding, link_outbox_attachments
from gateway.store.bundles import OfflineBundles
from gateway.store.cases import Cases
from gateway.store.checkpoints import AuditCheckpoints
from gateway.store.console_users import ConsoleUsers
from gateway.store.drafts import DraftApproval, Drafts
from gateway.store.group_commit import Coalescer, HeldConnection
from gateway.store.inbox_reads import InboxReads
from gateway.store.listening import Listener
from gateway.store.local_feed import LocalFeed
from gateway.store.matches import PossibleMatches
from gateway.store.onward import Onward
from gateway.store.part import (
    finite_instant,
    inbox_row,
    outbox_insert_many_args,
    stored_content,
    utc_now,
)
from gateway.store.peer_keys import PeerKeys
from gateway.store.queries import Q, migrations
from gateway.store.receiving import Receiving
from gateway.store.records import (
    AuditEntry,
    AuditRow,
    AuditVerdict,
    DroppedFile,
    InboxRow,
    OutboxRow,
    OutgoingEnvelope,
    PeerSummary,
)
from gateway.store.report_stats import ReportStatistics
from gateway.store.retention import Retention
from gateway.store.search_entries import SearchEntries
from gateway.store.sending import Sending

if TYPE_CHECKING:
    from gateway.store.part import Connection

OUTBOX_CHANNEL = "blg_outbox"
INBOX_CHANNEL = "blg_inbox"
FINAL_STATES = frozenset({"delivered", "rejected", "expired", "dead"})


class AlreadyQueued(Exception):  # noqa: N818 - a verdict, not a failure
    """This dropped file's content was queued before (by this or another process)."""


# A group commit's bounds: members (calls of enqueue) and envelope bytes. Enough for the
# gains (the lock and fsync are paid once per group), small enough that a group's statements
# stay a few milliseconds and a failed group's one-by-one retry stays short.
MAX_GROUP_MEMBERS = 256
MAX_GROUP_BYTES = 8 * 1024 * 1024
# How long an idle group runner keeps its pool connection for the next request: longer than
# the gaps of a steady load (each give-back costs the pool's reset round trip and its
# PostgreSQL work), short enough that a small pool soon has it back.
HOLD_IDLE_SECONDS = 0.02


@dataclass(frozen=True)
class _Enqueue:
    """One call of Store.enqueue, as a member of a group commit."""

    items: Sequence[OutgoingEnvelope]
    audit: Sequence[AuditEntry]

    def envelope_bytes(self) -> int:
        return sum(len(item.envelope) for item in self.items)


class OutboxStateError(Exception):
    """An operator asked for a state change the outbox does not allow."""


@dataclass(frozen=True)
class PoolUsage:
    in_use: int
    size: int
    max_size: int


class Store(
    Sending,
    Receiving,
    LocalFeed,
    ConsoleUsers,
    Cases,
    Drafts,
    Retention,
    PeerKeys,
    Onward,
    Attachments,
    AttachmentBinding,
    InboxReads,
    Acknowledgements,
    OfflineBundles,
    AuditCheckpoints,
    SearchEntries,
    PossibleMatches,
    ReportStatistics,
):
    """Narrow, intention-named operations over one PostgreSQL database."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._enqueue_connection = HeldConnection(pool)
        self._enqueues: Coalescer[_Enqueue, None] = Coalescer(
            self._commit_enqueues,
            max_count=MAX_GROUP_MEMBERS,
            max_weight=MAX_GROUP_BYTES,
            weight=_Enqueue.envelope_bytes,
            on_idle=self._enqueue_connection.release,
            linger=HOLD_IDLE_SECONDS,
        )
        self._lookup_connection = HeldConnection(pool)
        self._case_lookups: Coalescer[tuple[str, str], uuid.UUID | None] = Coalescer(
            self._find_cases,
            max_count=MAX_GROUP_MEMBERS,
            on_idle=self._lookup_connection.release,
            linger=HOLD_IDLE_SECONDS,
        )

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> Store:
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool, dsn)

    async def close(self) -> None:
        await self._enqueues.idle()
        await self._case_lookups.idle()
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

        Concurrent calls are committed together (group commit, see
        gateway.store.group_commit): each returns once the transaction holding its envelopes
        committed, or raises its own error, never another caller's.

        dropped_file, when given, is recorded in the same transaction, so a file from a
        drop folder is either fully queued and remembered, or neither. approval, when given,
        approves a console draft first in that transaction (see gateway.store.drafts): the
        draft is approved and queued, or neither. A call with either goes alone, in its own
        transaction: both are rare (a file, an operator's click) and may refuse.
        """
        if dropped_file is None and approval is None:
            await self._enqueues.submit(_Enqueue(items, audit))
            return
        async with self._pool.acquire() as connection:
            await self._enqueue_together(
                connection, [_Enqueue(items, audit)], dropped_file=dropped_file, approval=approval
            )

    async def _commit_enqueues(self, group: Sequence[_Enqueue]) -> list[Exception | None]:
        try:
            await self._enqueue_together(await self._enqueue_connection.get(), group)
        except Exception as error:
            await self._enqueue_connection.release()  # it may be the connection that broke
            if len(group) == 1:
                return [error]
            # Someone's envelope broke the group (a duplicate id, a constraint): each member
            # again in its own transaction, so each hears exactly its own outcome.
            outcomes: list[Exception | None] = []
            for member in group:
                try:
                    async with self._pool.acquire() as connection:
                        await self._enqueue_together(connection, [member])
                except Exception as own:
                    outcomes.append(own)
                else:
                    outcomes.append(None)
            return outcomes
        return [None] * len(group)

    async def _enqueue_together(
        self,
        connection: Connection,
        group: Sequence[_Enqueue],
        *,
        dropped_file: DroppedFile | None = None,
        approval: DraftApproval | None = None,
    ) -> None:
        now = utc_now()
        items = [item for member in group for item in member.items]
        audit = [entry for member in group for entry in member.audit]
        async with connection.transaction():
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
            if items:
                referenced = [item for item in items if item.sender_reference]
                await connection.execute(
                    Q.outbox_insert_many,
                    *outbox_insert_many_args(items, now),
                    [item.kind for item in referenced],
                    [item.sender_reference for item in referenced],
                    [item.case_id for item in referenced],
                )
                await link_outbox_attachments(
                    connection,
                    [(item.message_id, link) for item in items for link in item.attachments],
                )
                due = [item for item in items if item.acknowledge_due is not None]
                if due:
                    await connection.execute(
                        Q.ack_deadline_insert_many,
                        [item.message_id for item in due],
                        [item.recipient for item in due],
                        [item.kind for item in due],
                        [item.acknowledge_due for item in due],
                    )
                await self._record_cancellations_sent(connection, items)
            # Last, so that the chain's lock is held only for the head, this insert and the
            # commit: the senders' and the receiver's transactions queue for it too.
            await self._append_audit(connection, audit, now)

    async def case_for_reference(self, kind: str, reference: str) -> uuid.UUID | None:
        """The case an earlier message of this kind with this own reference opened, if any.

        Concurrent lookups share one statement (gateway.store.group_commit); a lookup never
        joins one already in flight, so it sees every enqueue that returned before it."""
        return await self._case_lookups.submit((kind, reference))

    async def _find_cases(
        self, lookups: Sequence[tuple[str, str]]
    ) -> list[uuid.UUID | Exception | None]:
        try:
            connection = await self._lookup_connection.get()
            rows = await connection.fetch(
                Q.case_reference_find,
                [kind for kind, _ in lookups],
                [reference for _, reference in lookups],
            )
        except Exception:
            await self._lookup_connection.release()
            raise
        found = {(row["kind"], row["reference"]): row["case_id"] for row in rows}
        return [found.get(lookup) for lookup in lookups]

    # --- audit ------------------------------------------------------------------------

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append entries that record no other change (operator actions, configuration)."""
        async with self._pool.acquire() as connection, connection.transaction():
            await self._append_audit(connection, entries, utc_now())

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
                utc_now(),
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
        self, after: int, kinds: Sequence[str], limit: int, *, victim_protected: bool = True
    ) -> list[tuple[InboxRow, bytes | None]]:
        """Incoming messages of the given kinds after the cursor, oldest first; the envelope
        is None once retention deleted it. victim_protected=False leaves out victim-protected
        messages (and those of unknown marking): a client not allowed them never sees them."""
        query = Q.inbox_after if victim_protected else Q.inbox_after_unprotected
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(query, after, list(kinds), limit)
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
                retry_at=finite_instant(row["retry_at"]),
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
