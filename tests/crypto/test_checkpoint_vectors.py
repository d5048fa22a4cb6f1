"""tests/vectors/checkpoint-v1.json, recomputed: the AuditCheckpoint and
CheckpointCountersignature bytes from their fields, the sealed envelopes from the fixed keys,
nonces and ids, and what each receiver reads out of them (docs/PROTOCOL.md section 16)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from gateway.config.values import parse_instant
from gateway.crypto import EnvelopeRejected, Keyring, OwnKeyPair, RejectReason
from gateway.crypto.envelope import from_unix_ms
from gateway.federation.checkpoints import read_checkpoint, read_countersignature
from gateway.wire import ControlKind, checkpoint
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

VECTORS = load("checkpoint-v1.json")
POINT = VECTORS["checkpoint"]
SIGNED = VECTORS["countersignature"]
ORIGIN, PEER = POINT["header_fields"]["sender"], POINT["header_fields"]["recipient"]


def _pair(vectors: dict[str, Any], name: str) -> OwnKeyPair:
    return pair(vectors["keys"][name], validity(ENVELOPE_VECTORS["keys"][name]))


def _origin() -> Keyring:
    return keyring(ORIGIN, _pair(POINT, "sender"), PEER, _pair(POINT, "recipient"))


def _peer() -> Keyring:
    return keyring(PEER, _pair(POINT, "recipient"), ORIGIN, _pair(POINT, "sender"))


def test_the_checkpoint_bytes_follow_from_its_fields() -> None:
    fields = POINT["checkpoint_fields"]
    built = checkpoint.AuditCheckpoint(
        version=fields["version"],
        node=fields["node"],
        seq=fields["seq"],
        head_hash=bytes.fromhex(fields["head_hash"]),
        at_ms=fields["at_ms"],
        first_seq=fields["first_seq"],
        entry_hashes=[bytes.fromhex(digest) for digest in fields["entry_hashes"]],
    )
    check_message(POINT, "checkpoint", built.SerializeToString())
    assert from_unix_ms(fields["at_ms"]) == parse_instant(fields["at"])


def test_the_countersignature_bytes_follow_from_its_fields() -> None:
    fields = SIGNED["countersignature_fields"]
    built = checkpoint.CheckpointCountersignature(
        version=fields["version"],
        checkpoint_envelope_sha256=bytes.fromhex(fields["checkpoint_envelope_sha256"]),
        origin=fields["origin"],
        seq=fields["seq"],
        head_hash=bytes.fromhex(fields["head_hash"]),
        countersigned_at_ms=fields["countersigned_at_ms"],
    )
    check_message(SIGNED, "countersignature", built.SerializeToString())
    assert fields["checkpoint_envelope_sha256"] == POINT["envelope_sha256"]
    assert hashlib.sha256(bytes.fromhex(POINT["envelope"])).hexdigest() == POINT["envelope_sha256"]


def test_the_same_keys_nonces_and_ids_seal_the_same_envelopes() -> None:
    check_envelope_pairs(POINT)
    check_envelope_pairs(SIGNED)
    check_reseals(POINT, _origin(), ControlKind.AUDIT_CHECKPOINT)
    check_reseals(SIGNED, _peer(), ControlKind.CHECKPOINT_COUNTERSIGNATURE)


def test_the_peer_reads_the_checkpoint_and_the_origin_its_countersignature() -> None:
    fields = POINT["checkpoint_fields"]
    point = read_checkpoint(open_vector(POINT, _peer(), ControlKind.AUDIT_CHECKPOINT))
    assert (point.node, point.seq, point.first_seq, point.head_hash.hex(), point.at) == (
        fields["node"],
        fields["seq"],
        fields["first_seq"],
        fields["head_hash"],
        parse_instant(fields["at"]),
    )
    assert [digest.hex() for digest in point.entry_hashes] == fields["entry_hashes"]
    signed_fields = SIGNED["countersignature_fields"]
    opened = open_vector(SIGNED, _origin(), ControlKind.CHECKPOINT_COUNTERSIGNATURE)
    signed = read_countersignature(opened)
    assert (
        signed.checkpoint_envelope_sha256.hex(),
        signed.origin,
        signed.seq,
        signed.head_hash.hex(),
        signed.countersigned_at,
    ) == (
        signed_fields["checkpoint_envelope_sha256"],
        signed_fields["origin"],
        signed_fields["seq"],
        signed_fields["head_hash"],
        parse_instant(signed_fields["countersigned_at"]),
    )


def _bent(**changes: Any) -> checkpoint.AuditCheckpoint:
    fields = POINT["checkpoint_fields"]
    message = checkpoint.AuditCheckpoint(
        version=fields["version"],
        node=fields["node"],
        seq=fields["seq"],
        head_hash=bytes.fromhex(fields["head_hash"]),
        at_ms=fields["at_ms"],
        first_seq=fields["first_seq"],
        entry_hashes=[bytes.fromhex(digest) for digest in fields["entry_hashes"]],
    )
    for name, value in changes.items():
        if name == "entry_hashes":
            del message.entry_hashes[:]
            message.entry_hashes.extend(value)
        else:
            setattr(message, name, value)
    return message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version": 2}, "version"),
        ({"node": "kh-other-police"}, "node"),
        ({"first_seq": 0}, "first_seq"),
        ({"first_seq": 44}, "first_seq"),
        ({"seq": 44}, "entry_hashes"),
        ({"seq": 5000, "first_seq": 1}, "entry_hashes"),
        ({"entry_hashes": [bytes(32), bytes(32), bytes(31)]}, "entry_hashes"),
        ({"head_hash": bytes(32)}, "head_hash"),
        ({"at_ms": 1 << 62}, "at_ms"),
    ],
)
def test_a_bent_checkpoint_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    opened = open_vector(POINT, _peer(), ControlKind.AUDIT_CHECKPOINT)
    opened.payload.message = _bent(**changes).SerializeToString()
    with pytest.raises(EnvelopeRejected) as refused:
        read_checkpoint(opened)
    assert refused.value.reason is RejectReason.CHECKPOINT_MALFORMED
    assert field in refused.value.detail
