"""What the control-vector tests share: loading tests/vectors files, the fixed key pairs, and
the envelope checks every control vector gets (docs/PROTOCOL.md sections 12 to 14).

Each control vector is sealed from fixed keys, nonce and message id; recomputing it here from
the values in the file (never from the tools that wrote it) is what proves another
implementation's bytes. The message checks stay with each test.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from gateway.config.values import parse_instant
from gateway.crypto import EnvelopeLimits, Keyring, KeyValidity, OwnKeyPair, open_envelope, seal
from gateway.crypto.envelope import OpenedEnvelope, from_unix_ms
from gateway.wire import ControlKind, envelope

FOLDER = Path(__file__).resolve().parents[1] / "vectors"


def load(name: str) -> dict[str, Any]:
    """One vector file of tests/vectors."""
    loaded: dict[str, Any] = json.loads((FOLDER / name).read_text())
    return loaded


ENVELOPE_VECTORS = load("envelope-v1.json")


def validity(key: dict[str, str]) -> KeyValidity:
    """The validity a keys entry states (envelope-v1.json's entries state one)."""
    return KeyValidity(parse_instant(key["valid_from"]), parse_instant(key["valid_until"]))


def pair(key: dict[str, str], valid: KeyValidity | None = None) -> OwnKeyPair:
    """The pair of a keys entry, valid as the entry says unless `valid` is given."""
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        valid if valid is not None else validity(key),
    )


def keyring(node: str, own: OwnKeyPair, peer: str, peer_key: OwnKeyPair) -> Keyring:
    """A node's keyring holding its one pair and its one peer's public keys."""
    return Keyring(node, [own], {peer: [peer_key.public()]})


def check_message(vectors: dict[str, Any], name: str, message: bytes) -> None:
    """A control message built from its fields gives the vector's message and payload bytes."""
    assert message.hex() == vectors[name]
    payload = envelope.SealedPayload(message=message)
    assert payload.SerializeToString().hex() == vectors["payload"]


def check_envelope_pairs(vectors: dict[str, Any]) -> None:
    """A vector's sender and recipient pairs are envelope-v1.json's own (same seeds)."""
    for name in ("sender", "recipient"):
        assert (
            vectors["keys"][name]["ed25519_seed"] == ENVELOPE_VECTORS["keys"][name]["ed25519_seed"]
        )


def check_reseals(vectors: dict[str, Any], sender: Keyring, kind: ControlKind) -> None:
    """The header fields, payload and nonce of a control vector seal exactly its envelope."""
    header_fields = vectors["header_fields"]
    nonce = bytes.fromhex(vectors["nonce"])
    sealed = seal(
        sender,
        recipient=header_fields["recipient"],
        kind=kind,
        case_id=uuid.UUID(header_fields["case_id"]),
        message_id=uuid.UUID(header_fields["message_id"]),
        payload=envelope.SealedPayload.FromString(bytes.fromhex(vectors["payload"])),
        created_at=from_unix_ms(header_fields["created_at_ms"]),
        expires_at=from_unix_ms(header_fields["expires_at_ms"]),
        random_bytes=lambda n: nonce[:n],
    )
    assert sealed.data.hex() == vectors["envelope"]
    assert hashlib.sha256(sealed.data).hexdigest() == vectors["envelope_sha256"]
    header = envelope.EnvelopeHeader.FromString(bytes.fromhex(vectors["header"]))
    assert (header.kind, header.case_id) == (
        header_fields["kind_value"],
        uuid.UUID(header_fields["case_id"]).bytes,
    )
    assert envelope.MessageKind.Name(header.kind) == header_fields["kind"]


def open_vector(vectors: dict[str, Any], receiver: Keyring, kind: ControlKind) -> OpenedEnvelope:
    """A control vector's envelope opened by its receiver at the vector's open_at."""
    opened = open_envelope(
        receiver,
        bytes.fromhex(vectors["envelope"]),
        now=parse_instant(vectors["open_at"]),
        limits=EnvelopeLimits(),
    )
    assert opened.header.kind is kind
    return opened
