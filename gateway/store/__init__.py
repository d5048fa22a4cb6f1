"""Storage: PostgreSQL through asyncpg, and nothing else speaks SQL.

`Store` is the narrow interface the rest of the gateway calls; `queries.sql` holds every
statement by name and `migrations/` the numbered schema changes applied at start-up.
"""

from __future__ import annotations

from gateway.store.embedded import EmbeddedPostgres, start_embedded
from gateway.store.records import (
    AuditEntry,
    AuditRow,
    AuditVerdict,
    ClaimedBatch,
    ClaimedEnvelope,
    ContentCutoffs,
    DeliveryOutcome,
    DestinationState,
    DroppedFile,
    InboxRow,
    IncomingEnvelope,
    LinkedAttachment,
    LocalClientSummary,
    LocalDeliveryRow,
    OutboxRow,
    OutgoingEnvelope,
    PeerSummary,
    PendingLocalDelivery,
    PurgedContent,
    RequeuedDelivery,
    StoredIncoming,
)
from gateway.store.sending import SessionLock
from gateway.store.store import (
    FINAL_STATES,
    AlreadyQueued,
    OutboxStateError,
    PoolUsage,
    Store,
)

__all__ = [
    "FINAL_STATES",
    "AlreadyQueued",
    "AuditEntry",
    "AuditRow",
    "AuditVerdict",
    "ClaimedBatch",
    "ClaimedEnvelope",
    "ContentCutoffs",
    "DeliveryOutcome",
    "DestinationState",
    "DroppedFile",
    "EmbeddedPostgres",
    "InboxRow",
    "IncomingEnvelope",
    "LinkedAttachment",
    "LocalClientSummary",
    "LocalDeliveryRow",
    "OutboxRow",
    "OutboxStateError",
    "OutgoingEnvelope",
    "PeerSummary",
    "PendingLocalDelivery",
    "PoolUsage",
    "PurgedContent",
    "RequeuedDelivery",
    "SessionLock",
    "Store",
    "StoredIncoming",
    "start_embedded",
]
