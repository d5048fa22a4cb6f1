"""What the bench sends: ~1 KiB hotline alerts, sealed as Dispatcher.submit seals them
(Sealer, for the phases that queue through Store.enqueue), and the same alert as a
vn-police-json document for the local API (Documents)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from adapters import adapter_for
from bench.exchange.cluster import now_utc
from gateway.crypto import Keyring, seal
from gateway.store import AuditEntry, OutgoingEnvelope
from gateway.wire import Kind, canonical, envelope, uuid7

ENVELOPE_BYTES = 1024
DOCUMENT_BYTES = 1024
DOCUMENT_FORMAT = "vn-police-json"
MESSAGE_TTL = timedelta(days=7)


def alert(reference: str, padding: int) -> canonical.Message:
    """A hotline alert like the exchange tests', its summary padded by `padding` bytes."""
    message = canonical.Message(
        sender_reference=reference,
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_RESTRICTED,
        hotline_alert=canonical.HotlineAlert(
            call_id=f"111-{reference}",
            channel=canonical.CHANNEL_PHONE,
            category=canonical.CATEGORY_MISSING,
            urgency=canonical.URGENCY_HIGH,
            summary="Hai anh em mất liên lạc" + "." * padding,
        ),
    )
    message.issued_at.FromDatetime(now_utc().replace(tzinfo=None))
    return message


class Sealer:
    """Builds padded alerts and seals them as Dispatcher.submit does (for a message the
    route policy leaves as it is): one UUIDv7, a new case id, expiry now + 7 days, and the
    same audit entry, so Store.enqueue does the same work as under submit."""

    def __init__(self, keyring: Keyring, recipient: str) -> None:
        self._keyring = keyring
        self._recipient = recipient
        self._counter = 0
        self.padding = 0
        for _ in range(8):  # varint lengths move by a byte at boundaries: iterate
            size = len(self.seal_one()[0].envelope)
            if size == ENVELOPE_BYTES:
                break
            self.padding = max(0, self.padding + ENVELOPE_BYTES - size)
        sample = self.seal_one()[0]
        self.envelope_bytes = len(sample.envelope)
        self.message_bytes = len(self.message().SerializeToString())

    def message(self) -> canonical.Message:
        """A fresh padded alert (no case id: submit assigns one), fixed-width reference."""
        self._counter += 1
        return alert(f"BENCH-{self._counter:09d}", self.padding)

    def seal_one(self) -> tuple[OutgoingEnvelope, AuditEntry]:
        message = self.message()
        case_id = uuid.uuid4()
        message.case_id = str(case_id)
        now = now_utc()
        message_id = uuid7()
        sealed = seal(
            self._keyring,
            recipient=self._recipient,
            kind=Kind.HOTLINE_ALERT,
            case_id=case_id,
            message_id=message_id,
            payload=envelope.SealedPayload(message=message.SerializeToString()),
            created_at=now,
            expires_at=now + MESSAGE_TTL,
        )
        item = OutgoingEnvelope(
            message_id=message_id,
            recipient=self._recipient,
            case_id=case_id,
            kind=Kind.HOTLINE_ALERT.value,
            handling="restricted",
            envelope=sealed.data,
            envelope_sha256=sealed.sha256,
            expires_at=sealed.header.expires_at,
            sender_reference=message.sender_reference,
        )
        audit = AuditEntry(
            "bench",
            "outbox.queued",
            str(message_id),
            {"peer": self._recipient, "kind": Kind.HOTLINE_ALERT.value, "case": str(case_id)},
        )
        return item, audit

    def seal_many(self, count: int) -> tuple[list[OutgoingEnvelope], list[AuditEntry]]:
        pairs = [self.seal_one() for _ in range(count)]
        return [item for item, _ in pairs], [audit for _, audit in pairs]


class Documents:
    """vn-police-json alerts of ~1 KiB, each with a new reference of fixed width."""

    PLACEHOLDER = "BENCH-API-000000000"

    def __init__(self) -> None:
        adapter = adapter_for(DOCUMENT_FORMAT)
        self.media_type = adapter.media_type
        base = adapter.encode(alert(self.PLACEHOLDER, 0)).data
        padded = adapter.encode(alert(self.PLACEHOLDER, max(0, DOCUMENT_BYTES - len(base)))).data
        self._parts = padded.split(self.PLACEHOLDER.encode())
        self._counter = 0
        self.size = len(padded)

    def next(self) -> bytes:
        self._counter += 1
        return f"BENCH-API-{self._counter:09d}".encode().join(self._parts)
