"""Audit checkpoints held by peers: the messages, sealing them, reading them
(docs/PROTOCOL.md section 16).

The audit chain (gateway.store.audit) shows any edit of an entry, but someone with owner
rights on the database can delete its newest entries, or rewrite it from some entry on with
freshly computed hashes, and the chain still verifies on its own. A checkpoint closes that
gap: the origin sends each peer the chain hashes of its entries since the previous
checkpoint (an AUDIT_CHECKPOINT control envelope, sealed and signed like every envelope,
through the durable outbox), the peer stores them and answers with a
CHECKPOINT_COUNTERSIGNATURE whose envelope signature is the countersignature. The origin
keeps that envelope; `gateway audit verify` re-verifies it under the peer's key (a DBA
cannot forge one) and compares the recomputed chain with every hash it covers, naming the
first entry that no longer matches, or the entries missing.

Every hash, not only the head's, travels so that a rewrite is located to the entry. A
checkpoint covers at most MAX_CHECKPOINT_ENTRIES entries (128 KiB of hashes: far within the
envelope limit); more entries make several checkpoints.

Pure functions: the checkpointer (gateway.federation.checkpointer) seals, the control
handlers (gateway.federation.controls) read, the store records.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.crypto import EnvelopeRejected, Keyring, OpenedEnvelope, RejectReason, seal
from gateway.crypto.envelope import SealedEnvelope, from_unix_ms, is_representable_ms, to_unix_ms
from gateway.federation.control_payload import parse_control
from gateway.wire import ControlKind, checkpoint, envelope, uuid7

CHECKPOINT_VERSION = 1
COUNTERSIGNATURE_VERSION = 1
MAX_CHECKPOINT_ENTRIES = 4096
HASH_BYTES = 32
# Checkpoints belong to no case; the header still needs one (section 3.2).
NO_CASE = uuid.UUID(int=0)


@dataclass(frozen=True)
class Checkpoint:
    """What an AuditCheckpoint says, checked: entries first_seq..seq and their hashes."""

    node: str
    seq: int
    head_hash: bytes
    at: datetime
    first_seq: int
    entry_hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class Countersignature:
    """What a CheckpointCountersignature says, checked."""

    checkpoint_envelope_sha256: bytes
    origin: str
    seq: int
    head_hash: bytes
    countersigned_at: datetime


def checkpoint_payload(point: Checkpoint) -> envelope.SealedPayload:
    """The sealed payload of a checkpoint."""
    message = checkpoint.AuditCheckpoint(
        version=CHECKPOINT_VERSION,
        node=point.node,
        seq=point.seq,
        head_hash=point.head_hash,
        at_ms=to_unix_ms(point.at),
        first_seq=point.first_seq,
        entry_hashes=list(point.entry_hashes),
    )
    return envelope.SealedPayload(message=message.SerializeToString())


def countersignature_payload(signed: Countersignature) -> envelope.SealedPayload:
    """The sealed payload of a countersignature."""
    message = checkpoint.CheckpointCountersignature(
        version=COUNTERSIGNATURE_VERSION,
        checkpoint_envelope_sha256=signed.checkpoint_envelope_sha256,
        origin=signed.origin,
        seq=signed.seq,
        head_hash=signed.head_hash,
        countersigned_at_ms=to_unix_ms(signed.countersigned_at),
    )
    return envelope.SealedPayload(message=message.SerializeToString())


def seal_checkpoint(
    keyring: Keyring, *, recipient: str, point: Checkpoint, now: datetime, ttl: timedelta
) -> SealedEnvelope:
    """A checkpoint for recipient; ValueError when no key can seal it."""
    return seal(
        keyring,
        recipient=recipient,
        kind=ControlKind.AUDIT_CHECKPOINT,
        case_id=NO_CASE,
        message_id=uuid7(),
        payload=checkpoint_payload(point),
        created_at=now,
        expires_at=now + ttl,
    )


def seal_countersignature(
    keyring: Keyring, *, signed: Countersignature, now: datetime, ttl: timedelta
) -> SealedEnvelope:
    """The countersignature back to the checkpoint's origin; ValueError when no key can
    seal it."""
    return seal(
        keyring,
        recipient=signed.origin,
        kind=ControlKind.CHECKPOINT_COUNTERSIGNATURE,
        case_id=NO_CASE,
        message_id=uuid7(),
        payload=countersignature_payload(signed),
        created_at=now,
        expires_at=now + ttl,
    )


def _checkpoint_malformed(detail: str) -> EnvelopeRejected:
    return EnvelopeRejected(RejectReason.CHECKPOINT_MALFORMED, detail)


def read_checkpoint(opened: OpenedEnvelope) -> Checkpoint:
    """What an opened AUDIT_CHECKPOINT envelope says, checked in the order of section 16.3
    (P1 to P4); raises EnvelopeRejected."""
    message = parse_control(
        opened,
        checkpoint.AuditCheckpoint(),
        version=CHECKPOINT_VERSION,
        reason=RejectReason.CHECKPOINT_MALFORMED,
    )
    if message.node != opened.header.sender:
        raise _checkpoint_malformed("node: expected the envelope's sender")
    if not 1 <= message.first_seq <= message.seq:
        raise _checkpoint_malformed("first_seq: expected 1 <= first_seq <= seq")
    count = message.seq - message.first_seq + 1
    if count > MAX_CHECKPOINT_ENTRIES or len(message.entry_hashes) != count:
        raise _checkpoint_malformed(
            f"entry_hashes: expected seq - first_seq + 1 hashes, at most {MAX_CHECKPOINT_ENTRIES}"
        )
    if any(len(digest) != HASH_BYTES for digest in message.entry_hashes):
        raise _checkpoint_malformed(f"entry_hashes: expected {HASH_BYTES} bytes each")
    if message.head_hash != message.entry_hashes[-1]:
        raise _checkpoint_malformed("head_hash: expected the last of entry_hashes")
    if not is_representable_ms(message.at_ms):
        raise _checkpoint_malformed("at_ms: expected a representable instant")
    return Checkpoint(
        message.node,
        message.seq,
        message.head_hash,
        from_unix_ms(message.at_ms),
        message.first_seq,
        tuple(message.entry_hashes),
    )


def _countersignature_malformed(detail: str) -> EnvelopeRejected:
    return EnvelopeRejected(RejectReason.COUNTERSIGNATURE_MALFORMED, detail)


def read_countersignature(opened: OpenedEnvelope) -> Countersignature:
    """What an opened CHECKPOINT_COUNTERSIGNATURE envelope says, checked in the order of
    section 16.4 (S1 to S3); raises EnvelopeRejected. Whether this node sent that checkpoint
    to the envelope's sender (S4) only the store can tell."""
    message = parse_control(
        opened,
        checkpoint.CheckpointCountersignature(),
        version=COUNTERSIGNATURE_VERSION,
        reason=RejectReason.COUNTERSIGNATURE_MALFORMED,
    )
    if len(message.checkpoint_envelope_sha256) != HASH_BYTES:
        raise _countersignature_malformed(
            f"checkpoint_envelope_sha256: expected {HASH_BYTES} bytes"
        )
    if message.origin != opened.header.recipient:
        raise _countersignature_malformed("origin: expected the envelope's recipient")
    if message.seq < 1 or len(message.head_hash) != HASH_BYTES:
        raise _countersignature_malformed(f"seq, head_hash: expected seq >= 1, {HASH_BYTES} bytes")
    if not is_representable_ms(message.countersigned_at_ms):
        raise _countersignature_malformed("countersigned_at_ms: expected a representable instant")
    return Countersignature(
        message.checkpoint_envelope_sha256,
        message.origin,
        message.seq,
        message.head_hash,
        from_unix_ms(message.countersigned_at_ms),
    )
