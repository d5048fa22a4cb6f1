"""Write tests/vectors/acknowledgement-v1.json: an acknowledgement (docs/PROTOCOL.md section
13) from fixed keys, nonce and message id, and the bytes it gives.

The pairs are those of envelope-v1.json with the roles swapped: its recipient
(kh-ratanakiri-police) acknowledges the message of envelope-v1.json to its sender
(vn-gialai-police), in that message's case. Run once when section 13 changes (never to make
a failing test pass): tests/crypto/test_acknowledgement_vectors.py recomputes every value.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from gateway.config.values import format_instant
from gateway.crypto import Keyring
from gateway.crypto.envelope import from_unix_ms, to_unix_ms
from gateway.federation.acknowledgements import (
    AcknowledgementContent,
    How,
    acknowledgement_payload,
)
from gateway.wire import ControlKind, uuid7
from tools.vector_support import (
    VECTORS,
    ControlSealing,
    control_vectors,
    envelope_vectors,
    pair,
    write_vectors,
)

OUT = VECTORS / "acknowledgement-v1.json"


def main() -> None:
    source = envelope_vectors()
    original = source["envelope"]["header_fields"]
    acknowledging = pair(source["keys"]["recipient"])
    original_sender = pair(source["keys"]["sender"])
    node, peer = original["recipient"], original["sender"]
    keyring = Keyring(node, [acknowledging], {peer: [original_sender.public()]})
    acknowledged_at = from_unix_ms(original["created_at_ms"]) + timedelta(minutes=42)
    created = acknowledged_at + timedelta(seconds=1)
    content = AcknowledgementContent(
        uuid.UUID(original["message_id"]), acknowledged_at, "officer-0042", How.LOCAL_API
    )
    fields: dict[str, Any] = {
        "version": 1,
        "message_id": original["message_id"],
        "acknowledged_at": format_instant(acknowledged_at),
        "acknowledged_at_ms": to_unix_ms(acknowledged_at),
        "acknowledged_by": content.acknowledged_by,
        "how": "ACKNOWLEDGED_HOW_LOCAL_API",
        "how_value": 2,
    }
    sealing = ControlSealing(
        keyring,
        recipient=peer,
        kind=ControlKind.ACKNOWLEDGEMENT,
        case_id=uuid.UUID(original["case_id"]),
        message_id=uuid7(to_unix_ms(created), bytes(range(20, 30))),
        payload=acknowledgement_payload(content),
        created=created,
        expires=created + timedelta(days=7),
        nonce=bytes(range(48, 72)),
    )
    # The roles are swapped: envelope-v1.json's recipient sends this one.
    keys = {"sender": source["keys"]["recipient"], "recipient": source["keys"]["sender"]}
    write_vectors(OUT, control_vectors(__doc__, keys, "acknowledgement", fields, sealing))


if __name__ == "__main__":
    main()
