"""Write tests/vectors/cancellation-confirmation-v1.json: a cancellation confirmation
(docs/PROTOCOL.md section 14) from fixed keys, nonce and ids, and the bytes it gives.

The confirming node is the recipient of envelope-v1.json (kh-ratanakiri-police, same seeds)
and the node it confirms to is that file's sender (vn-gialai-police). Run once when section
14 changes (never to make a failing test pass): tests/crypto/test_cancellation_vectors.py
recomputes every value.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.config.values import format_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair
from gateway.crypto.envelope import to_unix_ms
from gateway.federation.cancellation import confirmation_payload
from gateway.wire import ControlKind, cancellation, uuid7
from tools.vector_support import (
    RECIPIENT_SECRETS,
    SENDER_SECRETS,
    VECTORS,
    ControlSealing,
    control_vectors,
    secret_keys,
    write_vectors,
)

OUT = VECTORS / "cancellation-confirmation-v1.json"


def main() -> None:
    year = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    cancelled_at = datetime(2026, 12, 1, 8, 0, 0, tzinfo=UTC)
    confirmed = cancelled_at + timedelta(seconds=2)
    sender_key = OwnKeyPair.from_secrets("k2026a", *SENDER_SECRETS, year)
    recipient_key = OwnKeyPair.from_secrets("k2026b", *RECIPIENT_SECRETS, year)
    confirming = Keyring(
        "kh-ratanakiri-police", [recipient_key], {"vn-gialai-police": [sender_key.public()]}
    )
    case_id = uuid.UUID("0f3c2a1e-8d7b-4c5a-9e6f-112233445566")
    cancellation_id = uuid7(to_unix_ms(cancelled_at), bytes(range(30, 40)))
    fields: dict[str, Any] = {
        "version": 1,
        "cancellation_message_id": str(cancellation_id),
        "case_id": str(case_id),
        "confirmed_at": format_instant(confirmed),
        "confirmed_at_ms": to_unix_ms(confirmed),
        "withdrawn_deliveries": 2,
        "case_state": "CASE_STATE_CANCELLED",
        "case_state_value": cancellation.CASE_STATE_CANCELLED,
    }
    sealing = ControlSealing(
        confirming,
        recipient="vn-gialai-police",
        kind=ControlKind.CANCELLATION_CONFIRMATION,
        case_id=case_id,
        message_id=uuid7(to_unix_ms(confirmed), bytes(range(40, 50))),
        payload=confirmation_payload(
            cancellation_message_id=cancellation_id,
            case_id=case_id,
            confirmed_at=confirmed,
            withdrawn=2,
        ),
        created=confirmed,
        expires=confirmed + timedelta(days=7),
        nonce=bytes(range(48, 72)),
    )
    keys = secret_keys(
        ("sender", "k2026a", SENDER_SECRETS), ("recipient", "k2026b", RECIPIENT_SECRETS)
    )
    write_vectors(OUT, control_vectors(__doc__, keys, "confirmation", fields, sealing))


if __name__ == "__main__":
    main()
