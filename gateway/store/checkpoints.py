"""Audit checkpoints, the store's side (docs/PROTOCOL.md section 16, migration 0019).

Origin: the chain's hashes read for a checkpoint; a checkpoint taken is recorded with its
copies (one outbox row per peer) and one audit entry in one transaction; the first
countersignature of each copy is kept whole, for `gateway audit verify` to re-verify.

Peer: a checkpoint received is compared with those held from its origin (a lower seq, or
another hash for an entry held: flagged, never refused) and recorded together with the
countersignature queued back, in one transaction; a replay finds the stored receipt.

The checkpoint exchange's own audit entries are named `audit.checkpoint_*`, so that the
checkpointer can leave them (and its envelopes' outbox entries) out when it counts how much
the chain grew (Q.checkpoint_growth): a checkpoint never makes the next one due.

Kept apart from store.py (a mixin of Store) to keep each file readable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.store.audit import GENESIS, entry_hash
from gateway.store.part import StorePart, outbox_insert_many_args, utc_now
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, OutgoingEnvelope, StoredIncoming

HASH_BYTES = 32


@dataclass(frozen=True)
class IncomingCheckpoint:
    """A verified checkpoint from a peer (its origin) to record, with our receipt."""

    sender: str
    message_id: uuid.UUID
    envelope_sha256: bytes
    receipt: bytes = field(repr=False)
    seq: int
    first_seq: int
    head_hash: bytes
    entry_hashes: tuple[bytes, ...] = field(repr=False)
    at: datetime
    received_at: datetime


@dataclass(frozen=True)
class IncomingCountersignature:
    """A verified countersignature of one of our checkpoints, with its whole envelope."""

    sender: str
    message_id: uuid.UUID
    envelope_sha256: bytes
    receipt: bytes = field(repr=False)
    envelope: bytes = field(repr=False)
    checkpoint_envelope_sha256: bytes
    seq: int
    head_hash: bytes
    countersigned_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class CheckpointCopy:
    """One checkpoint this node took and the copy sent to one peer (peer None: no copy)."""

    seq: int
    first_seq: int
    head_hash: bytes
    entry_hashes: tuple[bytes, ...] = field(repr=False)
    at: datetime
    peer: str | None
    envelope_sha256: bytes | None
    envelope: bytes | None = field(repr=False)
    countersignature: bytes | None = field(repr=False)
    countersigned_at: datetime | None
    countersignature_received_at: datetime | None


@dataclass(frozen=True)
class HeldCheckpoint:
    """The newest checkpoint a peer holds from an origin, as it answers when asked."""

    origin: str
    seq: int
    head_hash: bytes
    envelope_sha256: bytes
    received_at: datetime


# Seals the countersignature of a checkpoint being recorded, at `now`; None when it cannot
# be sealed (the origin is no peer any more).
CountersignatureSealer = Callable[[IncomingCheckpoint, datetime], OutgoingEnvelope | None]


def split_hashes(joined: bytes) -> tuple[bytes, ...]:
    """The 32-byte hashes of a stored entry_hashes column."""
    return tuple(joined[i : i + HASH_BYTES] for i in range(0, len(joined), HASH_BYTES))


def contradiction(
    point: IncomingCheckpoint, newest: int | None, held: Sequence[tuple[int, int, bytes]]
) -> str | None:
    """Why a checkpoint contradicts those held from its origin (newest seq; overlapping
    (seq, first_seq, hashes) rows), or None.

    Another hash for an entry held is a rewrite. A lower seq than the newest held is a chain
    that went back only when it also covers entries already held (the origin started its
    checkpoints over): an older checkpoint delivered late (a copy retried after a newer one
    got through) covers entries no other checkpoint held does, and is no contradiction."""
    for seq, first_seq, joined in held:
        hashes = split_hashes(joined)
        for entry in range(max(first_seq, point.first_seq), min(seq, point.seq) + 1):
            if hashes[entry - first_seq] != point.entry_hashes[entry - point.first_seq]:
                return "hash_contradicts"
    if newest is not None and point.seq < newest and held:
        return "seq_went_back"
    return None


class AuditCheckpoints(StorePart):
    """Mixed into Store: checkpoints taken and countersigned, checkpoints held for peers."""

    # --- origin -----------------------------------------------------------------------

    async def checkpoint_progress(self) -> tuple[int, int]:
        """(the newest checkpoint's seq, the chain's newest entry), 0 for none."""
        checkpointed, head, _ = await self.checkpoint_state()
        return checkpointed, head

    async def checkpoint_state(self) -> tuple[int, int, datetime | None]:
        """checkpoint_progress, and when the newest checkpoint was taken (None: never)."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.checkpoint_last_seq)
        assert row is not None
        return int(row["checkpointed"] or 0), int(row["head"] or 0), row["taken_at"]

    async def checkpoint_growth(self, after: int, limit: int) -> int:
        """Entries after `after` not written by the checkpoint exchange, counted to limit."""
        async with self._pool.acquire() as connection:
            count: int = await connection.fetchval(Q.checkpoint_growth, after, limit)
        return count

    async def chain_hashes(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """The stored chain hashes of the entries after `after`, oldest first."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.checkpoint_chain_hashes, after, limit)
        return [(row["seq"], bytes(row["hash"])) for row in rows]

    async def recomputed_chain(
        self, after: int, prev: bytes | None, limit: int
    ) -> list[tuple[int, bytes]]:
        """The entries after `after`, oldest first, each with its chain hash recomputed from
        its content (never the stored one) and `prev`, the recomputed hash before them (None:
        entry 1 chains to zeros, a first entry kept by retention to its stored link). After a
        gap the chain continues from the next entry's stored link."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.audit_scan, after, limit)
        chain: list[tuple[int, bytes]] = []
        last = after
        for row in rows:
            seq = row["seq"]
            if row["seq"] == 1:
                link = GENESIS
            elif prev is None or seq != last + 1:
                link = bytes(row["prev_hash"])
            else:
                link = prev
            entry = AuditEntry(
                row["actor"], row["action"], row["subject"], json.loads(row["detail"])
            )
            prev = entry_hash(link, seq, row["at"], entry)
            chain.append((seq, prev))
            last = seq
        return chain

    async def record_checkpoint(
        self,
        *,
        first_seq: int,
        hashes: Sequence[bytes],
        at: datetime,
        copies: Sequence[OutgoingEnvelope],
    ) -> None:
        """A checkpoint of entries first_seq.. (one hash each) taken at `at`, its copies
        queued, audited, in one transaction."""
        seq = first_seq + len(hashes) - 1
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                Q.checkpoint_insert, seq, first_seq, hashes[-1], b"".join(hashes), at
            )
            if copies:
                await connection.execute(
                    Q.outbox_insert_many, *outbox_insert_many_args(copies, at), [], [], []
                )
                await connection.execute(
                    Q.checkpoint_copy_insert_many,
                    seq,
                    [copy.message_id for copy in copies],
                    [copy.recipient for copy in copies],
                    [copy.envelope_sha256 for copy in copies],
                    [copy.envelope for copy in copies],
                )
            detail: dict[str, str | int | bool | None] = {
                "first_seq": first_seq,
                "head_hash": hashes[-1].hex(),
                "peers": ",".join(copy.recipient for copy in copies),
            }
            await self._append_audit(
                connection, [AuditEntry("gateway", "audit.checkpoint_sent", str(seq), detail)], at
            )

    async def record_countersignature(
        self, item: IncomingCountersignature
    ) -> StoredIncoming | None:
        """Keep the first countersignature of a copy sent to item.sender; None when no such
        copy was sent to it (check S4: nothing is written)."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            updated = await connection.fetchval(
                Q.checkpoint_countersign,
                item.sender,
                item.checkpoint_envelope_sha256,
                item.seq,
                item.head_hash,
                item.envelope,
                item.message_id,
                item.envelope_sha256,
                item.receipt,
                item.countersigned_at,
                item.received_at,
            )
            if updated is None:
                exists = await connection.fetchval(
                    Q.checkpoint_copy_exists,
                    item.sender,
                    item.checkpoint_envelope_sha256,
                    item.seq,
                    item.head_hash,
                )
                # Countersigned before (another envelope): accepted, the first one is kept.
                return (
                    None if exists is None else StoredIncoming(item.envelope_sha256, item.receipt)
                )
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        "federation",
                        "audit.checkpoint_countersigned",
                        str(item.seq),
                        {"peer": item.sender, "countersignature": str(item.message_id)},
                    )
                ],
                now,
            )
        return StoredIncoming(item.envelope_sha256, item.receipt)

    async def find_countersignatures(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(
                Q.checkpoint_countersignature_find_many, sender, list(message_ids)
            )
        return {
            row["message_id"]: StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
            for row in rows
        }

    async def checkpoint_copies(self, after: int = 0, limit: int = 100) -> list[CheckpointCopy]:
        """The `limit` checkpoints after seq `after`, one item per copy, oldest first."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.checkpoint_list, after, limit)
        return [
            CheckpointCopy(
                seq=row["seq"],
                first_seq=row["first_seq"],
                head_hash=bytes(row["head_hash"]),
                entry_hashes=split_hashes(bytes(row["entry_hashes"])),
                at=row["at"],
                peer=row["peer"],
                envelope_sha256=None
                if row["envelope_sha256"] is None
                else bytes(row["envelope_sha256"]),
                envelope=None if row["envelope"] is None else bytes(row["envelope"]),
                countersignature=None
                if row["countersignature"] is None
                else bytes(row["countersignature"]),
                countersigned_at=row["countersigned_at"],
                countersignature_received_at=row["countersignature_received_at"],
            )
            for row in rows
        ]

    async def checkpoint_health(self) -> tuple[dict[str, datetime], dict[str, int]]:
        """(per peer: when its newest countersignature arrived; per origin: how many of its
        checkpoints held here contradict others), for the metrics."""
        async with self._pool.acquire() as connection:
            signed = await connection.fetch(Q.checkpoint_countersigned_latest)
            contradicted = await connection.fetch(Q.peer_checkpoint_contradicted)
        return (
            {row["peer"]: row["at"] for row in signed},
            {row["origin"]: int(row["contradicted"]) for row in contradicted},
        )

    # --- peer -------------------------------------------------------------------------

    async def record_checkpoints_received(
        self, items: Sequence[IncomingCheckpoint], countersign: CountersignatureSealer
    ) -> list[StoredIncoming]:
        """Record checkpoints (each compared with those held from its origin), queue their
        countersignatures, audit, in one transaction; per item what is stored under its
        (sender, message id) afterwards."""
        now = utc_now()
        results: list[StoredIncoming] = []
        async with self._pool.acquire() as connection, connection.transaction():
            audit: list[AuditEntry] = []
            queued: list[OutgoingEnvelope] = []
            for item in items:
                await connection.execute(Q.peer_checkpoint_lock, item.sender)
                newest = await connection.fetchval(Q.peer_checkpoint_newest, item.sender)
                held = await connection.fetch(
                    Q.peer_checkpoint_overlapping, item.sender, item.first_seq, item.seq
                )
                flag = contradiction(
                    item,
                    newest,
                    [(row["seq"], row["first_seq"], bytes(row["entry_hashes"])) for row in held],
                )
                answer = countersign(item, now)
                inserted = await connection.fetchval(
                    Q.peer_checkpoint_insert,
                    item.sender,
                    item.message_id,
                    item.seq,
                    item.first_seq,
                    item.head_hash,
                    b"".join(item.entry_hashes),
                    item.at,
                    item.envelope_sha256,
                    item.receipt,
                    item.received_at,
                    None if answer is None else answer.message_id,
                    flag,
                )
                if inserted is None:  # the same id recorded before: its receipt
                    found = await connection.fetch(
                        Q.peer_checkpoint_find_many, item.sender, [item.message_id]
                    )
                    row = found[0]
                    results.append(
                        StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
                    )
                    continue
                if answer is not None:
                    queued.append(answer)
                detail: dict[str, str | int | bool | None] = {
                    "origin": item.sender,
                    "first_seq": item.first_seq,
                    "countersignature": None if answer is None else str(answer.message_id),
                }
                if flag is not None:
                    detail["contradiction"] = flag
                audit.append(
                    AuditEntry("federation", "audit.checkpoint_received", str(item.seq), detail)
                )
                results.append(StoredIncoming(item.envelope_sha256, item.receipt))
            if queued:
                await connection.execute(
                    Q.outbox_insert_many, *outbox_insert_many_args(queued, now), [], [], []
                )
            await self._append_audit(connection, audit, now)
        return results

    async def find_checkpoints_received(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.peer_checkpoint_find_many, sender, list(message_ids))
        return {
            row["message_id"]: StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
            for row in rows
        }

    async def latest_checkpoint_held(self, origin: str) -> HeldCheckpoint | None:
        """The newest checkpoint held from origin (None: none)."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.peer_checkpoint_latest, origin)
        if row is None:
            return None
        return HeldCheckpoint(
            origin,
            row["seq"],
            bytes(row["head_hash"]),
            bytes(row["envelope_sha256"]),
            row["received_at"],
        )
