"""What the test-vector tools share: the fixed key pairs, sealing a control message with a fixed
nonce, the envelope part of a control vector, and writing the JSON.

The key pairs of every vector file are envelope-v1.json's (seeds from `seed`), so one
implementation's keys prove all of them. A control vector (key announcement, acknowledgement,
cancellation confirmation: docs/PROTOCOL.md sections 12 to 14) is laid out the same way:
description, keys, `<name>_fields`, `<name>` (the message bytes), payload, header_fields,
then the envelope's parts and open_at. Only the message is each tool's own; the key order
here is the order in the files, which must not change (the vectors are compared byte for
byte by other implementations).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.config.values import format_instant, parse_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, seal
from gateway.crypto.envelope import SealedEnvelope
from gateway.wire import ControlKind, envelope

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors"
ENVELOPE = VECTORS / "envelope-v1.json"
# A receiver opens a control vector this long after it was sealed.
OPEN_AFTER = timedelta(seconds=3)


def seed(label: str) -> bytes:
    """A fixed 32-byte secret named by its label."""
    return hashlib.sha256(label.encode()).digest()


# The secrets of envelope-v1.json's two pairs, and the next pair of key-announcement-v1.json.
SENDER_SECRETS = (seed("vector sender signing"), seed("vector sender encryption"))
RECIPIENT_SECRETS = (seed("vector recipient signing"), seed("vector recipient encryption"))


def envelope_vectors() -> dict[str, Any]:
    """tests/vectors/envelope-v1.json, whose pairs and message the other vectors reuse."""
    loaded: dict[str, Any] = json.loads(ENVELOPE.read_text())
    return loaded


def pair(key: dict[str, str]) -> OwnKeyPair:
    """The pair of one entry of envelope-v1.json's keys, with its validity."""
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        KeyValidity(parse_instant(key["valid_from"]), parse_instant(key["valid_until"])),
    )


def secret_keys(*named: tuple[str, str, tuple[bytes, bytes]]) -> dict[str, dict[str, str]]:
    """The keys entry of a control vector: per name, its key id and both secrets."""
    return {
        name: {
            "key_id": key_id,
            "ed25519_seed": secrets[0].hex(),
            "x25519_secret": secrets[1].hex(),
        }
        for name, key_id, secrets in named
    }


@dataclass(frozen=True)
class ControlSealing:
    """What a control vector's envelope is sealed from; the nonce makes it repeatable."""

    keyring: Keyring
    recipient: str
    kind: ControlKind
    case_id: uuid.UUID
    message_id: uuid.UUID
    payload: envelope.SealedPayload
    created: datetime
    expires: datetime
    nonce: bytes

    def seal(self) -> SealedEnvelope:
        return seal(
            self.keyring,
            recipient=self.recipient,
            kind=self.kind,
            case_id=self.case_id,
            message_id=self.message_id,
            payload=self.payload,
            created_at=self.created,
            expires_at=self.expires,
            random_bytes=lambda n: self.nonce[:n],
        )


def control_vectors(
    description: str | None,
    keys: dict[str, Any],
    name: str,
    fields: dict[str, Any],
    sealing: ControlSealing,
) -> dict[str, Any]:
    """A control vector: the message `name` from its `fields`, sealed as `sealing` says."""
    sealed = sealing.seal()
    wire = envelope.Envelope.FromString(sealed.data)
    header = envelope.EnvelopeHeader.FromString(wire.header)
    return {
        "description": description,
        "keys": keys,
        f"{name}_fields": fields,
        name: sealing.payload.message.hex(),
        "payload": sealing.payload.SerializeToString().hex(),
        "header_fields": {
            "version": header.version,
            "sender": header.sender,
            "recipient": header.recipient,
            "message_id": str(uuid.UUID(bytes=header.message_id)),
            "kind": envelope.MessageKind.Name(header.kind),
            "kind_value": header.kind,
            "case_id": str(uuid.UUID(bytes=header.case_id)),
            "created_at_ms": header.created_at_ms,
            "expires_at_ms": header.expires_at_ms,
            "sender_key_id": header.sender_key_id,
            "recipient_key_id": header.recipient_key_id,
        },
        "nonce": sealing.nonce.hex(),
        "header": wire.header.hex(),
        "ciphertext": wire.ciphertext.hex(),
        "signature": wire.signature.hex(),
        "envelope": sealed.data.hex(),
        "envelope_sha256": sealed.sha256.hex(),
        "open_at": format_instant(sealing.created + OPEN_AFTER),
    }


def write_vectors(out: Path, vectors: dict[str, Any]) -> None:
    """Write a vector file as every tool has: indented UTF-8 JSON and a final newline."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
