"""Write tests/vectors/acknowledgement-v1.json: an acknowledgement (docs/PROTOCOL.md section
13) from fixed keys, nonce and message id, and the bytes it gives.

The pairs are those of envelope-v1.json with the roles swapped: its recipient
(kh-ratanakiri-police) acknowledges the message of envelope-v1.json to its sender
(vn-gialai-police), in that message's case. Run once when section 13 changes (never to make
a failing test pass): tests/crypto/test_acknowledgement_vectors.py recomputes every value.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.config.values import format_instant, parse_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, seal
from gateway.crypto.envelope import from_unix_ms, to_unix_ms
from gateway.federation.acknowledgements import (
    AcknowledgementContent,
    How,
    acknowledgement_payload,
)
from gateway.wire import ControlKind, envelope, uuid7

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "vectors" / "acknowledgement-v1.json"
ENVELOPE = ROOT / "tests" / "vectors" / "envelope-v1.json"


def _pair(key: dict[str, str]) -> OwnKeyPair:
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        KeyValidity(parse_instant(key["valid_from"]), parse_instant(key["valid_until"])),
    )


def main() -> None:
    source: dict[str, Any] = json.loads(ENVELOPE.read_text())
    original = source["envelope"]["header_fields"]
    acknowledging = _pair(source["keys"]["recipient"])
    original_sender = _pair(source["keys"]["sender"])
    node, peer = original["recipient"], original["sender"]
    keyring = Keyring(node, [acknowledging], {peer: [original_sender.public()]})
    acknowledged_at = from_unix_ms(original["created_at_ms"]) + timedelta(minutes=42)
    created = acknowledged_at + timedelta(seconds=1)
    content = AcknowledgementContent(
        uuid.UUID(original["message_id"]), acknowledged_at, "officer-0042", How.LOCAL_API
    )
    payload = acknowledgement_payload(content)
    nonce = bytes(range(48, 72))
    message_id = uuid7(to_unix_ms(created), bytes(range(20, 30)))
    expires = created + timedelta(days=7)
    sealed = seal(
        keyring,
        recipient=peer,
        kind=ControlKind.ACKNOWLEDGEMENT,
        case_id=uuid.UUID(original["case_id"]),
        message_id=message_id,
        payload=payload,
        created_at=created,
        expires_at=expires,
        random_bytes=lambda n: nonce[:n],
    )
    wire = envelope.Envelope.FromString(sealed.data)
    vectors: dict[str, Any] = {
        "description": __doc__,
        "keys": {
            "sender": source["keys"]["recipient"],
            "recipient": source["keys"]["sender"],
        },
        "acknowledgement_fields": {
            "version": 1,
            "message_id": original["message_id"],
            "acknowledged_at": format_instant(acknowledged_at),
            "acknowledged_at_ms": to_unix_ms(acknowledged_at),
            "acknowledged_by": content.acknowledged_by,
            "how": "ACKNOWLEDGED_HOW_LOCAL_API",
            "how_value": 2,
        },
        "acknowledgement": payload.message.hex(),
        "payload": payload.SerializeToString().hex(),
        "header_fields": {
            "version": 1,
            "sender": node,
            "recipient": peer,
            "message_id": str(message_id),
            "kind": "MESSAGE_KIND_ACKNOWLEDGEMENT",
            "kind_value": 101,
            "case_id": original["case_id"],
            "created_at_ms": to_unix_ms(created),
            "expires_at_ms": to_unix_ms(expires),
            "sender_key_id": acknowledging.key_id,
            "recipient_key_id": original_sender.key_id,
        },
        "nonce": nonce.hex(),
        "header": wire.header.hex(),
        "ciphertext": wire.ciphertext.hex(),
        "signature": wire.signature.hex(),
        "envelope": sealed.data.hex(),
        "envelope_sha256": sealed.sha256.hex(),
        "open_at": format_instant(created + timedelta(seconds=3)),
    }
    OUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
