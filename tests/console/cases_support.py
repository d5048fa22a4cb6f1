"""Messages in a console test's store as they would be after a real exchange: sent through
the node's dispatcher, or sealed by the peer with its real key and stored as the receiver
stores them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters import adapter_for
from gateway.crypto import seal
from gateway.store import IncomingEnvelope
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.console.conftest import NODE, PEER, ConsoleHarness
from tests.federation.harness import without_attachment_ids

PARTNERS = Path(__file__).resolve().parents[3] / "shared" / "partners"
# Names in the Cambodian sample, in both scripts.
NAMES = [("ង្វៀន ធី ឡាន", "NGUYEN Thi Lan"), ("ចាន់ សុភា", "CHAN Sophea")]


def handover_from_ratanakiri() -> canonical.Message:
    document = (PARTNERS / "kh-police-xml" / "samples" / "handover.xml").read_bytes()
    [decoded] = adapter_for("kh-police-xml").decode(document).messages
    return decoded.message


async def receive(
    console: ConsoleHarness,
    message: canonical.Message,
    case: uuid.UUID,
    *,
    in_reply_to: uuid.UUID | None = None,
    at: datetime | None = None,
    handling: str | None = None,
) -> uuid.UUID:
    """Store a message as the peer sealed it for this node, as the receiver would (the
    inbox's marking: handling, as the receiver reads it; None by default, as for a row
    received before 0010_retention_content.sql)."""
    message.case_id = str(case)
    if in_reply_to is not None:
        message.in_reply_to = str(in_reply_to)
    kind = Kind(message.WhichOneof("body") or "")
    now = at or datetime.now(UTC)
    sealed = seal(
        console.federation.keyring(PEER),
        recipient=NODE,
        kind=kind,
        case_id=case,
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=now - timedelta(seconds=2),
        expires_at=now + timedelta(days=1),
    )
    await console.store.store_incoming(
        [
            IncomingEnvelope(
                sender=PEER,
                message_id=sealed.header.message_id,
                case_id=case,
                kind=kind.value,
                envelope=sealed.data,
                envelope_sha256=sealed.sha256,
                receipt=b"receipt",
                created_at=sealed.header.created_at,
                received_at=now,
                handling=handling,
            )
        ]
    )
    return sealed.header.message_id


async def send(console: ConsoleHarness, message: canonical.Message) -> tuple[uuid.UUID, uuid.UUID]:
    # Sent as the console would, which uploads nothing: a message may name only attachments
    # its client uploaded (attachment_unknown), so the sample's scan is left out.
    without_attachment_ids(message)
    [queued] = await console.ctx.dispatcher.submit(message, [PEER], actor="test")
    return queued.message_id, queued.case_id


def answer_to(
    action: canonical.Action.ValueType, case: uuid.UUID, to: uuid.UUID
) -> canonical.Message:
    message = canonical.Message(
        case_id=str(case),
        in_reply_to=str(to),
        action=action,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        victim_handover=canonical.VictimHandover(border_gate="KH-OYADAV"),
    )
    message.victim_handover.planned_at.FromDatetime(datetime(2026, 12, 1, 2, 0))
    return message
