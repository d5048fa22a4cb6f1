"""Sealing and opening envelopes.

Sealing encrypts the payload for the recipient with crypto_box (X25519 + XSalsa20-Poly1305,
fresh random 24-byte nonce) and signs, with the sender's Ed25519 key, a domain-separated
input that covers the serialized header and the ciphertext exactly as transmitted. The box
alone already authenticates the sender to the recipient; the signature adds what the box
cannot: proof to a third party, and verification before any decryption work.

Opening checks, in this order, and stops at the first failure with its own reason code:
size limits, header parses, recipient is me, sender is a known peer, both key ids known and
valid at `created`, signature, decryption, payload parses, not expired (and not from the
future beyond the allowed clock skew). The order puts cheap checks that need no secret
before expensive ones, and never decrypts what is not authentic; the time checks come last
only because the protocol fixes this order of reason codes. Details in error messages
name fields and codes, never payload content.
"""

from __future__ import annotations

import enum
import hashlib
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nacl.exceptions
import nacl.utils
from google.protobuf.message import DecodeError
from nacl.signing import VerifyKey

from gateway.crypto.keys import Keyring, OwnKeyPair, PublicKeyPair
from gateway.wire import ControlKind, Kind, envelope, envelope_kind_from_wire, is_uuid7

PROTOCOL_VERSION = 1
ENVELOPE_SIGNATURE_TAG = b"BLG-ENVELOPE-SIG-V1\x00"
NONCE_BYTES = 24
SIGNATURE_BYTES = 64
BOX_OVERHEAD = 16
MAX_HEADER_BYTES = 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RejectReason(enum.StrEnum):
    """Machine-readable reasons an envelope is refused; stable, listed in docs/PROTOCOL.md."""

    ENVELOPE_TOO_LARGE = "envelope_too_large"
    HEADER_MALFORMED = "header_malformed"
    WRONG_RECIPIENT = "wrong_recipient"
    UNKNOWN_SENDER = "unknown_sender"
    UNKNOWN_KEY = "unknown_key"
    KEY_NOT_VALID = "key_not_valid"
    BAD_SIGNATURE = "bad_signature"
    DECRYPTION_FAILED = "decryption_failed"
    PAYLOAD_MALFORMED = "payload_malformed"
    MESSAGE_EXPIRED = "message_expired"
    CREATED_IN_FUTURE = "created_in_future"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    # Checked by the receiving gateway once the payload is open, not by open_envelope.
    PAYLOAD_MISMATCH = "payload_mismatch"
    KIND_NOT_ALLOWED = "kind_not_allowed"
    SENDER_MISMATCH = "sender_mismatch"
    DUPLICATE_MESSAGE_ID = "duplicate_message_id"
    # Key announcements (docs/PROTOCOL.md section 12), checked by the receiving gateway.
    KEY_NOT_CURRENT = "key_not_current"
    ANNOUNCEMENT_MALFORMED = "announcement_malformed"
    KEY_CONFLICT = "key_conflict"
    # Attachments (docs/PROTOCOL.md 7.4), checked by the receiving gateway after opening:
    # a stream not (yet) held whole is retryable, one that is not the key's is final.
    ATTACHMENT_INCOMPLETE = "attachment_incomplete"
    ATTACHMENT_MISMATCH = "attachment_mismatch"
    # Acknowledgements (docs/PROTOCOL.md section 13), checked by the receiving gateway.
    ACKNOWLEDGEMENT_MALFORMED = "acknowledgement_malformed"
    ACKNOWLEDGEMENT_UNKNOWN_MESSAGE = "acknowledgement_unknown_message"
    # Cancellation confirmations (docs/PROTOCOL.md section 14), checked by the receiving gateway.
    CONFIRMATION_MALFORMED = "confirmation_malformed"
    CANCELLATION_UNKNOWN = "cancellation_unknown"
    # Audit checkpoints (docs/PROTOCOL.md section 16), checked by the receiving gateway.
    CHECKPOINT_MALFORMED = "checkpoint_malformed"
    COUNTERSIGNATURE_MALFORMED = "countersignature_malformed"
    CHECKPOINT_UNKNOWN = "checkpoint_unknown"


