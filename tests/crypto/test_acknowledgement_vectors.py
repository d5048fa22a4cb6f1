"""tests/vectors/acknowledgement-v1.json, recomputed: the Acknowledgement bytes from its
fields, the sealed envelope from the fixed keys, nonce and message id, and what a receiver
reads out of it (docs/PROTOCOL.md section 13); then the checks of 13.3 on broken payloads."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from gateway.config.values import parse_instant
from gateway.crypto import (
    EnvelopeLimits,
    EnvelopeRejected,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    open_envelope,
    seal,
)
from gateway.crypto.envelope import from_unix_ms
from gateway.federation.acknowledgements import How, read_acknowledgement
from gateway.wire import ControlKind, acknowledgement, envelope, uuid7

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "acknowledgement-v1.json").read_text()
)
ENVELOPE_VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "envelope-v1.json").read_text()
)
FIELDS = VECTORS["acknowledgement_fields"]
HEADER = VECTORS["header_fields"]


def _pair(name: str) -> OwnKeyPair:
    key = VECTORS["keys"][name]
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        KeyValidity(parse_instant(key["valid_from"]), parse_instant(key["valid_until"])),
    )


def _sender() -> Keyring:
    return Keyring(
        HEADER["sender"], [_pair("sender")], {HEADER["recipient"]: [_pair("recipient").public()]}
    )


def _receiver() -> Keyring:
    return Keyring(
        HEADER["recipient"], [_pair("recipient")], {HEADER["sender"]: [_pair("sender").public()]}
    )


def test_the_acknowledgement_bytes_follow_from_its_fields() -> None:
    built = acknowledgement.Acknowledgement(
        version=FIELDS["version"],
        message_id=uuid.UUID(FIELDS["message_id"]).bytes,
        acknowledged_at_ms=FIELDS["acknowledged_at_ms"],
        acknowledged_by=FIELDS["acknowledged_by"],
        how=FIELDS["how_value"],
    )
    assert built.SerializeToString().hex() == VECTORS["acknowledgement"]
    payload = envelope.SealedPayload(message=built.SerializeToString())
    assert payload.SerializeToString().hex() == VECTORS["payload"]
    assert acknowledgement.AcknowledgedHow.Name(built.how) == FIELDS["how"]
    assert from_unix_ms(FIELDS["acknowledged_at_ms"]) == parse_instant(FIELDS["acknowledged_at"])


def test_it_acknowledges_the_envelope_vector_in_its_case() -> None:
    original = ENVELOPE_VECTORS["envelope"]["header_fields"]
    assert FIELDS["message_id"] == original["message_id"]
    assert HEADER["case_id"] == original["case_id"]
    assert (HEADER["sender"], HEADER["recipient"]) == (original["recipient"], original["sender"])


def test_the_same_keys_nonce_and_id_seal_the_same_envelope() -> None:
    nonce = bytes.fromhex(VECTORS["nonce"])
    sealed = seal(
        _sender(),
        recipient=HEADER["recipient"],
        kind=ControlKind.ACKNOWLEDGEMENT,
        case_id=uuid.UUID(HEADER["case_id"]),
        message_id=uuid.UUID(HEADER["message_id"]),
        payload=envelope.SealedPayload.FromString(bytes.fromhex(VECTORS["payload"])),
        created_at=from_unix_ms(HEADER["created_at_ms"]),
        expires_at=from_unix_ms(HEADER["expires_at_ms"]),
        random_bytes=lambda n: nonce[:n],
    )
    assert sealed.data.hex() == VECTORS["envelope"]
    assert hashlib.sha256(sealed.data).hexdigest() == VECTORS["envelope_sha256"]
    header = envelope.EnvelopeHeader.FromString(bytes.fromhex(VECTORS["header"]))
    assert header.kind == HEADER["kind_value"]
    assert envelope.MessageKind.Name(header.kind) == HEADER["kind"]


def test_a_receiver_reads_the_acknowledgement_out_of_it() -> None:
    now = parse_instant(VECTORS["open_at"])
    opened = open_envelope(
        _receiver(), bytes.fromhex(VECTORS["envelope"]), now=now, limits=EnvelopeLimits()
    )
    assert opened.header.kind is ControlKind.ACKNOWLEDGEMENT
    content = read_acknowledgement(opened)
    assert content.message_id == uuid.UUID(FIELDS["message_id"])
    assert content.acknowledged_at == parse_instant(FIELDS["acknowledged_at"])
    assert (content.acknowledged_by, content.how) == (FIELDS["acknowledged_by"], How.LOCAL_API)


def _valid() -> acknowledgement.Acknowledgement:
    return acknowledgement.Acknowledgement.FromString(bytes.fromhex(VECTORS["acknowledgement"]))


def _with(**changes: Any) -> bytes:
    message = _valid()
    for name, value in changes.items():
        setattr(message, name, value)
    return message.SerializeToString()


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"\xff\xff", "blg.v1.Acknowledgement"),
        (_with(version=2), "version"),
        (_with(message_id=b"short"), "message_id"),
        (_with(acknowledged_at_ms=2**62), "acknowledged_at_ms"),
        (_with(acknowledged_by=""), "acknowledged_by"),
        (_with(acknowledged_by="x" * 129), "acknowledged_by"),
        (_with(acknowledged_by="officer\n0042"), "acknowledged_by"),
        (_with(how=0), "how"),
        (_with(how=7), "how"),
    ],
    ids=[
        "not-parsable",
        "version",
        "message-id-length",
        "instant",
        "by-empty",
        "by-too-long",
        "by-control-character",
        "how-unspecified",
        "how-unknown",
    ],
)
def test_a_malformed_acknowledgement_is_refused_naming_the_field(
    payload: bytes, detail: str
) -> None:
    now = parse_instant(VECTORS["open_at"])
    created = now
    sealed = seal(
        _sender(),
        recipient=HEADER["recipient"],
        kind=ControlKind.ACKNOWLEDGEMENT,
        case_id=uuid.UUID(HEADER["case_id"]),
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=payload),
        created_at=created,
        expires_at=from_unix_ms(HEADER["expires_at_ms"]),
    )
    opened = open_envelope(_receiver(), sealed.data, now=now, limits=EnvelopeLimits())
    with pytest.raises(EnvelopeRejected) as refused:
        read_acknowledgement(opened)
    assert refused.value.reason == "acknowledgement_malformed"
    assert detail in refused.value.detail
