"""Write tests/vectors/envelope-v1.json: fixed keys, nonces and payloads, and the bytes they give.

Run once when the protocol changes (never to make a failing test pass): the test suite
recomputes every value from the inputs in the file and compares. Another implementation can
use the same file to prove it is compatible.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.config.values import format_instant
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, seal, sign_receipt
from gateway.crypto.attachment import encrypt_attachment
from gateway.crypto.envelope import envelope_signing_input
from gateway.wire import Kind, canonical, envelope, uuid7
from tools.vector_support import ENVELOPE, RECIPIENT_SECRETS, SENDER_SECRETS, write_vectors

OUT = ENVELOPE


def main() -> None:
    validity = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    sender_secrets, recipient_secrets = SENDER_SECRETS, RECIPIENT_SECRETS
    sender_key = OwnKeyPair.from_secrets("k2026a", *sender_secrets, validity)
    recipient_key = OwnKeyPair.from_secrets("k2026b", *recipient_secrets, validity)
    sender = Keyring(
        "vn-gialai-police", [sender_key], {"kh-ratanakiri-police": [recipient_key.public()]}
    )
    recipient = Keyring(
        "kh-ratanakiri-police", [recipient_key], {"vn-gialai-police": [sender_key.public()]}
    )
    created = datetime(2026, 11, 21, 15, 47, 0, tzinfo=UTC)
    message = canonical.Message(
        case_id="0193f0c2-7d4e-4b8a-9c1d-2e3f4a5b6c7d",
        sender_reference="TB-2026-1102",
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_RESTRICTED,
        hotline_alert=canonical.HotlineAlert(
            call_id="111-20261121-0457",
            channel=canonical.CHANNEL_PHONE,
            category=canonical.CATEGORY_RESCUE,
            urgency=canonical.URGENCY_CRITICAL,
            province="KH-16",
            summary="Bị giữ cùng khoảng 10 người",
        ),
    )
    message.issued_at.FromDatetime(created)
    nonce = bytes(range(24))
    message_id = uuid7(int(created.timestamp() * 1000), bytes(range(10)))
    case_id = uuid.UUID(message.case_id)
    payload = envelope.SealedPayload(message=message.SerializeToString())
    sealed = seal(
        sender,
        recipient="kh-ratanakiri-police",
        kind=Kind.HOTLINE_ALERT,
        case_id=case_id,
        message_id=message_id,
        payload=payload,
        created_at=created,
        expires_at=created + timedelta(days=7),
        random_bytes=lambda n: nonce[:n],
    )
    wire = envelope.Envelope.FromString(sealed.data)
    received = created + timedelta(seconds=2, milliseconds=345)
    receipt = sign_receipt(
        recipient,
        envelope_data=sealed.data,
        message_id=message_id,
        sender="vn-gialai-police",
        received_at=received,
    )
    receipt_wire = envelope.Receipt.FromString(receipt)

    plain = "Ảnh chụp giấy tờ / រូបថត".encode() * 4
    attachment_key = bytes(range(100, 132))
    stream = io.BytesIO()
    attachment = encrypt_attachment(
        io.BytesIO(plain),
        stream,
        attachment_id="att-c0ffee",
        media_type="image/jpeg",
        chunk_bytes=32,
        key=attachment_key,
    )

    def flipped(data: bytes, index: int) -> str:
        mutated = bytearray(data)
        mutated[index] ^= 0x01
        return bytes(mutated).hex()

    vectors: dict[str, Any] = {
        "description": __doc__,
        "keys": {
            name: {
                "node": node,
                "key_id": key.key_id,
                "ed25519_seed": secrets[0].hex(),
                "x25519_secret": secrets[1].hex(),
                "ed25519_public": key.public().signing_public.hex(),
                "x25519_public": key.public().encryption_public.hex(),
                "valid_from": format_instant(validity.valid_from),
                "valid_until": format_instant(validity.valid_until),
            }
            for name, node, key, secrets in (
                ("sender", "vn-gialai-police", sender_key, sender_secrets),
                ("recipient", "kh-ratanakiri-police", recipient_key, recipient_secrets),
            )
        },
        "envelope": {
            "header_fields": {
                "version": 1,
                "sender": "vn-gialai-police",
                "recipient": "kh-ratanakiri-police",
                "message_id": str(message_id),
                "kind": "MESSAGE_KIND_HOTLINE_ALERT",
                "case_id": str(case_id),
                "created_at_ms": sealed.header.to_wire().created_at_ms,
                "expires_at_ms": sealed.header.to_wire().expires_at_ms,
                "sender_key_id": "k2026a",
                "recipient_key_id": "k2026b",
            },
            "payload": payload.SerializeToString().hex(),
            "nonce": nonce.hex(),
            "header": wire.header.hex(),
            "ciphertext": wire.ciphertext.hex(),
            "signing_input": envelope_signing_input(wire.header, wire.ciphertext).hex(),
            "signature": wire.signature.hex(),
            "envelope": sealed.data.hex(),
            "envelope_sha256": sealed.sha256.hex(),
            "open_at": format_instant(created + timedelta(minutes=1)),
        },
        "receipt": {
            "received_at_ms": (received - datetime(1970, 1, 1, tzinfo=UTC))
            // timedelta(milliseconds=1),
            "body": receipt_wire.body.hex(),
            "signature": receipt_wire.signature.hex(),
            "receipt": receipt.hex(),
        },
        "attachment": {
            "attachment_id": "att-c0ffee",
            "key": attachment_key.hex(),
            "chunk_bytes": 32,
            "plaintext": plain.hex(),
            "stream": stream.getvalue().hex(),
            "ciphertext_sha256": attachment.ciphertext_sha256.hex(),
        },
        "rejections": [
            {
                "why": "signature byte flipped",
                "envelope": flipped(sealed.data, len(sealed.data) - 1),
                "reason": "bad_signature",
            },
            {
                "why": "ciphertext byte flipped",
                "envelope": flipped(sealed.data, len(sealed.data) - 80),
                "reason": "bad_signature",
            },
            {
                "why": "opened after expires_at",
                "envelope": sealed.data.hex(),
                "open_at": format_instant(created + timedelta(days=8)),
                "reason": "message_expired",
            },
            {"why": "not an envelope", "envelope": "ff" * 8, "reason": "header_malformed"},
        ],
    }
    write_vectors(OUT, vectors)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
