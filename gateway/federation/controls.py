"""The control kinds the receiver knows, one handler each: how to read an opened envelope
of that kind and how to record what it says.

A control envelope (kind >= 100, docs/PROTOCOL.md sections 12 and 13) is received,
verified, deduplicated and receipted like a message but never reaches the inbox or a local
system. The receiver (gateway.federation.receiver) does the common part and dispatches the
rest through a table `ControlKind -> ControlHandler`:

- `read` runs on the crypto pool with the opened envelope, the receipt to store with it and
  the envelope's bytes (a countersignature is kept whole); it checks what needs no database
  and raises EnvelopeRejected, or returns the item to record.
- `record` stores a batch's items of its kind in one transaction and returns, per item, the
  stored receipt (an earlier envelope with the same id wins, as for the inbox) or a
  RejectReason when a check that needs the database refused it (nothing recorded: the
  receiver answers with a signed rejection).
- `find` says which of a batch's message ids were accepted before (replays get the stored
  receipt).

A new control kind is one more handler in `control_handlers`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from gateway.crypto import Keyring, OpenedEnvelope, RejectReason
from gateway.federation.acknowledgements import read_acknowledgement
from gateway.federation.announcements import read_announcement
from gateway.federation.cancellation import read_confirmation
from gateway.federation.checkpoints import (
    Countersignature,
    read_checkpoint,
    read_countersignature,
    seal_countersignature,
)
from gateway.store import OutgoingEnvelope, Store, StoredIncoming
from gateway.store.acknowledgements import IncomingAcknowledgement
from gateway.store.cancellations import IncomingConfirmation
from gateway.store.checkpoints import IncomingCheckpoint, IncomingCountersignature
from gateway.store.peer_keys import IncomingAnnouncement, PublishedKeyRow
from gateway.wire import ControlKind


class ControlItem(Protocol):
    """What the receiver needs of any item a handler reads."""

    @property
    def message_id(self) -> uuid.UUID: ...

    @property
    def envelope_sha256(self) -> bytes: ...


class ControlHandler(Protocol):
    """Reads and records the envelopes of one control kind."""

    def read(
        self,
        opened: OpenedEnvelope,
        *,
        digest: bytes,
        receipt: bytes,
        now: datetime,
        data: bytes = b"",
    ) -> ControlItem: ...

    async def record(
        self, items: Sequence[ControlItem], now: datetime
    ) -> list[StoredIncoming | RejectReason]: ...

    async def find(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]: ...


class AnnouncementHandler:
    """KEY_ANNOUNCEMENT (section 12): recorded with the peer's keys, then the keyring
    refreshed."""

    def __init__(
        self,
        keyring: Keyring,
        store: Store,
        refresh_keys: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self._keyring = keyring
        self._store = store
        self._refresh_keys = refresh_keys

    def read(
        self,
        opened: OpenedEnvelope,
        *,
        digest: bytes,
        receipt: bytes,
        now: datetime,
        data: bytes = b"",
    ) -> ControlItem:
        del data  # only a countersignature keeps its envelope
        header = opened.header
        keys = read_announcement(opened, now=now, known=self._keyring.peer_keys(header.sender))
        return IncomingAnnouncement(
            sender=header.sender,
            message_id=header.message_id,
            envelope_sha256=digest,
            receipt=receipt,
            signed_by=header.sender_key_id,
            created_at=header.created_at,
            received_at=now,
            keys=tuple(
                PublishedKeyRow(
                    key.key_id,
                    key.signing_public,
                    key.encryption_public,
                    key.validity.valid_from,
                    key.validity.valid_until,
                )
                for key in keys
            ),
        )

    async def record(
        self, items: Sequence[ControlItem], now: datetime
    ) -> list[StoredIncoming | RejectReason]:
        recorded = await self._store.record_key_announcements(
            [item for item in items if isinstance(item, IncomingAnnouncement)], now
        )
        if self._refresh_keys is not None:
            await self._refresh_keys()
        return list(recorded)

    async def find(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        return await self._store.find_key_announcements(sender, message_ids)


class AcknowledgementHandler:
    """ACKNOWLEDGEMENT (section 13): recorded on the acknowledged message's deadline, only
    from the peer the message went to (A5, checked where it is recorded)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def read(
        self,
        opened: OpenedEnvelope,
        *,
        digest: bytes,
        receipt: bytes,
        now: datetime,
        data: bytes = b"",
    ) -> ControlItem:
        del data  # only a countersignature keeps its envelope
        header = opened.header
        content = read_acknowledgement(opened)
        return IncomingAcknowledgement(
            sender=header.sender,
            message_id=header.message_id,
            case_id=header.case_id,
            envelope_sha256=digest,
            receipt=receipt,
            created_at=header.created_at,
            received_at=now,
            acknowledged=content.message_id,
            acknowledged_at=content.acknowledged_at,
            acknowledged_by=content.acknowledged_by,
            how=content.how.value,
        )

    async def record(
        self, items: Sequence[ControlItem], now: datetime
    ) -> list[StoredIncoming | RejectReason]:
        recorded = await self._store.record_acknowledgements(
            [item for item in items if isinstance(item, IncomingAcknowledgement)], now
        )
        return [
            RejectReason.ACKNOWLEDGEMENT_UNKNOWN_MESSAGE if kept is None else kept
            for kept in recorded
        ]

    async def find(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        return await self._store.find_control_received(sender, message_ids)


class ConfirmationHandler:
    """CANCELLATION_CONFIRMATION (section 14): recorded on the confirmed cancellation, only
    for one this node sent to the envelope's sender (C5, checked where it is recorded)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def read(
        self,
        opened: OpenedEnvelope,
        *,
        digest: bytes,
        receipt: bytes,
        now: datetime,
        data: bytes = b"",
    ) -> ControlItem:
        del data  # only a countersignature keeps its envelope
        header = opened.header
        confirmed = read_confirmation(opened)
        return IncomingConfirmation(
            sender=header.sender,
            message_id=header.message_id,
            envelope_sha256=digest,
            receipt=receipt,
            cancellation_message_id=confirmed.cancellation_message_id,
            confirmed_at=confirmed.confirmed_at,
            withdrawn=confirmed.withdrawn,
            received_at=now,
        )

    async def record(
        self, items: Sequence[ControlItem], now: datetime
    ) -> list[StoredIncoming | RejectReason]:
        del now  # the store stamps its own time, as for the inbox
        recorded: list[StoredIncoming | RejectReason] = []
        for item in items:
            assert isinstance(item, IncomingConfirmation)
            kept = await self._store.record_cancellation_confirmation(item)
            recorded.append(RejectReason.CANCELLATION_UNKNOWN if kept is None else kept)
        return recorded

    async def find(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        return await self._store.find_cancellation_confirmations(sender, message_ids)


class CheckpointHandler:
    """AUDIT_CHECKPOINT (section 16.3): recorded, compared with those held from its origin
    (a contradicting one is flagged, not refused), and countersigned back through the outbox
    in the same transaction."""

    def __init__(self, keyring: Keyring, store: Store, ttl: timedelta) -> None:
        self._keyring = keyring
        self._store = store
        self._ttl = ttl

    def read(
        self,
        opened: OpenedEnvelope,
        *,
        digest: bytes,
        receipt: bytes,
        now: datetime,
        data: bytes = b"",
    ) -> ControlItem:
        del data
        header = opened.header
        point = read_checkpoint(opened)
        return IncomingCheckpoint(
            sender=header.sender,
            message_id=header.message_id,
            envelope_sha256=digest,
            receipt=receipt,
            seq=point.seq,
            first_seq=point.first_seq,
            head_hash=point.head_hash,
            entry_hashes=point.entry_hashes,
            at=point.at,
            received_at=now,
        )

    def _countersign(self, item: IncomingCheckpoint, now: datetime) -> OutgoingEnvelope | None:
        signed = Countersignature(item.envelope_sha256, item.sender, item.seq, item.head_hash, now)
        try:
            sealed = seal_countersignature(self._keyring, signed=signed, now=now, ttl=self._ttl)
        except ValueError:
            return None  # the origin is no peer any more: recorded, nothing to send
        return OutgoingEnvelope(
            message_id=sealed.header.message_id,
            recipient=item.sender,
            case_id=sealed.header.case_id,
            kind=ControlKind.CHECKPOINT_COUNTERSIGNATURE.value,
            handling="normal",  # hashes and numbers: no personal data
            envelope=sealed.data,
            envelope_sha256=sealed.sha256,
            expires_at=sealed.header.expires_at,
        )

    async def record(
        self, items: Sequence[ControlItem], now: datetime
    ) -> list[StoredIncoming | RejectReason]:
        del now  # the store stamps its own time, as for the inbox
        points = [item for item in items if isinstance(item, IncomingCheckpoint)]
        return list(await self._store.record_checkpoints_received(points, self._countersign))

    async def find(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        return await self._store.find_checkpoints_received(sender, message_ids)


class CountersignatureHandler:
    """CHECKPOINT_COUNTERSIGNATURE (section 16.4): kept whole with the checkpoint copy it
    countersigns, only for one this node sent to the envelope's sender (S4)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def read(
        self,
        opened: OpenedEnvelope,
        *,
        digest: bytes,
        receipt: bytes,
        now: datetime,
        data: bytes = b"",
    ) -> ControlItem:
        header = opened.header
        signed = read_countersignature(opened)
        return IncomingCountersignature(
            sender=header.sender,
            message_id=header.message_id,
            envelope_sha256=digest,
            receipt=receipt,
            envelope=data,
            checkpoint_envelope_sha256=signed.checkpoint_envelope_sha256,
            seq=signed.seq,
            head_hash=signed.head_hash,
            countersigned_at=signed.countersigned_at,
            received_at=now,
        )

    async def record(
        self, items: Sequence[ControlItem], now: datetime
    ) -> list[StoredIncoming | RejectReason]:
        del now
        recorded: list[StoredIncoming | RejectReason] = []
        for item in items:
            assert isinstance(item, IncomingCountersignature)
            kept = await self._store.record_countersignature(item)
            recorded.append(RejectReason.CHECKPOINT_UNKNOWN if kept is None else kept)
        return recorded

    async def find(
        self, sender: str, message_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, StoredIncoming]:
        return await self._store.find_countersignatures(sender, message_ids)


def control_handlers(
    keyring: Keyring,
    store: Store,
    refresh_keys: Callable[[], Awaitable[None]] | None,
    message_ttl: timedelta = timedelta(days=7),
) -> Mapping[ControlKind, ControlHandler]:
    """Every control kind this node receives, and its handler (message_ttl: the lifetime of
    the envelopes a handler queues back)."""
    return {
        ControlKind.KEY_ANNOUNCEMENT: AnnouncementHandler(keyring, store, refresh_keys),
        ControlKind.ACKNOWLEDGEMENT: AcknowledgementHandler(store),
        ControlKind.CANCELLATION_CONFIRMATION: ConfirmationHandler(store),
        ControlKind.AUDIT_CHECKPOINT: CheckpointHandler(keyring, store, message_ttl),
        ControlKind.CHECKPOINT_COUNTERSIGNATURE: CountersignatureHandler(store),
    }


__all__ = [
    "AcknowledgementHandler",
    "AnnouncementHandler",
    "CheckpointHandler",
    "ConfirmationHandler",
    "ControlHandler",
    "ControlItem",
    "CountersignatureHandler",
    "control_handlers",
]
