"""Confirmed cancellation: a cancellation reaches every peer of its case, each one confirms.

Sending (Dispatcher): a CANCEL or UPDATE of a notice, alert or handover goes to every peer
an earlier message of its case went to (the outbox by case), besides the peers asked for or
routed to today: routing rules change, a cancellation must not miss a node that holds the
original. Those extra peers are still judged by the onward rule (Dispatcher.check_onward)
and by what may be sent to them at all; one that may not receive it is left out and audited,
never refused for the whole submission (the peers the caller chose are refused as before).
A cancellation's queued copies are recorded (Store.enqueue: cancellations_sent), so that a
confirmation is taken only for a cancellation this node sent, from the peer it went to.

Receiving: a CANCEL is stored and delivered like any message (local systems learn of it in
their own format), and in the same transaction (Store.store_incoming) the sender's case is
marked cancelled, the local deliveries of the case's earlier messages from that sender that
have not gone out ('pending', 'held') are withdrawn, and a CANCELLATION_CONFIRMATION (a
control envelope, docs/PROTOCOL.md section 14) is queued back to the sender through the
durable outbox. seal_confirmation makes it: it runs inside that transaction because the
confirmation carries how many deliveries were withdrawn.

Confirmations come in like other control envelopes (gateway.federation.controls): verified
as envelopes, read here (read_confirmation), recorded (never delivered to local systems) and
receipted; one for a cancellation this node did not send to that peer is refused
`cancellation_unknown`, permanently. Pure functions: the store records, the receiver
answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.crypto import EnvelopeRejected, Keyring, OpenedEnvelope, RejectReason, seal
from gateway.crypto.envelope import from_unix_ms, is_representable_ms, to_unix_ms
from gateway.federation.control_payload import parse_control
from gateway.store import IncomingEnvelope, OutgoingEnvelope
from gateway.wire import ControlKind, cancellation, canonical, envelope, uuid7

CONFIRMATION_VERSION = 1
# Actions whose copies go to every peer of the case; only CANCEL is confirmed.
FAN_OUT_ACTIONS = frozenset({canonical.ACTION_CANCEL, canonical.ACTION_UPDATE})


@dataclass(frozen=True)
class Confirmation:
    """What a CancellationConfirmation says, checked."""

    cancellation_message_id: uuid.UUID
    case_id: uuid.UUID
    confirmed_at: datetime
    withdrawn: int


def confirmation_payload(
    *,
    cancellation_message_id: uuid.UUID,
    case_id: uuid.UUID,
    confirmed_at: datetime,
    withdrawn: int,
) -> envelope.SealedPayload:
    """The sealed payload confirming a cancellation."""
    message = cancellation.CancellationConfirmation(
        version=CONFIRMATION_VERSION,
        cancellation_message_id=cancellation_message_id.bytes,
        case_id=case_id.bytes,
        confirmed_at_ms=to_unix_ms(confirmed_at),
        withdrawn_deliveries=withdrawn,
        case_state=cancellation.CASE_STATE_CANCELLED,
    )
    return envelope.SealedPayload(message=message.SerializeToString())


def seal_confirmation(
    keyring: Keyring,
    cancelled: IncomingEnvelope,
    *,
    withdrawn: int,
    now: datetime,
    ttl: timedelta,
) -> OutgoingEnvelope:
    """The outbox row confirming cancelled (a stored CANCEL) to its sender. ValueError when
    no key can seal it (a peer removed from the config: nothing to send it to)."""
    sealed = seal(
        keyring,
        recipient=cancelled.sender,
        kind=ControlKind.CANCELLATION_CONFIRMATION,
        case_id=cancelled.case_id,
        message_id=uuid7(),
        payload=confirmation_payload(
            cancellation_message_id=cancelled.message_id,
            case_id=cancelled.case_id,
            confirmed_at=now,
            withdrawn=withdrawn,
        ),
        created_at=now,
        expires_at=now + ttl,
    )
    return OutgoingEnvelope(
        message_id=sealed.header.message_id,
        recipient=cancelled.sender,
        case_id=cancelled.case_id,
        kind=ControlKind.CANCELLATION_CONFIRMATION.value,
        handling="normal",  # ids and a count, no personal data: the shortest retention
        envelope=sealed.data,
        envelope_sha256=sealed.sha256,
        expires_at=sealed.header.expires_at,
    )


def _malformed(detail: str) -> EnvelopeRejected:
    return EnvelopeRejected(RejectReason.CONFIRMATION_MALFORMED, detail)


def read_confirmation(opened: OpenedEnvelope) -> Confirmation:
    """What an opened CANCELLATION_CONFIRMATION envelope confirms, checked in the order of
    section 14.3 (C1 to C4); raises EnvelopeRejected. Whether this node sent that
    cancellation to the envelope's sender (C5) only the store can tell."""
    message = parse_control(
        opened,
        cancellation.CancellationConfirmation(),
        version=CONFIRMATION_VERSION,
        reason=RejectReason.CONFIRMATION_MALFORMED,
    )
    if len(message.cancellation_message_id) != 16:
        raise _malformed("cancellation_message_id: expected 16 bytes")
    if message.case_id != opened.header.case_id.bytes:
        raise _malformed("case_id: expected the envelope's case_id")
    if not is_representable_ms(message.confirmed_at_ms):
        raise _malformed("confirmed_at_ms: expected a representable instant")
    if message.case_state != cancellation.CASE_STATE_CANCELLED:
        raise _malformed("case_state: expected CASE_STATE_CANCELLED")
    return Confirmation(
        uuid.UUID(bytes=message.cancellation_message_id),
        opened.header.case_id,
        from_unix_ms(message.confirmed_at_ms),
        message.withdrawn_deliveries,
    )
