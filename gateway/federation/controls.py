"""The control kinds the receiver knows, one handler each: how to read an opened envelope
of that kind and how to record what it says.

A control envelope (kind >= 100, docs/PROTOCOL.md sections 12 and 13) is received,
verified, deduplicated and receipted like a message but never reaches the inbox or a local
system. The receiver (gateway.federation.receiver) does the common part and dispatches the
rest through a table `ControlKind -> ControlHandler`:

- `read` runs on the crypto pool with the opened envelope and the receipt to store with it;
  it checks what needs no database and raises EnvelopeRejected, or returns the item to record.
- `record` stores a batch's items of its kind in one transaction and returns, per item, the
  stored receipt (an earlier envelope with the same id wins, as for the inbox) or a
  RejectReason when a check that needs the database refused it (nothing recorded: the
  receiver answers with a signed rejection).
- `find` says which of a batch's message ids were accepted before (replays get the stored
  receipt).

A new control kind (a cancellation confirmation) is one more handler in `control_handlers`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from gateway.crypto import Keyring, OpenedEnvelope, RejectReason
from gateway.federation.acknowledgements import read_acknowledgement
from gateway.federation.announcements import read_announcement
from gateway.store import Store, StoredIncoming
from gateway.store.acknowledgements import IncomingAcknowledgement
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
        self, opened: OpenedEnvelope, *, digest: bytes, receipt: bytes, now: datetime
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
        self, opened: OpenedEnvelope, *, digest: bytes, receipt: bytes, now: datetime
    ) -> ControlItem:
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
        self, opened: OpenedEnvelope, *, digest: bytes, receipt: bytes, now: datetime
    ) -> ControlItem:
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


def control_handlers(
    keyring: Keyring, store: Store, refresh_keys: Callable[[], Awaitable[None]] | None
) -> Mapping[ControlKind, ControlHandler]:
    """Every control kind this node receives, and its handler."""
    return {
        ControlKind.KEY_ANNOUNCEMENT: AnnouncementHandler(keyring, store, refresh_keys),
        ControlKind.ACKNOWLEDGEMENT: AcknowledgementHandler(store),
    }


__all__ = [
    "AcknowledgementHandler",
    "AnnouncementHandler",
    "ControlHandler",
    "ControlItem",
    "control_handlers",
]
