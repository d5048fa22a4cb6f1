"""Write tests/vectors/key-announcement-v1.json: a key announcement (docs/PROTOCOL.md section 12)
from fixed keys, nonce and message id, and the bytes it gives.

The announcing and receiving pairs are those of envelope-v1.json (same seeds); the announced
next pair has seeds of its own. Run once when section 12 changes (never to make a failing
test pass): tests/crypto/test_announcement_vectors.py recomputes every value.
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
from gateway.federation.announcements import NO_CASE, announcement_payload
from gateway.wire import ControlKind, envelope, uuid7

OUT = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "key-announcement-v1.json"


def _seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def main() -> None:
    year = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    created = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
    # The rotation of 2.3: the next pair from `created`, the current one ending 7 days later.
    ending = KeyValidity(year.valid_from, created + timedelta(days=7))
    following = KeyValidity(created, created + timedelta(days=365))
    secrets = {
        "sender": (_seed("vector sender signing"), _seed("vector sender encryption")),
        "recipient": (_seed("vector recipient signing"), _seed("vector recipient encryption")),
        "next": (_seed("vector sender next signing"), _seed("vector sender next encryption")),
    }
    current = OwnKeyPair.from_secrets("k2026a", *secrets["sender"], year)
    recipient_key = OwnKeyPair.from_secrets("k2026b", *secrets["recipient"], year)
    next_key = OwnKeyPair.from_secrets("k2026c", *secrets["next"], following)
    sender = Keyring(
        "vn-gialai-police", [current], {"kh-ratanakiri-police": [recipient_key.public()]}
    )
    announced = [
        OwnKeyPair.from_secrets("k2026a", *secrets["sender"], ending).public(),
        next_key.public(),
    ]
    payload = announcement_payload("vn-gialai-police", announced)
    nonce = bytes(range(24, 48))
    message_id = uuid7(to_unix_ms(created), bytes(range(10, 20)))
    sealed = seal(
        sender,
        recipient="kh-ratanakiri-police",
        kind=ControlKind.KEY_ANNOUNCEMENT,
        case_id=NO_CASE,
        message_id=message_id,
        payload=payload,
        created_at=created,
        expires_at=created + timedelta(days=7),
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
                ("next", "k2026c", secrets["next"]),
            )
        },
        "announcement_fields": {
            "version": 1,
            "node": "vn-gialai-police",
            "keys": [
                {
                    "key_id": key.key_id,
                    "signing_public_key": key.signing_public.hex(),
                    "encryption_public_key": key.encryption_public.hex(),
                    "valid_from": format_instant(key.validity.valid_from),
                    "valid_until": format_instant(key.validity.valid_until),
                    "valid_from_ms": to_unix_ms(key.validity.valid_from),
                    "valid_until_ms": to_unix_ms(key.validity.valid_until),
                }
                for key in announced
            ],
        },
        "announcement": envelope.SealedPayload.FromString(
            payload.SerializeToString()
        ).message.hex(),
        "payload": payload.SerializeToString().hex(),
        "header_fields": {
            "version": 1,
            "sender": "vn-gialai-police",
            "recipient": "kh-ratanakiri-police",
            "message_id": str(message_id),
            "kind": "MESSAGE_KIND_KEY_ANNOUNCEMENT",
            "kind_value": 100,
            "case_id": str(uuid.UUID(int=0)),
            "created_at_ms": to_unix_ms(created),
            "expires_at_ms": to_unix_ms(created + timedelta(days=7)),
            "sender_key_id": "k2026a",
            "recipient_key_id": "k2026b",
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
