"""Acknowledging a received message: seal the acknowledgement back to its sender and queue
it, once per message per node (docs/PROTOCOL.md section 13).

The console's button, the local API's `acknowledge` and a local system's `handled` all end
here. The envelope goes back to the peer the message came from, in the message's case, as
an ordinary outbox row (durable, retried, receipted); Store.give_acknowledgement records it
in the same transaction as the outbox row and the audit entry, and a second call (or a
concurrent one) finds the first and queues nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from gateway.crypto import Keyring
from gateway.crypto.envelope import from_unix_ms, to_unix_ms
from gateway.federation.acknowledgements import (
    AcknowledgementContent,
    How,
    seal_acknowledgement,
)
from gateway.ops.logs import fields
from gateway.store import AuditEntry, OutgoingEnvelope, Store
from gateway.store.acknowledgements import GivenAcknowledgement, ReceivedMessage
from gateway.wire import ControlKind

log = logging.getLogger(__name__)


class CannotAcknowledge(Exception):  # noqa: N818 - a verdict on the request
    """The message's sender is no longer a peer this node holds a key of: nothing to seal
    the acknowledgement for (nothing is recorded)."""


class Acknowledger:
    """Gives this node's acknowledgement of received messages."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: Store,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._keyring = keyring
        self._store = store
        self._ttl = ttl
        self._clock = clock

    async def received(self, message_id: uuid.UUID) -> ReceivedMessage | None:
        """The received message with this id (None: none was received)."""
        return await self._store.received_message(message_id)

    async def acknowledge(
        self, message: ReceivedMessage, *, by: str, how: How, actor: str
    ) -> tuple[GivenAcknowledgement, bool]:
        """Acknowledge message; (the acknowledgement recorded, whether this call gave it)."""
        existing = await self._store.given_acknowledgement(message.sender, message.message_id)
        if existing is not None:
            return existing, False
        now = self._clock()
        # The wire holds milliseconds: both ends then show the same instant.
        at = from_unix_ms(to_unix_ms(now))
        content = AcknowledgementContent(message.message_id, at, by, how)
        try:
            sealed = seal_acknowledgement(
                self._keyring,
                recipient=message.sender,
                case_id=message.case_id,
                content=content,
                now=now,
                ttl=self._ttl,
            )
        except ValueError:
            raise CannotAcknowledge(message.sender) from None
        ack_id = sealed.header.message_id
        outgoing = OutgoingEnvelope(
            message_id=ack_id,
            recipient=message.sender,
            case_id=message.case_id,
            kind=ControlKind.ACKNOWLEDGEMENT.value,
            handling="normal",  # ids, an instant and a username: no case content
            envelope=sealed.data,
            envelope_sha256=sealed.sha256,
            expires_at=sealed.header.expires_at,
        )
        given = GivenAcknowledgement(message.sender, message.message_id, ack_id, at, by, how.value)
        audit = AuditEntry(
            actor,
            "inbox.acknowledged",
            str(message.message_id),
            {"sender": message.sender, "by": by, "how": how.value, "acknowledgement": str(ack_id)},
        )
        recorded, created = await self._store.give_acknowledgement(given, outgoing, audit, now)
        if created:
            log.info(
                "message_acknowledged",
                extra=fields(
                    message_id=message.message_id, peer=message.sender, how=how.value, actor=actor
                ),
            )
        return recorded, created
