"""The records the store takes and gives: plain frozen dataclasses, no SQL types leak out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class LinkedAttachment:
    """One attachment stream an envelope names (migration 0017), in AttachmentKey order:
    for an outgoing envelope the per-recipient stream it carries, for an incoming one the
    verified stream of its sender."""

    position: int
    attachment_id: str
    ciphertext_sha256: bytes = b""
    media_type: str = ""
    plaintext_size: int = 0


@dataclass(frozen=True)
class OutgoingEnvelope:
    """A sealed envelope to queue for one peer."""

    message_id: uuid.UUID
    recipient: str
    case_id: uuid.UUID
    kind: str
    handling: str
    envelope: bytes = field(repr=False)
    envelope_sha256: bytes
    expires_at: datetime
    sender_reference: str = ""
    local_client: str | None = None
    # Per-recipient attachment streams, linked to the row in the enqueue transaction.
    attachments: tuple[LinkedAttachment, ...] = ()
    # When a person at the recipient must have acknowledged it (docs/PROTOCOL.md section
    # 13); None when no acknowledgement is expected.
    acknowledge_due: datetime | None = None


@dataclass(frozen=True)
class ClaimedEnvelope:
    """An outbox row claimed for one delivery attempt."""

    queue_position: int
    message_id: uuid.UUID
    case_id: uuid.UUID
    envelope: bytes = field(repr=False)
    envelope_sha256: bytes
    attempts: int


@dataclass(frozen=True)
class ClaimedBatch:
    """A claim of a pipelined sender: its envelopes, and the floor of its next claim (no row
    below it is queued but those of cases in flight now, which it leaves above)."""

    envelopes: list[ClaimedEnvelope]
    next_floor: int


@dataclass(frozen=True)
class DeliveryOutcome:
    """What a peer's verified receipt says about one claimed envelope."""

    message_id: uuid.UUID
    receipt: bytes = field(repr=False)
    accepted: bool
    reason_code: str
    received_at: datetime


@dataclass(frozen=True)
class DestinationState:
    """Per-peer delivery state kept in the database, so backoff survives restarts."""

    peer: str
    failures: int = 0
    retry_at: datetime | None = None
    last_error: str | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None


@dataclass(frozen=True)
class IncomingEnvelope:
    """A verified envelope to store in the inbox, with the receipt signed for it."""

    sender: str
    message_id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    envelope: bytes = field(repr=False)
    envelope_sha256: bytes
    receipt: bytes = field(repr=False)
    created_at: datetime
    received_at: datetime
    # Local clients to deliver this message to (webhook or drop folder), queued atomically.
    local_recipients: tuple[str, ...] = ()
    # The sender's handling marking, read from the opened message (the header has none);
    # None when unknown, which retention and the console treat as victim_protected.
    handling: str | None = None
    # Local clients that take this kind but are not allowed its marking (victim-protected
    # or unknown, see local_clients[].victim_protected): no delivery is queued for them; each
    # is recorded in the audit log (local.withheld) in the same transaction.
    withheld_recipients: tuple[str, ...] = ()
    # The verified streams its AttachmentKeys name, linked in the inbox transaction.
    attachments: tuple[LinkedAttachment, ...] = ()


@dataclass(frozen=True)
class StoredIncoming:
    """What the inbox already holds for a (sender, message id)."""

    envelope_sha256: bytes
    receipt: bytes = field(repr=False)


@dataclass(frozen=True)
class AuditEntry:
    """One event for the audit log. detail must not hold victim data or message content."""

    actor: str
    action: str
    subject: str
    detail: dict[str, str | int | bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRow:
    """A stored audit entry."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, str | int | bool | None]


@dataclass(frozen=True)
class AuditVerdict:
    """Result of checking the audit chain."""

    entries: int
    first_broken_seq: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


@dataclass(frozen=True)
class OutboxRow:
    """An outbox message as operators see it; never the payload."""

    message_id: uuid.UUID
    recipient: str
    case_id: uuid.UUID
    kind: str
    handling: str
    sender_reference: str
    state: str
    attempts: int
    last_error: str | None
    queued_at: datetime
    expires_at: datetime
    finished_at: datetime | None
    receipt_received_at: datetime | None
    local_client: str | None = None


@dataclass(frozen=True)
class InboxRow:
    """An inbox message as operators see it; never the payload."""

    id: int
    sender: str
    message_id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    created_at: datetime
    received_at: datetime


@dataclass(frozen=True)
class PeerSummary:
    """Per-peer delivery health for operators and metrics."""

    peer: str
    pending: int
    oldest_pending: datetime | None
    failures: int
    retry_at: datetime | None
    last_error: str | None
    last_success_at: datetime | None
    last_failure_at: datetime | None


@dataclass(frozen=True)
class PendingLocalDelivery:
    """An incoming message still to be delivered to one local client."""

    id: int
    inbox_id: int
    delivering: bool
    attempts: int
    file_name: str | None
    sender: str
    message_id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    envelope: bytes = field(repr=False)


@dataclass(frozen=True)
class DroppedFile:
    """A file taken from an outgoing drop folder, recorded with what it queued."""

    client: str
    sha256: bytes
    file_name: str
    messages: int
    rejected: int


@dataclass(frozen=True)
class LocalDeliveryRow:
    """One local delivery as operators see it: states and reasons, never content."""

    id: int
    client: str
    state: str
    attempts: int
    last_error: str | None
    held_reason: str | None
    held_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    sender: str
    message_id: uuid.UUID
    kind: str


@dataclass(frozen=True)
class LocalClientSummary:
    """Per local client: what waits (in order), how often its head was tried, what is held."""

    client: str
    backlog: int
    oldest_pending: datetime | None
    head_attempts: int
    held: int


@dataclass(frozen=True)
class RequeuedDelivery:
    id: int
    client: str
    sender: str
    message_id: uuid.UUID


# Handling markings, most open first; anything else (unknown, unspecified) counts as the last.
MARKINGS = ("normal", "restricted", "victim_protected")
CONTENT_TABLES = ("outbox", "inbox", "drafts")


@dataclass(frozen=True)
class ContentCutoffs:
    """Per handling marking, the instant before which finished content goes."""

    normal: datetime
    restricted: datetime
    victim_protected: datetime


@dataclass(frozen=True)
class PurgedContent:
    """What one retention sweep deleted (or, dry, would delete): envelopes by table and
    marking, and files from done/ folders. Counts only."""

    envelopes: dict[tuple[str, str], int]
    done_files: int = 0

    def count(self, table: str | None = None) -> int:
        return sum(n for (t, _), n in self.envelopes.items() if table in (None, t))

    @property
    def anything(self) -> bool:
        return self.count() > 0 or self.done_files > 0
