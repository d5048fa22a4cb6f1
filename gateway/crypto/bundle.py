"""Offline bundles: envelopes, or their receipts, sealed into one file (docs/PROTOCOL.md 15).

When the link between two nodes is down, an operator carries a file instead. The file shows
no more than an envelope header does: who sends, who receives, which keys, the bundle id
and what kind of items it holds. Item count and sizes, and the attachment streams an
envelopes bundle carries beside its envelopes, stay inside the ciphertext.

Layout: 8-byte magic, 8-byte big-endian length, then exactly that many bytes of a
`blg.v1.SealedBundle`. The length makes a file cut short (`bundle_truncated`) tell itself
apart from one that is not a bundle at all (`bundle_malformed`). The content is encrypted
with XChaCha20-Poly1305 under a fresh 32-byte key, the serialized header as associated
data; the key travels in a crypto_box from the sender's encryption key to the
recipient's, the primitive envelopes use (section 4). The sender signs, with Ed25519, a
domain-separated input covering the header, the key box and the ciphertext exactly as
written, so nobody can alter a bundle, and nobody but its recipient can read it.

Opening refuses in a fixed order, cheap checks needing no secret first, and never decrypts
what is not authentic: size, parsing, addressing, signature, decryption, then the item
count (the only bound that lives inside the ciphertext). Replay of a bundle id is judged
by the store, not here. The bundle's signature proves the file; every item inside is still
checked on its own (an envelope as the federation endpoint checks it, a receipt as the
online sender does), so a bundle can never carry more authority than its items have.
"""

from __future__ import annotations

import enum
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils
from google.protobuf.message import DecodeError
from nacl.signing import VerifyKey

from gateway.crypto.envelope import from_unix_ms, to_unix_ms
from gateway.crypto.keys import Keyring
from gateway.wire import bundle, is_uuid7

MAGIC = b"BLGBNDL\x01"
BUNDLE_VERSION = 1
BUNDLE_SIGNATURE_TAG = b"BLG-BUNDLE-SIG-V1\x00"
PREAMBLE = struct.Struct(">8sQ")
KEY_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
AEAD_NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
AEAD_TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES
BOX_NONCE_BYTES = 24
KEY_BOX_BYTES = BOX_NONCE_BYTES + 16 + KEY_BYTES
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 1024


class BundleKind(enum.IntEnum):
    """What a bundle's items are (blg.v1.BundleKind)."""

    ENVELOPES = bundle.BUNDLE_KIND_ENVELOPES
    RECEIPTS = bundle.BUNDLE_KIND_RECEIPTS

    @property
    def label(self) -> str:
        """Lower-case name, for metrics, logs and the CLI."""
        return self.name.lower()


class BundleReason(enum.StrEnum):
    """Machine-readable reasons a bundle is refused; stable, listed in docs/PROTOCOL.md 15."""

    TOO_LARGE = "bundle_too_large"
    MALFORMED = "bundle_malformed"
    TRUNCATED = "bundle_truncated"
    MISADDRESSED = "bundle_misaddressed"
    SENDER_UNKNOWN = "bundle_sender_unknown"
    SIGNATURE_INVALID = "bundle_signature_invalid"
    # Judged by the store (bundles_received), not by open_bundle.
    REPLAYED = "bundle_replayed"


