"""tests/vectors/receipt-attachments-v1.json, recomputed: the ReceiptBody bytes with field 10
(attachment_sha256) from its fields, the signature from the receiver's fixed pair, and what
a verifier reads back (docs/PROTOCOL.md 6.1, 6.2, 7.4)."""

from __future__ import annotations

import uuid

from gateway.crypto import Keyring, OwnKeyPair, sign_receipt, verify_receipt
from gateway.crypto.envelope import from_unix_ms
from gateway.crypto.receipt import receipt_signing_input
from gateway.wire import envelope
from tests.crypto.vector_support import ENVELOPE_VECTORS, load, pair

VECTORS = load("receipt-attachments-v1.json")
BASE = ENVELOPE_VECTORS
FIELDS = VECTORS["receipt_fields"]


def _receiver() -> OwnKeyPair:
    return pair(BASE["keys"]["recipient"])


def test_the_body_bytes_follow_from_its_fields() -> None:
    body = envelope.ReceiptBody(
        version=FIELDS["version"],
        message_id=uuid.UUID(FIELDS["message_id"]).bytes,
        envelope_sha256=bytes.fromhex(FIELDS["envelope_sha256"]),
        sender=FIELDS["sender"],
        receiver=FIELDS["receiver"],
        receiver_key_id=FIELDS["receiver_key_id"],
        received_at_ms=FIELDS["received_at_ms"],
        status=FIELDS["status_value"],
        reason_code=FIELDS["reason_code"],
        attachment_sha256=[bytes.fromhex(h) for h in FIELDS["attachment_sha256"]],
    )
    assert body.SerializeToString().hex() == VECTORS["body"]
    assert envelope.ReceiptStatus.Name(FIELDS["status_value"]) == FIELDS["status"]
    # Field 10 is appended to the receipt of envelope-v1.json as tag 0x52, length 32, hash.
    tail = "".join(f"5220{h}" for h in FIELDS["attachment_sha256"])
    assert VECTORS["body"] == BASE["receipt"]["body"] + tail
    assert receipt_signing_input(body.SerializeToString()).hex() == VECTORS["signing_input"]


def test_the_receiver_signs_the_same_receipt_and_a_verifier_reads_the_hashes() -> None:
    receiver = _receiver()
    keyring = Keyring(FIELDS["receiver"], [receiver], {})
    envelope_data = bytes.fromhex(BASE["envelope"]["envelope"])
    hashes = [bytes.fromhex(h) for h in FIELDS["attachment_sha256"]]
    receipt = sign_receipt(
        keyring,
        envelope_data=envelope_data,
        message_id=uuid.UUID(FIELDS["message_id"]),
        sender=FIELDS["sender"],
        received_at=from_unix_ms(FIELDS["received_at_ms"]),
        attachment_sha256=hashes,
    )
    assert receipt.hex() == VECTORS["receipt"]
    assert envelope.Receipt.FromString(receipt).signature.hex() == VECTORS["signature"]
    facts = verify_receipt(
        receipt,
        receiver=FIELDS["receiver"],
        receiver_keys=[receiver.public()],
        envelope_data=envelope_data,
    )
    assert facts.accepted
    assert facts.attachment_sha256 == tuple(hashes)
