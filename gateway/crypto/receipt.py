"""Signed receipts: the receiver's evidence that it took, or refused, an envelope.

A receipt names the envelope by the SHA-256 of its bytes as received, so anyone holding the
envelope, the receipt and the receiver's published keys can check, without trusting either
party's database, that this exact envelope reached that receiver at that time. Refusals are
signed too: a sender can show that a message was refused, and why, rather than lost.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import nacl.exceptions
from google.protobuf.message import DecodeError
from nacl.signing import VerifyKey

from gateway.crypto.envelope import PROTOCOL_VERSION, from_unix_ms, to_unix_ms
from gateway.crypto.keys import Keyring, PublicKeyPair
from gateway.wire import envelope

RECEIPT_SIGNATURE_TAG = b"BLG-RECEIPT-SIG-V1\x00"


class ReceiptInvalid(Exception):  # noqa: N818 - a verdict on evidence
    """A receipt does not prove what it claims; reason is machine-readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ReceiptFacts:
    """What a verified receipt states."""

    message_id: uuid.UUID | None
    envelope_sha256: bytes
    sender: str
    receiver: str
    receiver_key_id: str
    received_at: datetime
    accepted: bool
    reason_code: str
    # The attachment streams the receiver holds, AttachmentKey order (field 10).
    attachment_sha256: tuple[bytes, ...] = ()


def receipt_signing_input(body: bytes) -> bytes:
    """The exact bytes the receiver signs."""
    return RECEIPT_SIGNATURE_TAG + body


def sign_receipt(
    keyring: Keyring,
    *,
    envelope_data: bytes,
    message_id: uuid.UUID | None,
    sender: str,
    received_at: datetime,
    rejection: str | None = None,
    attachment_sha256: Sequence[bytes] = (),
) -> bytes:
    """A serialized blg.v1.Receipt for envelope_data, signed by this node's current key.

    rejection is None for an accepted envelope, else the reason code it was refused with.
    attachment_sha256: the streams an accepted envelope's AttachmentKeys name, as held and
    verified here (field 10), so that the sender's "delivered" covers its attachments.
    """
    own = keyring.own_key_at(received_at, sender)
    if own is None:
        raise ValueError(f"node {keyring.node_id} has no key pair valid at {received_at}")
    body = envelope.ReceiptBody(
        version=PROTOCOL_VERSION,
        message_id=message_id.bytes if message_id else b"",
        envelope_sha256=hashlib.sha256(envelope_data).digest(),
        sender=sender,
        receiver=keyring.node_id,
        receiver_key_id=own.key_id,
        received_at_ms=to_unix_ms(received_at),
        status=envelope.RECEIPT_STATUS_REJECTED if rejection else envelope.RECEIPT_STATUS_ACCEPTED,
        reason_code=rejection or "",
        attachment_sha256=list(attachment_sha256),
    ).SerializeToString()
    signature = own.signing_key.sign(receipt_signing_input(body)).signature
    return envelope.Receipt(body=body, signature=signature).SerializeToString()


def verify_receipt(
    receipt_data: bytes,
    *,
    receiver: str,
    receiver_keys: Sequence[PublicKeyPair],
    envelope_data: bytes | None = None,
) -> ReceiptFacts:
    """Check a receipt against the receiver's published keys; raises ReceiptInvalid.

    With envelope_data, also checks that the receipt names exactly those bytes. This needs no
    keyring of ours, so a third party (an auditor, a court) can run it.
    """
    receipt = envelope.Receipt()
    body = envelope.ReceiptBody()
    try:
        receipt.ParseFromString(receipt_data)
        body.ParseFromString(receipt.body)
    except DecodeError:
        raise ReceiptInvalid("receipt_malformed", "not a blg.v1.Receipt") from None
    if body.version != PROTOCOL_VERSION:
        raise ReceiptInvalid("receipt_malformed", f"version {body.version} is not supported")
    status_ok = body.status in (envelope.RECEIPT_STATUS_ACCEPTED, envelope.RECEIPT_STATUS_REJECTED)
    if not status_ok or len(body.envelope_sha256) != 32:
        raise ReceiptInvalid("receipt_malformed", "status or envelope_sha256 missing")
    if (body.status == envelope.RECEIPT_STATUS_REJECTED) != bool(body.reason_code):
        raise ReceiptInvalid("receipt_malformed", "reason_code must be set exactly on rejections")
    if body.receiver != receiver:
        raise ReceiptInvalid("wrong_receiver", f"signed as {body.receiver!r}, not {receiver!r}")
    key = next((k for k in receiver_keys if k.key_id == body.receiver_key_id), None)
    if key is None:
        raise ReceiptInvalid("unknown_key", f"receiver key {body.receiver_key_id!r} unknown")
    try:
        received_at = from_unix_ms(body.received_at_ms)
    except OverflowError:
        raise ReceiptInvalid("receipt_malformed", "received_at_ms out of range") from None
    if not key.validity.covers(received_at):
        raise ReceiptInvalid("key_not_valid", "receiver key not valid at received_at")
    try:
        VerifyKey(key.signing_public).verify(receipt_signing_input(receipt.body), receipt.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError):
        raise ReceiptInvalid("bad_signature", "receipt signature does not verify") from None
    if envelope_data is not None and hashlib.sha256(envelope_data).digest() != body.envelope_sha256:
        raise ReceiptInvalid("envelope_mismatch", "receipt names a different envelope")
    return ReceiptFacts(
        message_id=uuid.UUID(bytes=body.message_id) if len(body.message_id) == 16 else None,
        envelope_sha256=body.envelope_sha256,
        sender=body.sender,
        receiver=body.receiver,
        receiver_key_id=body.receiver_key_id,
        received_at=received_at,
        accepted=body.status == envelope.RECEIPT_STATUS_ACCEPTED,
        reason_code=body.reason_code,
        attachment_sha256=tuple(body.attachment_sha256),
    )
