"""Write tests/vectors/bundle-v1.json: two offline bundles (docs/PROTOCOL.md section 15) from
fixed keys, ids, content keys and nonces, and every byte they give.

`envelopes` carries envelope-v1.json's envelope from its sender (vn-gialai-police) to its
recipient (kh-ratanakiri-police); `receipts` carries that file's receipt back. The key pairs
are envelope-v1.json's (same seeds). Run once when section 15 changes (never to make a
failing test pass): tests/crypto/test_bundle_vectors.py recomputes every value.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from gateway.config.values import format_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair
from gateway.crypto.bundle import (
    AEAD_NONCE_BYTES,
    PREAMBLE,
    BundleKind,
    bundle_signing_input,
    seal_bundle,
)
from gateway.crypto.envelope import to_unix_ms
from gateway.wire import bundle, uuid7
from tools.vector_support import (
    RECIPIENT_SECRETS,
    SENDER_SECRETS,
    VECTORS,
    envelope_vectors,
    secret_keys,
    write_vectors,
)

OUT = VECTORS / "bundle-v1.json"


def _vector(
    keyring: Keyring,
    *,
    recipient: str,
    kind: BundleKind,
    items: list[bytes],
    created: datetime,
    label: int,
) -> dict[str, Any]:
    bundle_id = uuid7(to_unix_ms(created), bytes(range(label, label + 10)))
    content_key = hashlib.sha256(f"bundle vector content key {label}".encode()).digest()
    key_box_nonce = bytes(range(label, label + 24))
    aead_nonce = bytes(range(label + 100, label + 124))
    randoms = [content_key, key_box_nonce, aead_nonce]
    data = seal_bundle(
        keyring,
        recipient=recipient,
        kind=kind,
        items=items,
        bundle_id=bundle_id,
        created_at=created,
        random_bytes=lambda n: randoms.pop(0)[:n],
    )
    sealed = bundle.SealedBundle.FromString(data[PREAMBLE.size :])
    header = bundle.BundleHeader.FromString(sealed.header)
    contents = bundle.BundleContents(created_at_ms=to_unix_ms(created), items=items)
    signing_input = bundle_signing_input(sealed.header, sealed.key_box, sealed.ciphertext)
    return {
        "header_fields": {
            "version": header.version,
            "sender": header.sender,
            "recipient": header.recipient,
            "sender_key_id": header.sender_key_id,
            "recipient_key_id": header.recipient_key_id,
            "bundle_id": str(uuid.UUID(bytes=header.bundle_id)),
            "kind": bundle.BundleKind.Name(header.kind),
            "kind_value": header.kind,
        },
        "contents_fields": {
            "created_at": format_instant(created),
            "created_at_ms": contents.created_at_ms,
            "items": [item.hex() for item in items],
        },
        "contents": contents.SerializeToString().hex(),
        "content_key": content_key.hex(),
        "key_box_nonce": key_box_nonce.hex(),
        "aead_nonce": aead_nonce.hex(),
        "header": sealed.header.hex(),
        "key_box": sealed.key_box.hex(),
        "ciphertext": sealed.ciphertext.hex(),
        "aead_ciphertext_length": len(sealed.ciphertext) - AEAD_NONCE_BYTES,
        "signing_input": signing_input.hex(),
        "signature": sealed.signature.hex(),
        "sealed_bundle_length": len(data) - PREAMBLE.size,
        "bundle": data.hex(),
    }


def main() -> None:
    year = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    sender_key = OwnKeyPair.from_secrets("k2026a", *SENDER_SECRETS, year)
    recipient_key = OwnKeyPair.from_secrets("k2026b", *RECIPIENT_SECRETS, year)
    police = Keyring(
        "vn-gialai-police", [sender_key], {"kh-ratanakiri-police": [recipient_key.public()]}
    )
    ratanakiri = Keyring(
        "kh-ratanakiri-police", [recipient_key], {"vn-gialai-police": [sender_key.public()]}
    )
    source = envelope_vectors()
    exported = datetime(2026, 12, 2, 9, 0, 0, tzinfo=UTC)
    answered = datetime(2026, 12, 3, 14, 30, 0, tzinfo=UTC)
    keys = secret_keys(
        ("sender", "k2026a", SENDER_SECRETS), ("recipient", "k2026b", RECIPIENT_SECRETS)
    )
    write_vectors(
        OUT,
        {
            "description": __doc__,
            "keys": keys,
            "magic": b"BLGBNDL\x01".hex(),
            "envelopes": _vector(
                police,
                recipient="kh-ratanakiri-police",
                kind=BundleKind.ENVELOPES,
                items=[bytes.fromhex(source["envelope"]["envelope"])],
                created=exported,
                label=1,
            ),
            "receipts": _vector(
                ratanakiri,
                recipient="vn-gialai-police",
                kind=BundleKind.RECEIPTS,
                items=[bytes.fromhex(source["receipt"]["receipt"])],
                created=answered,
                label=50,
            ),
        },
    )


if __name__ == "__main__":
    main()
