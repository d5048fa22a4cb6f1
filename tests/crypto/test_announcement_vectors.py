"""tests/vectors/key-announcement-v1.json, recomputed: the KeyAnnouncement bytes from its
fields, the sealed envelope from the fixed keys, nonce and message id, and what a receiver
reads out of it (docs/PROTOCOL.md section 12)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.config.values import parse_instant
from gateway.crypto import EnvelopeLimits, Keyring, KeyValidity, OwnKeyPair, open_envelope, seal
from gateway.crypto.envelope import from_unix_ms
from gateway.federation.announcements import read_announcement
from gateway.wire import ControlKind, envelope

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "key-announcement-v1.json").read_text()
)
ENVELOPE_VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "envelope-v1.json").read_text()
)
FIELDS = VECTORS["announcement_fields"]
HEADER = VECTORS["header_fields"]


def _pair(name: str, validity: KeyValidity) -> OwnKeyPair:
    key = VECTORS["keys"][name]
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        validity,
    )


def _year(name: str) -> KeyValidity:
    key = ENVELOPE_VECTORS["keys"][name]
    return KeyValidity(parse_instant(key["valid_from"]), parse_instant(key["valid_until"]))


def test_the_announcement_bytes_follow_from_its_fields() -> None:
    built = envelope.KeyAnnouncement(
        version=FIELDS["version"],
        node=FIELDS["node"],
        keys=[
            envelope.PublishedKey(
                key_id=key["key_id"],
                signing_public_key=bytes.fromhex(key["signing_public_key"]),
                encryption_public_key=bytes.fromhex(key["encryption_public_key"]),
                valid_from_ms=key["valid_from_ms"],
                valid_until_ms=key["valid_until_ms"],
            )
            for key in FIELDS["keys"]
        ],
    )
    assert built.SerializeToString().hex() == VECTORS["announcement"]
    payload = envelope.SealedPayload(message=built.SerializeToString())
    assert payload.SerializeToString().hex() == VECTORS["payload"]
    for key in FIELDS["keys"]:
        assert from_unix_ms(key["valid_from_ms"]) == parse_instant(key["valid_from"])


def test_the_same_keys_nonce_and_id_seal_the_same_envelope() -> None:
    # The announcing and receiving pairs are envelope-v1.json's own.
    for name in ("sender", "recipient"):
        assert (
            VECTORS["keys"][name]["ed25519_seed"] == ENVELOPE_VECTORS["keys"][name]["ed25519_seed"]
        )
    sender = Keyring(
        HEADER["sender"],
        [_pair("sender", _year("sender"))],
        {HEADER["recipient"]: [_pair("recipient", _year("recipient")).public()]},
    )
    created = from_unix_ms(HEADER["created_at_ms"])
    nonce = bytes.fromhex(VECTORS["nonce"])
    sealed = seal(
        sender,
        recipient=HEADER["recipient"],
        kind=ControlKind.KEY_ANNOUNCEMENT,
        case_id=uuid.UUID(HEADER["case_id"]),
        message_id=uuid.UUID(HEADER["message_id"]),
        payload=envelope.SealedPayload.FromString(bytes.fromhex(VECTORS["payload"])),
        created_at=created,
        expires_at=from_unix_ms(HEADER["expires_at_ms"]),
        random_bytes=lambda n: nonce[:n],
    )
    assert sealed.data.hex() == VECTORS["envelope"]
    assert hashlib.sha256(sealed.data).hexdigest() == VECTORS["envelope_sha256"]
    header = envelope.EnvelopeHeader.FromString(bytes.fromhex(VECTORS["header"]))
    assert (header.kind, header.case_id) == (HEADER["kind_value"], bytes(16))
    assert envelope.MessageKind.Name(header.kind) == HEADER["kind"]


def test_a_receiver_reads_the_announced_keys_out_of_it() -> None:
    recipient = Keyring(
        HEADER["recipient"],
        [_pair("recipient", _year("recipient"))],
        {HEADER["sender"]: [_pair("sender", _year("sender")).public()]},
    )
    now = parse_instant(VECTORS["open_at"])
    data = bytes.fromhex(VECTORS["envelope"])
    opened = open_envelope(recipient, data, now=now, limits=EnvelopeLimits())
    keys = read_announcement(opened, now=now, known=recipient.peer_keys(HEADER["sender"]))
    assert [(key.key_id, key.signing_public.hex(), key.validity.valid_until) for key in keys] == [
        (key["key_id"], key["signing_public_key"], parse_instant(key["valid_until"]))
        for key in FIELDS["keys"]
    ]
    assert keys[1] == _pair("next", keys[1].validity).public()
    assert keys[0].validity.valid_until - keys[1].validity.valid_from == timedelta(days=7)
