"""tests/vectors/key-announcement-v1.json, recomputed: the KeyAnnouncement bytes from its
fields, the sealed envelope from the fixed keys, nonce and message id, and what a receiver
reads out of it (docs/PROTOCOL.md section 12)."""

from __future__ import annotations

from datetime import timedelta

from gateway.config.values import parse_instant
from gateway.crypto import KeyValidity, OwnKeyPair
from gateway.crypto.envelope import from_unix_ms
from gateway.federation.announcements import read_announcement
from gateway.wire import ControlKind, envelope
from tests.crypto.vector_support import (
    ENVELOPE_VECTORS,
    check_envelope_pairs,
    check_message,
    check_reseals,
    keyring,
    load,
    open_vector,
    pair,
    validity,
)

VECTORS = load("key-announcement-v1.json")
FIELDS = VECTORS["announcement_fields"]
HEADER = VECTORS["header_fields"]


def _pair(name: str, valid: KeyValidity | None = None) -> OwnKeyPair:
    # The file's keys carry no validity: the current pairs are valid for envelope-v1.json's year.
    if valid is None:
        valid = validity(ENVELOPE_VECTORS["keys"][name])
    return pair(VECTORS["keys"][name], valid)


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
    check_message(VECTORS, "announcement", built.SerializeToString())
    for key in FIELDS["keys"]:
        assert from_unix_ms(key["valid_from_ms"]) == parse_instant(key["valid_from"])


def test_the_same_keys_nonce_and_id_seal_the_same_envelope() -> None:
    # The announcing and receiving pairs are envelope-v1.json's own.
    check_envelope_pairs(VECTORS)
    sender = keyring(HEADER["sender"], _pair("sender"), HEADER["recipient"], _pair("recipient"))
    check_reseals(VECTORS, sender, ControlKind.KEY_ANNOUNCEMENT)
    header = envelope.EnvelopeHeader.FromString(bytes.fromhex(VECTORS["header"]))
    assert header.case_id == bytes(16)


def test_a_receiver_reads_the_announced_keys_out_of_it() -> None:
    recipient = keyring(HEADER["recipient"], _pair("recipient"), HEADER["sender"], _pair("sender"))
    now = parse_instant(VECTORS["open_at"])
    opened = open_vector(VECTORS, recipient, ControlKind.KEY_ANNOUNCEMENT)
    keys = read_announcement(opened, now=now, known=recipient.peer_keys(HEADER["sender"]))
    assert [(key.key_id, key.signing_public.hex(), key.validity.valid_until) for key in keys] == [
        (key["key_id"], key["signing_public_key"], parse_instant(key["valid_until"]))
        for key in FIELDS["keys"]
    ]
    assert keys[1] == _pair("next", keys[1].validity).public()
    assert keys[0].validity.valid_until - keys[1].validity.valid_from == timedelta(days=7)
