"""Acknowledgements by a person: the message, its deadline, and reading one received.

A receipt says the peer's gateway stored a message; an acknowledgement says someone there
took it in hand. It is an ordinary envelope of the control kind ACKNOWLEDGEMENT (sealed,
signed, queued in the durable outbox, retried, receipted) whose sealed payload holds a
`blg.v1.Acknowledgement` (docs/PROTOCOL.md section 13), sent by the recipient of a message
back to its sender in the message's case; it never reaches a local system.

Pure functions: `deadline_for` says, from the config's rules, how long a person at the peer
has (the Dispatcher stores the instant with the outbox row, so a later config change moves
no running deadline); `seal_acknowledgement` makes the envelope the acknowledging node
queues; `read_acknowledgement` checks an opened one (A2-A4 of section 13.3). Whether the
acknowledged message was sent to this peer (A5) needs the database: the Store checks it
where it records the acknowledgement.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config.acknowledgements import AcknowledgementRule
from gateway.crypto import (
    EnvelopeRejected,
    Keyring,
    OpenedEnvelope,
    RejectReason,
    SealedEnvelope,
    seal,
)
from gateway.crypto.envelope import from_unix_ms, is_representable_ms, to_unix_ms
from gateway.federation.control_payload import parse_control
from gateway.wire import ControlKind, Kind, acknowledgement, canonical, envelope, uuid7

ACKNOWLEDGEMENT_VERSION = 1
MAX_ACKNOWLEDGED_BY = 128


class How(enum.StrEnum):
    """How a message was acknowledged, as the API, the console and the database name it."""

    CONSOLE = "console"
    LOCAL_API = "local_api"
    LOCAL_HANDLED = "local_handled"

    @property
    def wire(self) -> acknowledgement.AcknowledgedHow.ValueType:
        return acknowledgement.AcknowledgedHow.Value(f"ACKNOWLEDGED_HOW_{self.name}")


@dataclass(frozen=True)
class AcknowledgementContent:
    """What an Acknowledgement says."""

    message_id: uuid.UUID
    acknowledged_at: datetime
    acknowledged_by: str
    how: How


def _condition_value(message: canonical.Message, kind: Kind, field: str) -> str | None:
    """The lower-case name of message's condition field (action, urgency, request)."""
    try:
        if kind is Kind.VICTIM_HANDOVER and field == "action":
            name = canonical.Action.Name(message.action)
        elif kind is Kind.HOTLINE_ALERT and field == "urgency":
            name = canonical.Urgency.Name(message.hotline_alert.urgency)
        elif kind is Kind.WANTED_PERSON_NOTICE and field == "request":
            name = canonical.Request.Name(message.wanted_person_notice.request)
        else:
            return None
    except ValueError:
        return None  # a value newer than this node: no rule names it
    return name.split("_", 1)[1].lower()


def deadline_for(
    rules: Sequence[AcknowledgementRule], message: canonical.Message
) -> timedelta | None:
    """How long the recipient has to acknowledge message: the first matching rule's
    `within`; None when no rule matches (no acknowledgement is expected)."""
    body = message.WhichOneof("body")
    if body is None:
        return None
    kind = Kind(body)
    for rule in rules:
        if rule.kind is not kind:
            continue
        if rule.condition is None or _condition_value(message, kind, rule.condition) == rule.value:
            return rule.within
    return None


def acknowledgement_payload(content: AcknowledgementContent) -> envelope.SealedPayload:
    """The sealed payload of an acknowledgement."""
    message = acknowledgement.Acknowledgement(
        version=ACKNOWLEDGEMENT_VERSION,
        message_id=content.message_id.bytes,
        acknowledged_at_ms=to_unix_ms(content.acknowledged_at),
        acknowledged_by=content.acknowledged_by,
        how=content.how.wire,
    )
    return envelope.SealedPayload(message=message.SerializeToString())


def seal_acknowledgement(
    keyring: Keyring,
    *,
    recipient: str,
    case_id: uuid.UUID,
    content: AcknowledgementContent,
    now: datetime,
    ttl: timedelta,
) -> SealedEnvelope:
    """An acknowledgement for recipient, the sender of the acknowledged message, in its case."""
    return seal(
        keyring,
        recipient=recipient,
        kind=ControlKind.ACKNOWLEDGEMENT,
        case_id=case_id,
        message_id=uuid7(),
        payload=acknowledgement_payload(content),
        created_at=now,
        expires_at=now + ttl,
    )


def _malformed(detail: str) -> EnvelopeRejected:
    return EnvelopeRejected(RejectReason.ACKNOWLEDGEMENT_MALFORMED, detail)


def read_acknowledgement(opened: OpenedEnvelope) -> AcknowledgementContent:
    """What an opened ACKNOWLEDGEMENT envelope says, checked in the order of section 13.3
    (A2 to A4); raises EnvelopeRejected."""
    message = parse_control(
        opened,
        acknowledgement.Acknowledgement(),
        version=ACKNOWLEDGEMENT_VERSION,
        reason=RejectReason.ACKNOWLEDGEMENT_MALFORMED,
    )
    if len(message.message_id) != 16:
        raise _malformed("message_id: expected 16 bytes")
    if not is_representable_ms(message.acknowledged_at_ms):
        raise _malformed("acknowledged_at_ms: expected a representable instant")
    by = message.acknowledged_by
    if not 0 < len(by) <= MAX_ACKNOWLEDGED_BY or not by.isprintable():
        raise _malformed(
            f"acknowledged_by: expected 1 to {MAX_ACKNOWLEDGED_BY} printable characters"
        )
    try:
        name = acknowledgement.AcknowledgedHow.Name(message.how)
    except ValueError:
        name = ""
    try:
        how = How[name.removeprefix("ACKNOWLEDGED_HOW_")]
    except KeyError:
        raise _malformed("how: expected CONSOLE, LOCAL_API or LOCAL_HANDLED") from None
    return AcknowledgementContent(
        uuid.UUID(bytes=message.message_id),
        from_unix_ms(message.acknowledged_at_ms),
        by,
        how,
    )
