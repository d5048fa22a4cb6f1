"""tests/vectors/cancellation-confirmation-v1.json, recomputed: the CancellationConfirmation
bytes from its fields, the sealed envelope from the fixed keys, nonce and ids, and what the
cancellation's sender reads out of it (docs/PROTOCOL.md section 14)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

from gateway.config.values import parse_instant
from gateway.crypto import EnvelopeLimits, Keyring, KeyValidity, OwnKeyPair, open_envelope, seal
from gateway.crypto.envelope import from_unix_ms
from gateway.federation.cancellation import read_confirmation
from gateway.wire import ControlKind, cancellation, envelope

VECTORS: dict[str, Any] = json.loads(
    (
        Path(__file__).resolve().parents[1] / "vectors" / "cancellation-confirmation-v1.json"
    ).read_text()
)
ENVELOPE_VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "envelope-v1.json").read_text()
)
FIELDS = VECTORS["confirmation_fields"]
HEADER = VECTORS["header_fields"]


def _pair(name: str) -> OwnKeyPair:
    key = VECTORS["keys"][name]
    year = ENVELOPE_VECTORS["keys"][name]
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        KeyValidity(parse_instant(year["valid_from"]), parse_instant(year["valid_until"])),
    )


def test_the_confirmation_bytes_follow_from_its_fields() -> None:
    built = cancellation.CancellationConfirmation(
        version=FIELDS["version"],
        cancellation_message_id=uuid.UUID(FIELDS["cancellation_message_id"]).bytes,
        case_id=uuid.UUID(FIELDS["case_id"]).bytes,
        confirmed_at_ms=FIELDS["confirmed_at_ms"],
        withdrawn_deliveries=FIELDS["withdrawn_deliveries"],
        case_state=FIELDS["case_state_value"],
    )
    assert built.SerializeToString().hex() == VECTORS["confirmation"]
    payload = envelope.SealedPayload(message=built.SerializeToString())
    assert payload.SerializeToString().hex() == VECTORS["payload"]
    assert cancellation.CaseState.Name(built.case_state) == FIELDS["case_state"]
    assert from_unix_ms(FIELDS["confirmed_at_ms"]) == parse_instant(FIELDS["confirmed_at"])


def test_the_same_keys_nonce_and_id_seal_the_same_envelope() -> None:
    # The pairs are envelope-v1.json's own; here its recipient confirms to its sender.
    for name in ("sender", "recipient"):
        assert (
            VECTORS["keys"][name]["ed25519_seed"] == ENVELOPE_VECTORS["keys"][name]["ed25519_seed"]
        )
    confirming = Keyring(
        HEADER["sender"], [_pair("recipient")], {HEADER["recipient"]: [_pair("sender").public()]}
    )
    nonce = bytes.fromhex(VECTORS["nonce"])
    sealed = seal(
        confirming,
        recipient=HEADER["recipient"],
        kind=ControlKind.CANCELLATION_CONFIRMATION,
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
    assert (header.kind, header.case_id) == (
        HEADER["kind_value"],
        uuid.UUID(HEADER["case_id"]).bytes,
    )
    assert envelope.MessageKind.Name(header.kind) == HEADER["kind"]


def test_the_cancellations_sender_reads_what_was_confirmed() -> None:
    sender = Keyring(
        HEADER["recipient"], [_pair("sender")], {HEADER["sender"]: [_pair("recipient").public()]}
    )
    opened = open_envelope(
        sender,
        bytes.fromhex(VECTORS["envelope"]),
        now=parse_instant(VECTORS["open_at"]),
        limits=EnvelopeLimits(),
    )
    assert opened.header.kind is ControlKind.CANCELLATION_CONFIRMATION
    confirmed = read_confirmation(opened)
    assert (
        str(confirmed.cancellation_message_id),
        str(confirmed.case_id),
        confirmed.confirmed_at,
        confirmed.withdrawn,
    ) == (
        FIELDS["cancellation_message_id"],
        FIELDS["case_id"],
        parse_instant(FIELDS["confirmed_at"]),
        FIELDS["withdrawn_deliveries"],
    )
