"""tests/vectors/bundle-v1.json, recomputed from the values in the file with libsodium directly
(docs/PROTOCOL.md section 15): the header and contents from their fields, the key box, the
AEAD ciphertext, the signing input, the signature and the file; then sealed again by
gateway.crypto.bundle with the same randoms, and opened by the recipient."""

from __future__ import annotations

import struct
import uuid
from typing import Any

import nacl.bindings as sodium
import pytest
from nacl.public import Box, PrivateKey
from nacl.signing import SigningKey

from gateway.crypto.bundle import BundleKind, BundleLimits, open_bundle, seal_bundle
from gateway.crypto.envelope import from_unix_ms
from gateway.wire import bundle
from tests.crypto.vector_support import (
    ENVELOPE_VECTORS,
    check_envelope_pairs,
    keyring,
    load,
    pair,
    validity,
)

VECTORS = load("bundle-v1.json")
TAG = b"BLG-BUNDLE-SIG-V1\x00"
# Which way each bundle goes: (sender's keys entry, recipient's keys entry).
DIRECTIONS = {"envelopes": ("sender", "recipient"), "receipts": ("recipient", "sender")}


def _secrets(name: str) -> dict[str, str]:
    keys: dict[str, str] = VECTORS["keys"][name]
    return keys


def _vector(name: str) -> dict[str, Any]:
    vector: dict[str, Any] = VECTORS[name]
    return vector


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_every_byte_follows_from_the_fields(name: str) -> None:
    check_envelope_pairs(VECTORS)
    vector = _vector(name)
    fields, contents_fields = vector["header_fields"], vector["contents_fields"]
    sender, recipient = (_secrets(n) for n in DIRECTIONS[name])
    header = bundle.BundleHeader(
        version=fields["version"],
        sender=fields["sender"],
        recipient=fields["recipient"],
        sender_key_id=fields["sender_key_id"],
        recipient_key_id=fields["recipient_key_id"],
        bundle_id=uuid.UUID(fields["bundle_id"]).bytes,
        kind=fields["kind_value"],
    ).SerializeToString()
    assert header.hex() == vector["header"]
    assert bundle.BundleKind.Name(fields["kind_value"]) == fields["kind"]
    contents = bundle.BundleContents(
        created_at_ms=contents_fields["created_at_ms"],
        items=[bytes.fromhex(item) for item in contents_fields["items"]],
    ).SerializeToString()
    assert contents.hex() == vector["contents"]
    key = bytes.fromhex(vector["content_key"])
    box = Box(
        PrivateKey(bytes.fromhex(sender["x25519_secret"])),
        PrivateKey(bytes.fromhex(recipient["x25519_secret"])).public_key,
    )
    key_box = bytes(box.encrypt(key, bytes.fromhex(vector["key_box_nonce"])))
    assert key_box.hex() == vector["key_box"]
    nonce = bytes.fromhex(vector["aead_nonce"])
    ciphertext = nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        contents, header, nonce, key
    )
    assert ciphertext.hex() == vector["ciphertext"]
    assert len(ciphertext) - 24 == vector["aead_ciphertext_length"]
    signing_input = TAG + b"".join(
        struct.pack(">Q", len(part)) + part for part in (header, key_box, ciphertext)
    )
    assert signing_input.hex() == vector["signing_input"]
    signature = SigningKey(bytes.fromhex(sender["ed25519_seed"])).sign(signing_input).signature
    assert signature.hex() == vector["signature"]
    sealed = bundle.SealedBundle(
        header=header, key_box=key_box, ciphertext=ciphertext, signature=signature
    ).SerializeToString()
    assert len(sealed) == vector["sealed_bundle_length"]
    data = bytes.fromhex(VECTORS["magic"]) + struct.pack(">Q", len(sealed)) + sealed
    assert data.hex() == vector["bundle"]


@pytest.mark.parametrize("name", sorted(DIRECTIONS))
def test_the_gateway_seals_and_opens_the_same_bundle(name: str) -> None:
    vector = _vector(name)
    fields, contents_fields = vector["header_fields"], vector["contents_fields"]
    sender_name, recipient_name = DIRECTIONS[name]

    def own(name: str) -> Any:
        return pair(_secrets(name), validity(ENVELOPE_VECTORS["keys"][name]))

    sender = keyring(fields["sender"], own(sender_name), fields["recipient"], own(recipient_name))
    recipient = keyring(
        fields["recipient"], own(recipient_name), fields["sender"], own(sender_name)
    )
    randoms = [bytes.fromhex(vector[key]) for key in ("content_key", "key_box_nonce", "aead_nonce")]
    items = [bytes.fromhex(item) for item in contents_fields["items"]]
    data = seal_bundle(
        sender,
        recipient=fields["recipient"],
        kind=BundleKind(fields["kind_value"]),
        items=items,
        bundle_id=uuid.UUID(fields["bundle_id"]),
        created_at=from_unix_ms(contents_fields["created_at_ms"]),
        random_bytes=lambda n: randoms.pop(0)[:n],
    )
    assert data.hex() == vector["bundle"]
    opened = open_bundle(recipient, data, limits=BundleLimits())
    assert list(opened.items) == items
    assert str(opened.bundle_id) == fields["bundle_id"]
