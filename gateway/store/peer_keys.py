"""Key rollover in the database: announcements received, peer keys recorded, own keys published.

A peer's announced (or operator-imported) keys are recorded here rather than written into
the node's YAML: the running node takes them into its keyring at once (no restart, no file
the gateway would have to rewrite), and they are backed up with everything else. The
configured keys stay the operator's word: the keyring merges recorded keys over them and a
recording never widens a configured window nor replaces its public keys
(gateway.crypto.keys.merge_peer_keys). The announcement envelope itself is kept with the
receipt we signed, like an inbox row, so that a resend gets the same receipt; it is never
in the inbox, which is for messages to local systems.

Own keys: `own_keys_published` holds the keys last announced (the first start records the
configured ones as the baseline peers already have), and `own_key_announcements` which
outbox row carried which new key to which peer, from which the withheld keys follow.

Kept apart from store.py (a mixin of Store) to keep each file readable; it shares the pool.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import asyncpg

from gateway.store.part import StorePart
from gateway.store.queries import Q
from gateway.store.records import AuditEntry, OutgoingEnvelope, StoredIncoming

if TYPE_CHECKING:
    from gateway.store.part import Connection

KeySource = Literal["announcement", "import"]


@dataclass(frozen=True)
class PublishedKeyRow:
    """One key pair's public half and window, as the database keeps it."""

    key_id: str
    signing_public: bytes
    encryption_public: bytes
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True)
class IncomingAnnouncement:
    """A verified key announcement to record, with the receipt we signed for it."""

    sender: str
    message_id: uuid.UUID
    envelope_sha256: bytes
    receipt: bytes = field(repr=False)
    signed_by: str
    created_at: datetime
    received_at: datetime
    keys: tuple[PublishedKeyRow, ...]


@dataclass(frozen=True)
class RecordedPeerKey:
    """A peer key this node recorded from an announcement or an import."""

    peer: str
    key: PublishedKeyRow
    source: str
    state: str
    recorded_at: datetime


@dataclass(frozen=True)
class QueuedAnnouncement:
    """One sealed announcement for one peer, and the keys it publishes for the first time."""

    envelope: OutgoingEnvelope
    new_key_ids: tuple[str, ...]


def _key(row: asyncpg.Record) -> PublishedKeyRow:
    return PublishedKeyRow(
        row["key_id"],
        bytes(row["signing_public"]),
        bytes(row["encryption_public"]),
        row["valid_from"],
        row["valid_until"],
    )