class BundleRefused(Exception):  # noqa: N818 - a verdict on a file
    """A whole bundle is refused; `code` is for machines, `message` for operators (it names
    fields and limits, never content)."""

    def __init__(self, code: BundleReason, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BundleLimits:
    """Bounds on a bundle, checked before the work they bound."""

    max_bundle_bytes: int = 256 * 1024 * 1024
    max_bundle_items: int = 10_000


@dataclass(frozen=True)
class OpenedBundle:
    """A verified, decrypted bundle addressed to this node."""

    bundle_id: uuid.UUID
    kind: BundleKind
    sender: str
    recipient: str
    sender_key_id: str
    created_at: datetime
    items: tuple[bytes, ...]
    # Envelopes bundles: (attachment id, encrypted stream) of the streams the envelopes name.
    streams: tuple[tuple[str, bytes], ...] = ()


def bundle_signing_input(header: bytes, key_box: bytes, ciphertext: bytes) -> bytes:
    """The exact bytes the sender signs: tag, then each part prefixed by its u64 length."""
    parts = [BUNDLE_SIGNATURE_TAG]
    for part in (header, key_box, ciphertext):
        parts += (struct.pack(">Q", len(part)), part)
    return b"".join(parts)


def seal_bundle(
    keyring: Keyring,
    *,
    recipient: str,
    kind: BundleKind,
    items: Sequence[bytes],
    bundle_id: uuid.UUID,
    created_at: datetime,
    streams: Sequence[tuple[str, bytes]] = (),
    random_bytes: Callable[[int], bytes] = nacl.utils.random,
) -> bytes:
    """The bundle file for recipient, signed as this node; ValueError when either side has
    no key valid at created_at or bundle_id is not a UUIDv7. streams: (attachment id,
    encrypted stream) pairs an envelopes bundle carries beside its envelopes."""
    if not is_uuid7(bundle_id):
        raise ValueError("bundle_id must be a UUIDv7")
    own = keyring.own_key_at(created_at, recipient)
    if own is None:
        raise ValueError(f"node {keyring.node_id} has no key pair valid at {created_at}")
    theirs = keyring.peer_key_at(recipient, created_at)
    if theirs is None:
        raise ValueError(f"peer {recipient} has no key pair valid at {created_at}")
    header = bundle.BundleHeader(
        version=BUNDLE_VERSION,
        sender=keyring.node_id,
        recipient=recipient,
        sender_key_id=own.key_id,
        recipient_key_id=theirs.key_id,
        bundle_id=bundle_id.bytes,
        kind=kind.value,
    ).SerializeToString()
    contents = bundle.BundleContents(
        created_at_ms=to_unix_ms(created_at),
        items=list(items),
        streams=[bundle.BundleStream(attachment_id=i, stream=data) for i, data in streams],
    )
    key = random_bytes(KEY_BYTES)
    try:
        key_box = bytes(keyring.box(own, theirs).encrypt(key, random_bytes(BOX_NONCE_BYTES)))
    except nacl.exceptions.RuntimeError:
        raise ValueError(f"peer {recipient} publishes an unusable encryption key") from None
    nonce = random_bytes(AEAD_NONCE_BYTES)
    ciphertext = nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        contents.SerializeToString(), header, nonce, key
    )
    signature = own.signing_key.sign(bundle_signing_input(header, key_box, ciphertext)).signature
    sealed = bundle.SealedBundle(
        header=header, key_box=key_box, ciphertext=ciphertext, signature=signature
    ).SerializeToString()
    return PREAMBLE.pack(MAGIC, len(sealed)) + sealed


def _refuse(code: BundleReason, message: str) -> BundleRefused:
    return BundleRefused(code, message)


def _parse(data: bytes) -> tuple[bundle.SealedBundle, bundle.BundleHeader]:
    """The sealed bundle and its header; BundleRefused(MALFORMED or TRUNCATED)."""
    if len(data) < len(MAGIC):
        if MAGIC.startswith(data):
            raise _refuse(BundleReason.TRUNCATED, "the file ends inside the magic")
        raise _refuse(BundleReason.MALFORMED, "the file does not start with the bundle magic")
    if data[: len(MAGIC)] != MAGIC:
        raise _refuse(BundleReason.MALFORMED, "the file does not start with the bundle magic")
    if len(data) < PREAMBLE.size:
        raise _refuse(BundleReason.TRUNCATED, "the file ends inside the length")
    _, length = PREAMBLE.unpack_from(data)
    body = len(data) - PREAMBLE.size
    if length > body:
        raise _refuse(BundleReason.TRUNCATED, f"the file holds {body} of {length} bytes")
    if length < body:
        raise _refuse(BundleReason.MALFORMED, "the file has bytes after the bundle")
    sealed = bundle.SealedBundle()
    raw = data[PREAMBLE.size :]
    try:
        sealed.ParseFromString(raw)
    except DecodeError:
        raise _refuse(BundleReason.MALFORMED, "not a blg.v1.SealedBundle") from None
    # One encoding only, like envelopes: fields once each, in order, nothing else.
    sealed.DiscardUnknownFields()
    if sealed.ByteSize() != length or sealed.SerializeToString() != raw:
        raise _refuse(BundleReason.MALFORMED, "the bundle is not canonically encoded")
    if not sealed.header or len(sealed.header) > MAX_HEADER_BYTES:
        raise _refuse(BundleReason.MALFORMED, f"header must be 1..{MAX_HEADER_BYTES} bytes")
    if len(sealed.key_box) != KEY_BOX_BYTES:
        raise _refuse(BundleReason.MALFORMED, f"key_box must be {KEY_BOX_BYTES} bytes")
    if len(sealed.signature) != SIGNATURE_BYTES:
        raise _refuse(BundleReason.MALFORMED, f"signature must be {SIGNATURE_BYTES} bytes")
    if len(sealed.ciphertext) < AEAD_NONCE_BYTES + AEAD_TAG_BYTES:
        raise _refuse(BundleReason.MALFORMED, "ciphertext too short")
    header = bundle.BundleHeader()
    try:
        header.ParseFromString(sealed.header)
    except DecodeError:
        raise _refuse(BundleReason.MALFORMED, "header is not a blg.v1.BundleHeader") from None
    if header.version != BUNDLE_VERSION:
        raise _refuse(BundleReason.MALFORMED, f"version: expected {BUNDLE_VERSION}")
    for name in ("sender", "recipient", "sender_key_id", "recipient_key_id"):
        if not getattr(header, name):
            raise _refuse(BundleReason.MALFORMED, f"{name}: required")
    if len(header.bundle_id) != 16 or not is_uuid7(uuid.UUID(bytes=header.bundle_id)):
        raise _refuse(BundleReason.MALFORMED, "bundle_id: expected a 16-byte UUIDv7")
    if header.kind not in {kind.value for kind in BundleKind}:
        raise _refuse(BundleReason.MALFORMED, f"kind: unknown value {header.kind}")
    return sealed, header


