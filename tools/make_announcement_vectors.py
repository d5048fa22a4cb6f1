"""Write tests/vectors/key-announcement-v1.json: a key announcement (docs/PROTOCOL.md section 12)
from fixed keys, nonce and message id, and the bytes it gives.

The announcing and receiving pairs are those of envelope-v1.json (same seeds); the announced
next pair has seeds of its own. Run once when section 12 changes (never to make a failing
test pass): tests/crypto/test_announcement_vectors.py recomputes every value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.config.values import format_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair
from gateway.crypto.envelope import to_unix_ms
from gateway.federation.announcements import NO_CASE, announcement_payload
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

OUT = VECTORS / "key-announcement-v1.json"


def main() -> None:
    year = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    created = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
    # The rotation of 2.3: the next pair from `created`, the current one ending 7 days later.
    ending = KeyValidity(year.valid_from, created + timedelta(days=7))
    following = KeyValidity(created, created + timedelta(days=365))
    next_secrets = (seed("vector sender next signing"), seed("vector sender next encryption"))
    current = OwnKeyPair.from_secrets("k2026a", *SENDER_SECRETS, year)
    recipient_key = OwnKeyPair.from_secrets("k2026b", *RECIPIENT_SECRETS, year)
    next_key = OwnKeyPair.from_secrets("k2026c", *next_secrets, following)
    sender = Keyring(
        "vn-gialai-police", [current], {"kh-ratanakiri-police": [recipient_key.public()]}
    )
    announced = [
        OwnKeyPair.from_secrets("k2026a", *SENDER_SECRETS, ending).public(),
        next_key.public(),
    ]
    payload = announcement_payload("vn-gialai-police", announced)
    fields: dict[str, Any] = {
        "version": 1,
        "node": "vn-gialai-police",
        "keys": [
            {
                "key_id": key.key_id,
                "signing_public_key": key.signing_public.hex(),
                "encryption_public_key": key.encryption_public.hex(),
                "valid_from": format_instant(key.validity.valid_from),
                "valid_until": format_instant(key.validity.valid_until),
                "valid_from_ms": to_unix_ms(key.validity.valid_from),
                "valid_until_ms": to_unix_ms(key.validity.valid_until),
            }
            for key in announced
        ],
    }
    sealing = ControlSealing(
        sender,
        recipient="kh-ratanakiri-police",
        kind=ControlKind.KEY_ANNOUNCEMENT,
        case_id=NO_CASE,
        message_id=uuid7(to_unix_ms(created), bytes(range(10, 20))),
        payload=payload,
        created=created,
        expires=created + timedelta(days=7),
        nonce=bytes(range(24, 48)),
    )
    keys = secret_keys(
        ("sender", "k2026a", SENDER_SECRETS),
        ("recipient", "k2026b", RECIPIENT_SECRETS),
        ("next", "k2026c", next_secrets),
    )
    write_vectors(OUT, control_vectors(__doc__, keys, "announcement", fields, sealing))


if __name__ == "__main__":
    main()
