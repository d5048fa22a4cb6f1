"""Queueing a message of ours straight into the outbox, for tests that need one sent (or about
to be) without sealing it: its envelope never opens, since nothing in those tests sends it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from gateway.store import Store
from gateway.store.records import OutgoingEnvelope
from gateway.wire import uuid7


async def queue_outgoing(
    store: Store,
    recipient: str,
    case_id: uuid.UUID,
    *,
    kind: str = "hotline_alert",
    handling: str = "normal",
    expires_at: datetime | None = None,
    acknowledge_due: datetime | None = None,
    cancels: bool = False,
) -> uuid.UUID:
    """Queue one envelope to `recipient` in `case_id`; its message id."""
    message_id = uuid7()
    await store.enqueue(
        [
            OutgoingEnvelope(
                message_id=message_id,
                recipient=recipient,
                case_id=case_id,
                kind=kind,
                handling=handling,
                envelope=b"sealed",
                envelope_sha256=hashlib.sha256(message_id.bytes).digest(),
                expires_at=expires_at or datetime.now(UTC) + timedelta(days=7),
                acknowledge_due=acknowledge_due,
                cancels=cancels,
            )
        ],
        [],
    )
    return message_id