class EnvelopeRejected(Exception):  # noqa: N818 - a verdict, not a failure of ours
    """An envelope failed a check; reason is for machines, detail for operators."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class EnvelopeLimits:
    """Bounds enforced before any cryptographic work."""

    max_envelope_bytes: int = 1 << 20
    max_clock_skew: timedelta = timedelta(minutes=5)
    # Bounds how far back a sender can date a message, and so how long after a key's
    # validity ends a stolen key stays usable by backdating.
    max_lifetime: timedelta = timedelta(days=30)


MAX_LIFETIME = EnvelopeLimits.max_lifetime


@dataclass(frozen=True)
class EnvelopeHeader:
    """The authenticated, unencrypted part of an envelope, as typed values."""

    sender: str
    recipient: str
    message_id: uuid.UUID
    kind: Kind | ControlKind
    case_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    sender_key_id: str
    recipient_key_id: str

    def to_wire(self) -> envelope.EnvelopeHeader:
        """The protobuf form."""
        return envelope.EnvelopeHeader(
            version=PROTOCOL_VERSION,
            sender=self.sender,
            recipient=self.recipient,
            message_id=self.message_id.bytes,
            kind=self.kind.wire,
            case_id=self.case_id.bytes,
            created_at_ms=to_unix_ms(self.created_at),
            expires_at_ms=to_unix_ms(self.expires_at),
            sender_key_id=self.sender_key_id,
            recipient_key_id=self.recipient_key_id,
        )


@dataclass(frozen=True)
class SealedEnvelope:
    """A sealed envelope ready to send, with what the outbox indexes it by."""

    header: EnvelopeHeader
    data: bytes

    @property
    def sha256(self) -> bytes:
        """SHA-256 of the envelope bytes, as receipts name it."""
        return hashlib.sha256(self.data).digest()


@dataclass(frozen=True)
class OpenedEnvelope:
    """A verified, decrypted envelope."""

    header: EnvelopeHeader
    payload: envelope.SealedPayload
    envelope_sha256: bytes
    sender_key: PublicKeyPair


def to_unix_ms(instant: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime."""
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def from_unix_ms(ms: int) -> datetime:
    """The aware UTC datetime of a millisecond timestamp."""
    return _EPOCH + timedelta(milliseconds=ms)


def is_representable_ms(ms: int) -> bool:
    """Whether `ms` lies in docs/PROTOCOL.md section 1's range (0001-01-01 to 9999-12-31
    23:59:59.999 UTC), which from_unix_ms can convert: control payloads check it first."""
    return -62_135_596_800_000 <= ms <= 253_402_300_799_999


def envelope_signing_input(header: bytes, ciphertext: bytes) -> bytes:
    """The exact bytes the sender signs: tag, then each part prefixed by its length."""
    return b"".join(
        (
            ENVELOPE_SIGNATURE_TAG,
            struct.pack(">Q", len(header)),
            header,
            struct.pack(">Q", len(ciphertext)),
            ciphertext,
        )
    )


def _header(
    keyring: Keyring,
    *,
    recipient: str,
    message_id: uuid.UUID,
    kind: Kind | ControlKind,
    case_id: uuid.UUID,
    created_at: datetime,
    expires_at: datetime,
) -> tuple[OwnKeyPair, PublicKeyPair, EnvelopeHeader]:
    """The key pairs valid at created_at and the header naming them; ValueError if either side
    has none (so seal() and sealed_length() refuse alike)."""
    own = keyring.own_key_at(created_at, recipient)
    if own is None:
        raise ValueError(f"node {keyring.node_id} has no key pair valid at {created_at}")
    theirs = keyring.peer_key_at(recipient, created_at)
    if theirs is None:
        raise ValueError(f"peer {recipient} has no key pair valid at {created_at}")
    header = EnvelopeHeader(
        sender=keyring.node_id,
        recipient=recipient,
        message_id=message_id,
        kind=kind,
        case_id=case_id,
        created_at=created_at,
        expires_at=expires_at,
        sender_key_id=own.key_id,
        recipient_key_id=theirs.key_id,
    )
    return own, theirs, header


