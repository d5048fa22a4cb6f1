"""Write tests/vectors/cancellation-confirmation-v1.json: a cancellation confirmation
(docs/PROTOCOL.md section 14) from fixed keys, nonce and ids, and the bytes it gives.

The confirming node is the recipient of envelope-v1.json (kh-ratanakiri-police, same seeds)
and the node it confirms to is that file's sender (vn-gialai-police). Run once when section
14 changes (never to make a failing test pass): tests/crypto/test_cancellation_vectors.py
recomputes every value.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.config.values import format_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, seal
from gateway.crypto.envelope import to_unix_ms
from gateway.federation.cancellation import confirmation_payload
from gateway.wire import ControlKind, cancellation, envelope, uuid7

OUT = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "vectors"
    / "cancellation-confirmation-v1.json"
)


def _seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def main() -> None:
    year = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    cancelled_at = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
    confirmed = cancelled_at + timedelta(seconds=2)
    secrets = {
        "sender": (_seed("vector sender signing"), _seed("vector sender encryption")),
        "recipient": (_seed("vector recipient signing"), _seed("vector recipient encryption")),
    }
    sender_key = OwnKeyPair.from_secrets("k2026a", *secrets["sender"], year)
    recipient_key = OwnKeyPair.from_secrets("k2026b", *secrets["recipient"], year)
    confirming = Keyring(
        "kh-ratanakiri-police", [recipient_key], {"vn-gialai-police": [sender_key.public()]}
    )
    case_id = uuid.UUID("0f3c2a1e-8d7b-4c5a-9e6f-112233445566")
    cancellation_id = uuid7(to_unix_ms(cancelled_at), bytes(range(30, 40)))
    payload = confirmation_payload(
        cancellation_message_id=cancellation_id,
        case_id=case_id,
        confirmed_at=confirmed,
        withdrawn=2,
    )
    nonce = bytes(range(48, 72))
    message_id = uuid7(to_unix_ms(confirmed), bytes(range(40, 50)))
    expires = confirmed + timedelta(days=7)
    sealed = seal(
        confirming,
        recipient="vn-gialai-police",
        kind=ControlKind.CANCELLATION_CONFIRMATION,
        case_id=case_id,
        message_id=message_id,
        payload=payload,
        created_at=confirmed,
        expires_at=expires,
        random_bytes=lambda n: nonce[:n],
    )
    wire = envelope.Envelope.FromString(sealed.data)
    vectors: dict[str, Any] = {
        "description": __doc__,
        "keys": {
            name: {"key_id": key_id, "ed25519_seed": pair[0].hex(), "x25519_secret": pair[1].hex()}
            for name, key_id, pair in (
                ("sender", "k2026a", secrets["sender"]),
                ("recipient", "k2026b", secrets["recipient"]),
            )
        },
        "confirmation_fields": {
            "version": 1,
            "cancellation_message_id": str(cancellation_id),
            "case_id": str(case_id),
            "confirmed_at": format_instant(confirmed),
            "confirmed_at_ms": to_unix_ms(confirmed),
            "withdrawn_deliveries": 2,
            "case_state": "CASE_STATE_CANCELLED",
            "case_state_value": cancellation.CASE_STATE_CANCELLED,
        },
        "confirmation": envelope.SealedPayload.FromString(
            payload.SerializeToString()
        ).message.hex(),
        "payload": payload.SerializeToString().hex(),
        "header_fields": {
            "version": 1,
            "sender": "kh-ratanakiri-police",
            "recipient": "vn-gialai-police",
            "message_id": str(message_id),
            "kind": "MESSAGE_KIND_CANCELLATION_CONFIRMATION",
            "kind_value": 102,
            "case_id": str(case_id),
            "created_at_ms": to_unix_ms(confirmed),
            "expires_at_ms": to_unix_ms(expires),
            "sender_key_id": "k2026b",
            "recipient_key_id": "k2026a",
        },
        "nonce": nonce.hex(),
        "header": wire.header.hex(),
        "ciphertext": wire.ciphertext.hex(),
        "signature": wire.signature.hex(),
        "envelope": sealed.data.hex(),
        "envelope_sha256": sealed.sha256.hex(),
        "open_at": format_instant(confirmed + timedelta(seconds=3)),
    }
    OUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
