"""Write tests/vectors/checkpoint-v1.json: an audit checkpoint and its countersignature
(docs/PROTOCOL.md section 16) from fixed keys, nonces and ids, and the bytes they give.

The origin is envelope-v1.json's sender (vn-gialai-police), the peer holding the checkpoint
its recipient (kh-ratanakiri-police), same seeds. The checkpoint covers entries 41 to 43 of
the origin's chain; the countersignature names the checkpoint envelope's SHA-256. Run once
when section 16 changes (never to make a failing test pass): tests/crypto/
test_checkpoint_vectors.py recomputes every value.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.config.values import format_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair
from gateway.crypto.envelope import to_unix_ms
from gateway.federation.checkpoints import (
    NO_CASE,
    Checkpoint,
    Countersignature,
    checkpoint_payload,
    countersignature_payload,
)
from gateway.wire import ControlKind, uuid7
from tools.vector_support import (
    RECIPIENT_SECRETS,
    SENDER_SECRETS,
    VECTORS,
    ControlSealing,
    control_vectors,
    secret_keys,
    seed,
    write_vectors,
)

OUT = VECTORS / "checkpoint-v1.json"
ORIGIN, PEER = "vn-gialai-police", "kh-ratanakiri-police"


def main() -> None:
    year = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    taken = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
    countersigned = taken + timedelta(seconds=2)
    sender_key = OwnKeyPair.from_secrets("k2026a", *SENDER_SECRETS, year)
    recipient_key = OwnKeyPair.from_secrets("k2026b", *RECIPIENT_SECRETS, year)
    origin = Keyring(ORIGIN, [sender_key], {PEER: [recipient_key.public()]})
    peer = Keyring(PEER, [recipient_key], {ORIGIN: [sender_key.public()]})
    hashes = tuple(seed(f"vector audit entry {seq}") for seq in (41, 42, 43))
    point = Checkpoint(ORIGIN, 43, hashes[-1], taken, 41, hashes)
    keys = secret_keys(
        ("sender", "k2026a", SENDER_SECRETS), ("recipient", "k2026b", RECIPIENT_SECRETS)
    )
    point_fields: dict[str, Any] = {
        "version": 1,
        "node": ORIGIN,
        "seq": 43,
        "head_hash": hashes[-1].hex(),
        "at": format_instant(taken),
        "at_ms": to_unix_ms(taken),
        "first_seq": 41,
        "entry_hashes": [digest.hex() for digest in hashes],
    }
    point_vectors = control_vectors(
        None,
        keys,
        "checkpoint",
        point_fields,
        ControlSealing(
            origin,
            recipient=PEER,
            kind=ControlKind.AUDIT_CHECKPOINT,
            case_id=NO_CASE,
            message_id=uuid7(to_unix_ms(taken), bytes(range(50, 60))),
            payload=checkpoint_payload(point),
            created=taken,
            expires=taken + timedelta(days=7),
            nonce=bytes(range(72, 96)),
        ),
    )
    envelope_sha256 = hashlib.sha256(bytes.fromhex(point_vectors["envelope"])).digest()
    signed = Countersignature(envelope_sha256, ORIGIN, 43, hashes[-1], countersigned)
    signed_fields: dict[str, Any] = {
        "version": 1,
        "checkpoint_envelope_sha256": envelope_sha256.hex(),
        "origin": ORIGIN,
        "seq": 43,
        "head_hash": hashes[-1].hex(),
        "countersigned_at": format_instant(countersigned),
        "countersigned_at_ms": to_unix_ms(countersigned),
    }
    signed_vectors = control_vectors(
        None,
        keys,
        "countersignature",
        signed_fields,
        ControlSealing(
            peer,
            recipient=ORIGIN,
            kind=ControlKind.CHECKPOINT_COUNTERSIGNATURE,
            case_id=NO_CASE,
            message_id=uuid7(to_unix_ms(countersigned), bytes(range(60, 70))),
            payload=countersignature_payload(signed),
            created=countersigned,
            expires=countersigned + timedelta(days=7),
            nonce=bytes(range(96, 120)),
        ),
    )
    assert str(NO_CASE) == point_vectors["header_fields"]["case_id"] == str(uuid.UUID(int=0))
    write_vectors(
        OUT,
        {"description": __doc__, "checkpoint": point_vectors, "countersignature": signed_vectors},
    )


if __name__ == "__main__":
    main()