def seal(
    keyring: Keyring,
    *,
    recipient: str,
    kind: Kind | ControlKind,
    case_id: uuid.UUID,
    message_id: uuid.UUID,
    payload: envelope.SealedPayload,
    created_at: datetime,
    expires_at: datetime,
    random_bytes: Callable[[int], bytes] = nacl.utils.random,
) -> SealedEnvelope:
    """Encrypt payload for recipient and sign as this node.

    Raises ValueError when this node or the recipient has no key valid at created_at, or the
    header would be invalid; callers check peers and policy before sealing.
    """
    own, theirs, header = _header(
        keyring,
        recipient=recipient,
        message_id=message_id,
        kind=kind,
        case_id=case_id,
        created_at=created_at,
        expires_at=expires_at,
    )
    if not is_uuid7(message_id):
        raise ValueError("message_id must be a UUIDv7")
    if expires_at <= created_at:
        raise ValueError("expires_at must be after created_at")
    header_bytes = header.to_wire().SerializeToString()
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError(f"header is {len(header_bytes)} bytes; the limit is {MAX_HEADER_BYTES}")
    if expires_at - created_at > MAX_LIFETIME:
        raise ValueError(f"a message may live at most {MAX_LIFETIME}; receivers refuse longer")
    try:
        box = keyring.box(own, theirs)
    except nacl.exceptions.RuntimeError:
        raise ValueError(f"peer {recipient} publishes an unusable encryption key") from None
    ciphertext = bytes(box.encrypt(payload.SerializeToString(), random_bytes(NONCE_BYTES)))
    signature = own.signing_key.sign(envelope_signing_input(header_bytes, ciphertext)).signature
    data = envelope.Envelope(
        header=header_bytes, ciphertext=ciphertext, signature=signature
    ).SerializeToString()
    return SealedEnvelope(header=header, data=data)


def _field_length(length: int) -> int:
    """Bytes a non-empty length-delimited protobuf field (number < 16) of length bytes takes."""
    varint = 1
    while length >= 1 << (7 * varint):
        varint += 1
    return 1 + varint + length if length else 0


def sealed_length(
    keyring: Keyring,
    *,
    recipient: str,
    kind: Kind,
    case_id: uuid.UUID,
    created_at: datetime,
    expires_at: datetime,
    plaintext_length: int,
) -> int:
    """The exact length seal() would give for a payload of plaintext_length bytes.

    No cryptographic work: lets a sender refuse a message the recipient's size limit would
    refuse, before anything is queued. Raises ValueError where seal() would."""
    # Ids are fixed-length bytes fields, so a zero id takes the room a real one does.
    _own, _theirs, header = _header(
        keyring,
        recipient=recipient,
        message_id=uuid.UUID(int=0),
        kind=kind,
        case_id=case_id,
        created_at=created_at,
        expires_at=expires_at,
    )
    header_length = header.to_wire().ByteSize()
    return (
        _field_length(header_length)
        + _field_length(NONCE_BYTES + BOX_OVERHEAD + plaintext_length)
        + _field_length(SIGNATURE_BYTES)
    )