class PeerKeys(StorePart):
    """Mixed into Store: key announcements, recorded peer keys, own published keys."""

    async def find_key_announcements(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        """The announcements from sender among message_ids that we accepted before."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.key_announcement_find_many, sender, list(message_ids))
        return {
            row["message_id"]: StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
            for row in rows
        }

    async def record_key_announcements(
        self, items: Sequence[IncomingAnnouncement], now: datetime
    ) -> list[StoredIncoming]:
        """Record verified announcements and their keys, with audit entries, in one
        transaction; per item, what is stored afterwards (an earlier one with the same id
        wins, as for the inbox)."""
        results: list[StoredIncoming] = []
        if not items:
            return results
        async with self._pool.acquire() as connection, connection.transaction():
            audit: list[AuditEntry] = []
            for item in items:
                inserted = await connection.fetchval(
                    Q.key_announcement_insert,
                    item.sender,
                    item.message_id,
                    item.envelope_sha256,
                    item.receipt,
                    item.signed_by,
                    item.created_at,
                    item.received_at,
                )
                if inserted is None:
                    row = await connection.fetchrow(
                        Q.key_announcement_get, item.sender, item.message_id
                    )
                    assert row is not None  # the conflicting row is committed, never deleted
                    results.append(
                        StoredIncoming(bytes(row["envelope_sha256"]), bytes(row["receipt"]))
                    )
                    continue
                changed = await self._record_keys(
                    connection,
                    item.sender,
                    item.keys,
                    "announcement",
                    announcement=item.message_id,
                    now=now,
                )
                audit.append(
                    AuditEntry(
                        f"peer:{item.sender}",
                        "peer.keys_announced",
                        str(item.message_id),
                        {"peer": item.sender, "signed_by": item.signed_by, "keys": changed},
                    )
                )
                results.append(StoredIncoming(item.envelope_sha256, item.receipt))
            await self._append_audit(connection, audit, now)
        return results

    async def import_peer_keys(
        self, peer: str, keys: Sequence[PublishedKeyRow], *, actor: str, now: datetime
    ) -> str:
        """Record keys an operator imported from the peer's public key file; returns the ids
        recorded or shortened, comma-separated ('' when nothing changed)."""
        async with self._pool.acquire() as connection, connection.transaction():
            changed = await self._record_keys(
                connection, peer, keys, "import", announcement=None, now=now
            )
            if changed:
                entry = AuditEntry(
                    actor, "peer.keys_imported", peer, {"peer": peer, "keys": changed}
                )
                await self._append_audit(connection, [entry], now)
        return changed

    @staticmethod
    async def _record_keys(
        connection: Connection,
        peer: str,
        keys: Sequence[PublishedKeyRow],
        source: KeySource,
        *,
        announcement: uuid.UUID | None,
        now: datetime,
    ) -> str:
        changed: list[str] = []
        for key in keys:
            row = await connection.fetchrow(
                Q.peer_key_record,
                peer,
                key.key_id,
                key.signing_public,
                key.encryption_public,
                key.valid_from,
                key.valid_until,
                source,
                announcement,
                now,
            )
            if row is not None:
                changed.append(row["key_id"])
        return ",".join(changed)

    async def recorded_peer_keys(self) -> list[RecordedPeerKey]:
        """Every recorded peer key, by peer and valid_from."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.peer_keys_recorded_list)
        return [
            RecordedPeerKey(row["peer"], _key(row), row["source"], row["state"], row["recorded_at"])
            for row in rows
        ]

    async def activate_due_peer_keys(self, now: datetime) -> list[tuple[str, str]]:
        """Mark recorded keys whose valid_from has come as active, with an audit entry each;
        (peer, key id) of those marked."""
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(Q.peer_keys_activate_due, now)
            activated = [(row["peer"], row["key_id"]) for row in rows]
            await self._append_audit(
                connection,
                [
                    AuditEntry("gateway", "peer.key_active", peer, {"peer": peer, "key": key_id})
                    for peer, key_id in activated
                ],
                now,
            )
        return activated

    async def own_keys_published(self) -> list[PublishedKeyRow]:
        """This node's keys as last published (empty before the first start)."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.own_keys_published_list)
        return [_key(row) for row in rows]

    async def publish_own_keys(
        self,
        keys: Sequence[PublishedKeyRow],
        announcements: Sequence[QueuedAnnouncement],
        audit: Sequence[AuditEntry],
        now: datetime,
    ) -> None:
        """Record keys as published and queue the announcements of them, in one transaction,
        and wake the senders."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.executemany(
                Q.own_keys_published_put,
                [
                    (
                        k.key_id,
                        k.signing_public,
                        k.encryption_public,
                        k.valid_from,
                        k.valid_until,
                        now,
                    )
                    for k in keys
                ],
            )
            for announcement in announcements:
                item = announcement.envelope
                await connection.execute(
                    Q.outbox_insert,
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
                await connection.execute(
                    Q.own_key_announcement_insert,
                    item.message_id,
                    item.recipient,
                    list(announcement.new_key_ids),
                    now,
                )
            await self._append_audit(connection, audit, now)
            for peer in sorted({a.envelope.recipient for a in announcements}):
                await connection.execute(Q.outbox_notify, peer)

    async def own_keys_withheld(self) -> dict[str, frozenset[str]]:
        """Per peer, own key ids announced to it whose announcement it has not accepted yet."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.own_keys_withheld)
        withheld: dict[str, set[str]] = {}
        for row in rows:
            withheld.setdefault(row["peer"], set()).add(row["key_id"])
        return {peer: frozenset(keys) for peer, keys in withheld.items()}
