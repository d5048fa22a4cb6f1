"""Submitting a canonical message: check, seal per recipient, queue, in one transaction.

Every way into the gateway (the local API, the CLI, a drop folder, the console) ends here,
so that what may be sent to whom is decided in one place. A message for several peers is
sealed once per peer under its own message id, and all of them are queued atomically: either
every recipient will get it or none will, and the caller hears which ids to follow.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.crypto import Keyring, seal
from gateway.store import AuditEntry, OutgoingEnvelope, Store
from gateway.wire import Kind, canonical, envelope, uuid7


class SubmissionRefused(Exception):  # noqa: N818 - a verdict on the caller's input
    """The message cannot be sent as asked; code is machine-readable, field names the spot."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Queued:
    """One queued copy of a submitted message."""

    message_id: uuid.UUID
    recipient: str
    case_id: uuid.UUID


class Dispatcher:
    """Seals and queues messages for peers."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: Store,
        sendable_kinds: Mapping[str, frozenset[str]],
        message_ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._keyring = keyring
        self._store = store
        self._sendable = sendable_kinds
        self._ttl = message_ttl
        self._clock = clock

    def check(self, message: canonical.Message, recipients: Sequence[str]) -> Kind:
        """Refuse what cannot be sent, before anything is written; returns the kind."""
        body = message.WhichOneof("body")
        if body is None:
            raise SubmissionRefused(
                "missing_body",
                "body",
                "expected one of wanted_person_notice, victim_handover, hotline_alert",
            )
        kind = Kind(body)
        if message.case_id:
            try:
                uuid.UUID(message.case_id)
            except ValueError:
                raise SubmissionRefused(
                    "invalid_field", "case_id", "expected a UUID such as 0193f0c2-7d4e-..."
                ) from None
        if not recipients:
            raise SubmissionRefused("no_recipient", "to", "expected at least one peer")
        for recipient in recipients:
            if recipient not in self._sendable:
                raise SubmissionRefused(
                    "unknown_peer", "to", f"{recipient!r} is not a peer of this node"
                )
            if kind.value not in self._sendable[recipient]:
                raise SubmissionRefused(
                    "kind_not_allowed", "to", f"{kind.value} may not be sent to {recipient}"
                )
        return kind

    async def submit(
        self,
        message: canonical.Message,
        recipients: Sequence[str],
        *,
        actor: str,
        local_client: str | None = None,
    ) -> list[Queued]:
        """Queue message for each recipient; a new case gets a case id here."""
        kind = self.check(message, recipients)
        if not message.case_id:
            message.case_id = str(uuid.uuid4())
        case_id = uuid.UUID(message.case_id)
        now = self._clock()
        payload = envelope.SealedPayload(message=message.SerializeToString())
        handling = canonical.Handling.Name(message.handling).removeprefix("HANDLING_").lower()
        items: list[OutgoingEnvelope] = []
        audit: list[AuditEntry] = []
        for recipient in dict.fromkeys(recipients):
            message_id = uuid7()
            sealed = seal(
                self._keyring,
                recipient=recipient,
                kind=kind,
                case_id=case_id,
                message_id=message_id,
                payload=payload,
                created_at=now,
                expires_at=now + self._ttl,
            )
            items.append(
                OutgoingEnvelope(
                    message_id=message_id,
                    recipient=recipient,
                    case_id=case_id,
                    kind=kind.value,
                    handling=handling,
                    envelope=sealed.data,
                    envelope_sha256=sealed.sha256,
                    expires_at=sealed.header.expires_at,
                    sender_reference=message.sender_reference,
                    local_client=local_client,
                )
            )
            audit.append(
                AuditEntry(
                    actor,
                    "outbox.queued",
                    str(message_id),
                    {"peer": recipient, "kind": kind.value, "case": str(case_id)},
                )
            )
        await self._store.enqueue(items, audit)
        return [Queued(item.message_id, item.recipient, case_id) for item in items]