def parse_header(data: bytes) -> tuple[envelope.Envelope, EnvelopeHeader]:
    """Parse an envelope and its header without any cryptographic check.

    Raises EnvelopeRejected(HEADER_MALFORMED). Used by open_envelope, and by receivers that
    need the sender and message id of an envelope they are about to refuse.
    """
    wire = envelope.Envelope()
    try:
        wire.ParseFromString(data)
    except DecodeError:
        raise EnvelopeRejected(
            RejectReason.HEADER_MALFORMED, "envelope is not a blg.v1.Envelope"
        ) from None
    # Receipts name the envelope by its hash, so only one encoding of it may be accepted:
    # fields 1, 2, 3 once each, in order, and nothing else.
    wire.DiscardUnknownFields()
    if wire.SerializeToString() != data:
        raise EnvelopeRejected(RejectReason.HEADER_MALFORMED, "envelope is not canonically encoded")
    if not wire.header or len(wire.header) > MAX_HEADER_BYTES:
        raise EnvelopeRejected(
            RejectReason.HEADER_MALFORMED, f"header must be 1..{MAX_HEADER_BYTES} bytes"
        )
    raw = envelope.EnvelopeHeader()
    try:
        raw.ParseFromString(wire.header)
    except DecodeError:
        raise EnvelopeRejected(
            RejectReason.HEADER_MALFORMED, "header is not a blg.v1.EnvelopeHeader"
        ) from None
    return wire, _typed_header(raw)


def _typed_header(raw: envelope.EnvelopeHeader) -> EnvelopeHeader:
    def malformed(detail: str) -> EnvelopeRejected:
        return EnvelopeRejected(RejectReason.HEADER_MALFORMED, detail)

    if raw.version != PROTOCOL_VERSION:
        raise malformed(f"version: expected {PROTOCOL_VERSION}, got {raw.version}")
    for name in ("sender", "recipient", "sender_key_id", "recipient_key_id"):
        if not getattr(raw, name):
            raise malformed(f"{name}: required")
    if len(raw.message_id) != 16 or not is_uuid7(uuid.UUID(bytes=raw.message_id)):
        raise malformed("message_id: expected a 16-byte UUIDv7")
    if len(raw.case_id) != 16:
        raise malformed("case_id: expected a 16-byte UUID")
    try:
        kind = envelope_kind_from_wire(raw.kind)
    except ValueError:
        raise malformed(f"kind: unknown value {raw.kind}") from None
    if raw.created_at_ms <= 0 or raw.expires_at_ms <= raw.created_at_ms:
        raise malformed("expires_at_ms: expected a positive instant after created_at_ms")
    try:
        created_at = from_unix_ms(raw.created_at_ms)
        expires_at = from_unix_ms(raw.expires_at_ms)
    except (OverflowError, OSError, ValueError):
        raise malformed("created_at_ms/expires_at_ms: out of range") from None
    return EnvelopeHeader(
        sender=raw.sender,
        recipient=raw.recipient,
        message_id=uuid.UUID(bytes=raw.message_id),
        kind=kind,
        case_id=uuid.UUID(bytes=raw.case_id),
        created_at=created_at,
        expires_at=expires_at,
        sender_key_id=raw.sender_key_id,
        recipient_key_id=raw.recipient_key_id,
    )


def open_envelope(
    keyring: Keyring, data: bytes, *, now: datetime, limits: EnvelopeLimits
) -> OpenedEnvelope:
    """Verify and decrypt an envelope addressed to this node; raises EnvelopeRejected."""
    if len(data) > limits.max_envelope_bytes:
        raise EnvelopeRejected(
            RejectReason.ENVELOPE_TOO_LARGE,
            f"envelope is {len(data)} bytes; the limit is {limits.max_envelope_bytes}",
        )
    return open_parsed(keyring, data, parse_header(data), now=now, limits=limits)