def read_bundle_id(data: bytes) -> uuid.UUID:
    """The id in a bundle's header, unverified (for a caller that only names the file)."""
    return uuid.UUID(bytes=_parse(data)[1].bundle_id)


def open_bundle(keyring: Keyring, data: bytes, *, limits: BundleLimits) -> OpenedBundle:
    """Verify and decrypt a bundle addressed to this node; raises BundleRefused."""
    if len(data) > limits.max_bundle_bytes:
        raise _refuse(
            BundleReason.TOO_LARGE,
            f"the file is {len(data)} bytes; limits.max_bundle_bytes is {limits.max_bundle_bytes}",
        )
    sealed, header = _parse(data)
    if header.recipient != keyring.node_id:
        raise _refuse(BundleReason.MISADDRESSED, f"addressed to {header.recipient!r}, not here")
    own = keyring.own_key(header.recipient_key_id)
    if own is None:
        raise _refuse(
            BundleReason.MISADDRESSED, f"recipient key {header.recipient_key_id!r} is not ours"
        )
    if not keyring.is_peer(header.sender):
        raise _refuse(BundleReason.SENDER_UNKNOWN, f"{header.sender!r} is not a peer")
    theirs = keyring.peer_key(header.sender, header.sender_key_id)
    if theirs is None:
        raise _refuse(
            BundleReason.SENDER_UNKNOWN, f"sender key {header.sender_key_id!r} is not known"
        )
    signed = bundle_signing_input(sealed.header, sealed.key_box, sealed.ciphertext)
    try:
        VerifyKey(theirs.signing_public).verify(signed, sealed.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError):
        raise _refuse(
            BundleReason.SIGNATURE_INVALID, "signature does not verify under the sender key"
        ) from None
    nonce = sealed.ciphertext[:AEAD_NONCE_BYTES]
    try:
        key = keyring.box(own, theirs).decrypt(sealed.key_box)
        plaintext = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed.ciphertext[AEAD_NONCE_BYTES:], sealed.header, nonce, key
        )
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError):
        raise _refuse(
            BundleReason.MALFORMED, "content does not decrypt with the named keys"
        ) from None
    contents = bundle.BundleContents()
    try:
        contents.ParseFromString(plaintext)
    except DecodeError:
        raise _refuse(BundleReason.MALFORMED, "content is not a blg.v1.BundleContents") from None
    if max(len(contents.items), len(contents.streams)) > limits.max_bundle_items:
        raise _refuse(
            BundleReason.TOO_LARGE,
            f"the bundle holds more than limits.max_bundle_items ({limits.max_bundle_items}) "
            "items or streams",
        )
    try:
        created_at = from_unix_ms(contents.created_at_ms)
    except (OverflowError, OSError, ValueError):
        raise _refuse(BundleReason.MALFORMED, "created_at_ms: out of range") from None
    return OpenedBundle(
        bundle_id=uuid.UUID(bytes=header.bundle_id),
        kind=BundleKind(header.kind),
        sender=header.sender,
        recipient=header.recipient,
        sender_key_id=header.sender_key_id,
        created_at=created_at,
        items=tuple(contents.items),
        streams=tuple((stream.attachment_id, stream.stream) for stream in contents.streams),
    )
