"""Write tests/vectors/receipt-attachments-v1.json: an accepted receipt whose ReceiptBody
carries attachment_sha256 (field 10, docs/PROTOCOL.md 6.1 and 7.4), from fixed inputs.

The receiver's pair, the envelope and received_at_ms are those of envelope-v1.json's receipt;
the stream hashes are envelope-v1.json's attachment stream and the SHA-256 of the ASCII text
"second stream". Ed25519 signatures are deterministic, so the receipt's bytes follow. Run
once when 6.1 or 7.4 changes (never to make a failing test pass):
tests/crypto/test_receipt_attachment_vectors.py recomputes every value.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from gateway.crypto import Keyring, sign_receipt
from gateway.crypto.envelope import from_unix_ms
from gateway.crypto.receipt import receipt_signing_input
from gateway.wire import envelope
from tools.vector_support import VECTORS, envelope_vectors, pair, write_vectors

OUT = VECTORS / "receipt-attachments-v1.json"


def main() -> None:
    base = envelope_vectors()
    key = base["keys"]["recipient"]
    header = base["envelope"]["header_fields"]
    keyring = Keyring(key["node"], [pair(key)], {})
    envelope_data = bytes.fromhex(base["envelope"]["envelope"])
    hashes = [
        bytes.fromhex(base["attachment"]["ciphertext_sha256"]),
        hashlib.sha256(b"second stream").digest(),
    ]
    received_at_ms = base["receipt"]["received_at_ms"]
    receipt = sign_receipt(
        keyring,
        envelope_data=envelope_data,
        message_id=uuid.UUID(header["message_id"]),
        sender=header["sender"],
        received_at=from_unix_ms(received_at_ms),
        attachment_sha256=hashes,
    )
    wire = envelope.Receipt.FromString(receipt)
    vectors: dict[str, Any] = {
        "description": __doc__,
        "receiver_key": "envelope-v1.json keys.recipient",
        "receipt_fields": {
            "version": 1,
            "message_id": header["message_id"],
            "envelope_sha256": base["envelope"]["envelope_sha256"],
            "sender": header["sender"],
            "receiver": key["node"],
            "receiver_key_id": key["key_id"],
            "received_at_ms": received_at_ms,
            "status": "RECEIPT_STATUS_ACCEPTED",
            "status_value": 1,
            "reason_code": "",
            "attachment_sha256": [digest.hex() for digest in hashes],
        },
        "body": wire.body.hex(),
        "signing_input": receipt_signing_input(wire.body).hex(),
        "signature": wire.signature.hex(),
        "receipt": receipt.hex(),
    }
    write_vectors(OUT, vectors)


if __name__ == "__main__":
    main()
