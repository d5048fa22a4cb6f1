"""The committed test vectors, recomputed from their inputs two ways: with the raw primitives
exactly as docs/PROTOCOL.md describes them, and with the gateway's own code."""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey

from gateway.crypto import (
    EnvelopeLimits,
    EnvelopeRejected,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    decrypt_attachment,
    open_envelope,
    seal,
    sign_receipt,
    verify_receipt,
)
from gateway.wire import Kind, envelope

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "envelope-v1.json").read_text()
)
ENV = VECTORS["envelope"]
# docs/PROTOCOL.md section 1: instants written as text are RFC 3339 in UTC with `Z`, at most
# millisecond precision, so that any reader (and a YAML 1.1 or 1.2 parser) sees one instant.
INSTANT_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z")


def _own(name: str) -> OwnKeyPair:
    key = VECTORS["keys"][name]
    validity = KeyValidity(
        datetime.fromisoformat(key["valid_from"]), datetime.fromisoformat(key["valid_until"])
    )
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        validity,
    )


SENDER, RECIPIENT = _own("sender"), _own("recipient")
SENDER_RING = Keyring("vn-gialai-police", [SENDER], {"kh-ratanakiri-police": [RECIPIENT.public()]})
RECIPIENT_RING = Keyring(
    "kh-ratanakiri-police", [RECIPIENT], {"vn-gialai-police": [SENDER.public()]}
)


@pytest.mark.parametrize(
    "text",
    [
        VECTORS["keys"]["sender"]["valid_from"],
        VECTORS["keys"]["sender"]["valid_until"],
        VECTORS["keys"]["recipient"]["valid_from"],
        VECTORS["keys"]["recipient"]["valid_until"],
        ENV["open_at"],
        *(vector["open_at"] for vector in VECTORS["rejections"] if "open_at" in vector),
    ],
)
def test_instants_are_written_in_the_documented_form(text: str) -> None:
    assert INSTANT_TEXT.fullmatch(text)


def test_public_keys_derive_from_the_secrets() -> None:
    for name, key in (("sender", SENDER), ("recipient", RECIPIENT)):
        assert key.public().signing_public.hex() == VECTORS["keys"][name]["ed25519_public"]
        assert key.public().encryption_public.hex() == VECTORS["keys"][name]["x25519_public"]


def test_raw_primitives_reproduce_the_envelope_bytes() -> None:
    fields = dict(ENV["header_fields"])
    fields["message_id"] = uuid.UUID(fields["message_id"]).bytes
    fields["case_id"] = uuid.UUID(fields["case_id"]).bytes
    header = envelope.EnvelopeHeader(**fields).SerializeToString()
    assert header.hex() == ENV["header"]

    secret = PrivateKey(bytes.fromhex(VECTORS["keys"]["sender"]["x25519_secret"]))
    peer = PublicKey(bytes.fromhex(VECTORS["keys"]["recipient"]["x25519_public"]))
    ciphertext = bytes(
        Box(secret, peer).encrypt(bytes.fromhex(ENV["payload"]), bytes.fromhex(ENV["nonce"]))
    )
    assert ciphertext.hex() == ENV["ciphertext"]

    signing_input = (
        b"BLG-ENVELOPE-SIG-V1\x00"
        + struct.pack(">Q", len(header))
        + header
        + struct.pack(">Q", len(ciphertext))
        + ciphertext
    )
    assert signing_input.hex() == ENV["signing_input"]
    seed = bytes.fromhex(VECTORS["keys"]["sender"]["ed25519_seed"])
    signature = SigningKey(seed).sign(signing_input).signature
    assert signature.hex() == ENV["signature"]

    data = envelope.Envelope(
        header=header, ciphertext=ciphertext, signature=signature
    ).SerializeToString()
    assert data.hex() == ENV["envelope"]
    assert hashlib.sha256(data).hexdigest() == ENV["envelope_sha256"]


def test_the_gateway_seals_the_vector_bytes_and_opens_them() -> None:
    fields = ENV["header_fields"]
    created = datetime.fromisoformat(ENV["open_at"]) - timedelta(minutes=1)
    nonce = bytes.fromhex(ENV["nonce"])
    sealed = seal(
        SENDER_RING,
        recipient="kh-ratanakiri-police",
        kind=Kind.HOTLINE_ALERT,
        case_id=uuid.UUID(fields["case_id"]),
        message_id=uuid.UUID(fields["message_id"]),
        payload=envelope.SealedPayload.FromString(bytes.fromhex(ENV["payload"])),
        created_at=created,
        expires_at=created
        + timedelta(milliseconds=fields["expires_at_ms"] - fields["created_at_ms"]),
        random_bytes=lambda n: nonce[:n],
    )
    assert sealed.data.hex() == ENV["envelope"]
    opened = open_envelope(
        RECIPIENT_RING,
        bytes.fromhex(ENV["envelope"]),
        now=datetime.fromisoformat(ENV["open_at"]),
        limits=EnvelopeLimits(),
    )
    assert opened.payload.SerializeToString().hex() == ENV["payload"]


def test_the_receipt_vector_verifies_and_is_reproduced() -> None:
    vector = VECTORS["receipt"]
    received = datetime.fromisoformat("1970-01-01T00:00:00+00:00") + timedelta(
        milliseconds=vector["received_at_ms"]
    )
    receipt = sign_receipt(
        RECIPIENT_RING,
        envelope_data=bytes.fromhex(ENV["envelope"]),
        message_id=uuid.UUID(ENV["header_fields"]["message_id"]),
        sender="vn-gialai-police",
        received_at=received,
    )
    assert receipt.hex() == vector["receipt"]
    body = bytes.fromhex(vector["body"])
    SigningKey(bytes.fromhex(VECTORS["keys"]["recipient"]["ed25519_seed"])).verify_key.verify(
        b"BLG-RECEIPT-SIG-V1\x00" + body, bytes.fromhex(vector["signature"])
    )
    facts = verify_receipt(
        receipt,
        receiver="kh-ratanakiri-police",
        receiver_keys=[RECIPIENT.public()],
        envelope_data=bytes.fromhex(ENV["envelope"]),
    )
    assert facts.accepted


def test_the_attachment_vector_decrypts() -> None:
    vector = VECTORS["attachment"]
    stream = bytes.fromhex(vector["stream"])
    key = envelope.AttachmentKey(
        attachment_id=vector["attachment_id"],
        key=bytes.fromhex(vector["key"]),
        ciphertext_sha256=hashlib.sha256(stream).digest(),
        plaintext_size=len(bytes.fromhex(vector["plaintext"])),
    )
    assert key.ciphertext_sha256.hex() == vector["ciphertext_sha256"]
    out = io.BytesIO()
    decrypt_attachment(io.BytesIO(stream), out, key)
    assert out.getvalue().hex() == vector["plaintext"]
    assert struct.unpack(">8sI", stream[:12]) == (b"BLGATT\x00\x01", vector["chunk_bytes"])


@pytest.mark.parametrize("vector", VECTORS["rejections"], ids=lambda v: v["why"])
def test_rejection_vectors_give_their_reason(vector: dict[str, str]) -> None:
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(
            RECIPIENT_RING,
            bytes.fromhex(vector["envelope"]),
            now=datetime.fromisoformat(vector.get("open_at", ENV["open_at"])),
            limits=EnvelopeLimits(),
        )
    assert caught.value.reason == vector["reason"]
