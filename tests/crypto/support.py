"""A small federation of keyrings for crypto tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, seal
from gateway.crypto.envelope import SealedEnvelope
from gateway.wire import Kind, envelope, uuid7

T0 = datetime(2026, 11, 1, tzinfo=UTC)
YEAR = KeyValidity(T0, T0 + timedelta(days=365))


@dataclass
class Pair:
    """Two nodes that know each other, plus an outsider neither knows."""

    police: Keyring
    ratanakiri: Keyring
    outsider: Keyring
    police_key: OwnKeyPair
    ratanakiri_key: OwnKeyPair


def make_pair() -> Pair:
    police_key = OwnKeyPair.generate("k1", YEAR)
    ratanakiri_key = OwnKeyPair.generate("k1", YEAR)
    outsider_key = OwnKeyPair.generate("k1", YEAR)
    police = Keyring(
        "vn-gialai-police", [police_key], {"kh-ratanakiri-police": [ratanakiri_key.public()]}
    )
    ratanakiri = Keyring(
        "kh-ratanakiri-police", [ratanakiri_key], {"vn-gialai-police": [police_key.public()]}
    )
    outsider = Keyring(
        "xx-outsider", [outsider_key], {"kh-ratanakiri-police": [ratanakiri_key.public()]}
    )
    return Pair(police, ratanakiri, outsider, police_key, ratanakiri_key)


def seal_simple(
    sender: Keyring,
    recipient: str = "kh-ratanakiri-police",
    *,
    created_at: datetime = T0 + timedelta(days=1),
    lifetime: timedelta = timedelta(days=7),
    message: bytes = b"\x12\x05TN-01",
) -> SealedEnvelope:
    return seal(
        sender,
        recipient=recipient,
        kind=Kind.WANTED_PERSON_NOTICE,
        case_id=uuid.uuid4(),
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message),
        created_at=created_at,
        expires_at=created_at + lifetime,
    )