def open_parsed(
    keyring: Keyring,
    data: bytes,
    parsed: tuple[envelope.Envelope, EnvelopeHeader],
    *,
    now: datetime,
    limits: EnvelopeLimits,
) -> OpenedEnvelope:
    """open_envelope of an envelope whose size was checked and whose header a receiver has
    parsed already (parse_header of these very bytes): parsing is a good part of the cost
    of opening a small envelope, and a batch's headers are read before anything is opened."""
    wire, header = parsed
    if header.recipient != keyring.node_id:
        raise EnvelopeRejected(
            RejectReason.WRONG_RECIPIENT, f"addressed to {header.recipient!r}, not this node"
        )
    if not keyring.is_peer(header.sender):
        raise EnvelopeRejected(RejectReason.UNKNOWN_SENDER, f"{header.sender!r} is not a peer")
    sender_key = keyring.peer_key(header.sender, header.sender_key_id)
    if sender_key is None:
        raise EnvelopeRejected(
            RejectReason.UNKNOWN_KEY, f"sender key {header.sender_key_id!r} is not known"
        )
    own_key = keyring.own_key(header.recipient_key_id)
    if own_key is None:
        raise EnvelopeRejected(
            RejectReason.UNKNOWN_KEY, f"recipient key {header.recipient_key_id!r} is not ours"
        )
    if not sender_key.validity.covers(header.created_at):
        raise EnvelopeRejected(
            RejectReason.KEY_NOT_VALID,
            f"sender key {sender_key.key_id!r} is not valid at created_at",
        )
    if not own_key.validity.covers(header.created_at):
        raise EnvelopeRejected(
            RejectReason.KEY_NOT_VALID,
            f"recipient key {own_key.key_id!r} is not valid at created_at",
        )
    payload = verify_and_decrypt(
        keyring,
        wire,
        VerifyKey(sender_key.signing_public),
        "the sender key",
        own_key=own_key,
        peer_key=sender_key,
    )
    if now >= header.expires_at:
        raise EnvelopeRejected(RejectReason.MESSAGE_EXPIRED, "expires_at has passed")
    if header.created_at > now + limits.max_clock_skew:
        raise EnvelopeRejected(
            RejectReason.CREATED_IN_FUTURE, "created_at is ahead of this node's clock"
        )
    if header.expires_at - header.created_at > limits.max_lifetime:
        raise EnvelopeRejected(
            RejectReason.LIFETIME_TOO_LONG,
            f"expires_at is more than {limits.max_lifetime} after created_at",
        )
    return OpenedEnvelope(
        header=header,
        payload=payload,
        envelope_sha256=hashlib.sha256(data).digest(),
        sender_key=sender_key,
    )


def reopen_stored(keyring: Keyring, data: bytes) -> OpenedEnvelope:
    """Open an envelope this node verified and stored when it arrived.

    Signature and decryption are checked again (the database is not trusted with content),
    judged at the envelope's own `created` instant: a stored message stays readable after its
    expiry, as long as the keys that sealed it are still configured.
    """
    _, header = parse_header(data)
    return open_envelope(
        keyring,
        data,
        now=header.created_at,
        limits=EnvelopeLimits(max_envelope_bytes=len(data), max_lifetime=timedelta.max),
    )


def verify_and_decrypt(
    keyring: Keyring,
    wire: envelope.Envelope,
    signer: VerifyKey,
    whose: str,
    *,
    own_key: OwnKeyPair,
    peer_key: PublicKeyPair,
) -> envelope.SealedPayload:
    """The signature under `signer` (`whose` key, for the message), then the payload decrypted
    with the box between our pair and the peer's: the same steps whether we open a peer's
    envelope or read back our own copy of one we sealed."""
    try:
        signer.verify(envelope_signing_input(wire.header, wire.ciphertext), wire.signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError):
        raise EnvelopeRejected(
            RejectReason.BAD_SIGNATURE, f"signature does not verify under {whose}"
        ) from None
    if len(wire.ciphertext) < NONCE_BYTES + BOX_OVERHEAD:
        raise EnvelopeRejected(RejectReason.DECRYPTION_FAILED, "ciphertext too short")
    try:
        # Box() itself fails on a low-order public key, so it belongs inside the try.
        plaintext = keyring.box(own_key, peer_key).decrypt(wire.ciphertext)
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError):
        raise EnvelopeRejected(
            RejectReason.DECRYPTION_FAILED, "payload does not decrypt with the named keys"
        ) from None
    payload = envelope.SealedPayload()
    try:
        payload.ParseFromString(plaintext)
    except DecodeError:
        raise EnvelopeRejected(
            RejectReason.PAYLOAD_MALFORMED, "payload is not a blg.v1.SealedPayload"
        ) from None
    return payload
