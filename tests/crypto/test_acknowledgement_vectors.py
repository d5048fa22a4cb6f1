"""tests/vectors/acknowledgement-v1.json, recomputed: the Acknowledgement bytes from its
fields, the sealed envelope from the fixed keys, nonce and message id, and what a receiver
reads out of it (docs/PROTOCOL.md section 13); then the checks of 13.3 on broken payloads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from gateway.config.values import parse_instant
from gateway.crypto import EnvelopeLimits, EnvelopeRejected, Keyring, open_envelope, seal
from gateway.crypto.envelope import from_unix_ms
from gateway.federation.acknowledgements import How, read_acknowledgement
from gateway.wire import ControlKind, acknowledgement, envelope, uuid7
from tests.crypto.vector_support import (
    ENVELOPE_VECTORS,
    check_message,
    check_reseals,
    keyring,
    load,
    open_vector,
    pair,
)

VECTORS = load("acknowledgement-v1.json")
FIELDS = VECTORS["acknowledgement_fields"]
HEADER = VECTORS["header_fields"]
KEYS = VECTORS["keys"]


def _sender() -> Keyring:
    return keyring(
        HEADER["sender"], pair(KEYS["sender"]), HEADER["recipient"], pair(KEYS["recipient"])
    )


def _receiver() -> Keyring:
    return keyring(
        HEADER["recipient"], pair(KEYS["recipient"]), HEADER["sender"], pair(KEYS["sender"])
    )


def test_the_acknowledgement_bytes_follow_from_its_fields() -> None:
    built = acknowledgement.Acknowledgement(
        version=FIELDS["version"],
        message_id=uuid.UUID(FIELDS["message_id"]).bytes,
        acknowledged_at_ms=FIELDS["acknowledged_at_ms"],
        acknowledged_by=FIELDS["acknowledged_by"],
        how=FIELDS["how_value"],
    )
    check_message(VECTORS, "acknowledgement", built.SerializeToString())
    assert acknowledgement.AcknowledgedHow.Name(built.how) == FIELDS["how"]
    assert from_unix_ms(FIELDS["acknowledged_at_ms"]) == parse_instant(FIELDS["acknowledged_at"])


def test_it_acknowledges_the_envelope_vector_in_its_case() -> None:
    original = ENVELOPE_VECTORS["envelope"]["header_fields"]
    assert FIELDS["message_id"] == original["message_id"]
    assert HEADER["case_id"] == original["case_id"]
    assert (HEADER["sender"], HEADER["recipient"]) == (original["recipient"], original["sender"])


def test_the_same_keys_nonce_and_id_seal_the_same_envelope() -> None:
    check_reseals(VECTORS, _sender(), ControlKind.ACKNOWLEDGEMENT)


def test_a_receiver_reads_the_acknowledgement_out_of_it() -> None:
    opened = open_vector(VECTORS, _receiver(), ControlKind.ACKNOWLEDGEMENT)
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
