"""Reading key announcements (docs/PROTOCOL.md 12.3): every check, with its reason code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from gateway.crypto import (
    EnvelopeLimits,
    EnvelopeRejected,
    KeyValidity,
    OwnKeyPair,
    PublicKeyPair,
    open_envelope,
    seal,
)
from gateway.federation.announcements import (
    NO_CASE,
    announcement_payload,
    read_announcement,
    seal_announcement,
)
from gateway.wire import ControlKind, envelope, uuid7
from tests.crypto.support import T0, Pair, make_pair

NOW = T0 + timedelta(days=1)
NEXT = OwnKeyPair.generate("k2", KeyValidity(NOW, NOW + timedelta(days=365))).public()


def _sealed_payload(pair: Pair, payload: envelope.SealedPayload) -> bytes:
    return seal(
        pair.police,
        recipient="kh-ratanakiri-police",
        kind=ControlKind.KEY_ANNOUNCEMENT,
        case_id=NO_CASE,
        message_id=uuid7(),
        payload=payload,
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    ).data


def _with(change: Callable[[envelope.KeyAnnouncement], None]) -> envelope.SealedPayload:
    message = envelope.KeyAnnouncement()
    message.ParseFromString(announcement_payload("vn-gialai-police", [NEXT]).message)
    change(message)
    return envelope.SealedPayload(message=message.SerializeToString())


def _bad_id(m: envelope.KeyAnnouncement) -> None:
    m.keys[0].key_id = "-k2"


def _short_key(m: envelope.KeyAnnouncement) -> None:
    m.keys[0].signing_public_key = b"\x01" * 31


def _backwards(m: envelope.KeyAnnouncement) -> None:
    m.keys[0].valid_until_ms = m.keys[0].valid_from_ms


def _far(m: envelope.KeyAnnouncement) -> None:
    m.keys[0].valid_until_ms = 253402300800000


def _twice(m: envelope.KeyAnnouncement) -> None:
    m.keys.append(m.keys[0])


def _none(m: envelope.KeyAnnouncement) -> None:
    del m.keys[:]


def _other_node(m: envelope.KeyAnnouncement) -> None:
    m.node = "kh-stungtreng-police"


def _version(m: envelope.KeyAnnouncement) -> None:
    m.version = 2


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (envelope.SealedPayload(message=b"\xff\xff"), "not a blg.v1.KeyAnnouncement"),
        (_with(_version), "version"),
        (_with(_other_node), "node"),
        (_with(_none), "keys:"),
        (_with(_bad_id), "keys[0].key_id"),
        (_with(_short_key), "keys[0].signing_public_key"),
        (_with(_backwards), "keys[0].valid_until_ms"),
        (_with(_far), "keys[0].valid_until_ms"),
        (_with(_twice), "twice"),
    ],
    ids=[
        "not-parsed",
        "version",
        "node",
        "no-keys",
        "key-id",
        "key-length",
        "window",
        "range",
        "dup",
    ],
)
def test_a_malformed_announcement_is_refused_naming_the_field(
    payload: envelope.SealedPayload, detail: str
) -> None:
    pair = make_pair()
    opened = open_envelope(
        pair.ratanakiri, _sealed_payload(pair, payload), now=NOW, limits=EnvelopeLimits()
    )
    with pytest.raises(EnvelopeRejected) as refused:
        read_announcement(opened, now=NOW, known=[pair.police_key.public()])
    assert refused.value.reason == "announcement_malformed"
    assert detail in refused.value.detail


def test_a_known_key_id_with_other_public_keys_is_a_conflict() -> None:
    pair = make_pair()
    impostor = OwnKeyPair.generate("k1", pair.police_key.validity).public()
    data = seal_announcement(
        pair.police, recipient="kh-ratanakiri-police", keys=[impostor], now=NOW, ttl=timedelta(1)
    ).data
    opened = open_envelope(pair.ratanakiri, data, now=NOW, limits=EnvelopeLimits())
    with pytest.raises(EnvelopeRejected) as refused:
        read_announcement(opened, now=NOW, known=[pair.police_key.public()])
    assert refused.value.reason == "key_conflict"


def test_a_valid_announcement_gives_its_keys_and_a_key_ended_since_is_not_current() -> None:
    pair = make_pair()
    keys: list[PublicKeyPair] = [pair.police_key.public(), NEXT]
    data = seal_announcement(
        pair.police, recipient="kh-ratanakiri-police", keys=keys, now=NOW, ttl=timedelta(1)
    ).data
    opened = open_envelope(pair.ratanakiri, data, now=NOW, limits=EnvelopeLimits())
    assert opened.header.kind is ControlKind.KEY_ANNOUNCEMENT
    assert read_announcement(opened, now=NOW, known=[pair.police_key.public()]) == keys
    ended = pair.police_key.validity.valid_until
    with pytest.raises(EnvelopeRejected) as refused:
        read_announcement(opened, now=ended, known=[])
    assert refused.value.reason == "key_not_current"
