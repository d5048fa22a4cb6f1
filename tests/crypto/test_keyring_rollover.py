"""The keyring's rollover side: recorded peer keys merged over configured ones, and own keys
withheld from a peer until it has accepted their announcement."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, PublicKeyPair
from gateway.crypto.keys import merge_peer_keys
from tests.crypto.support import T0, YEAR

PEER = "kh-ratanakiri-police"
CONFIGURED = OwnKeyPair.generate("k1", YEAR).public()
OTHER = OwnKeyPair.generate("k1", YEAR).public()  # same id, other public keys
NEXT = OwnKeyPair.generate("k2", KeyValidity(T0 + timedelta(days=300), T0 + timedelta(days=700)))


def _ending(key: PublicKeyPair, days: int) -> PublicKeyPair:
    window = KeyValidity(key.validity.valid_from, T0 + timedelta(days=days))
    return PublicKeyPair(key.key_id, key.signing_public, key.encryption_public, window)


def _widened(key: PublicKeyPair) -> PublicKeyPair:
    window = KeyValidity(T0 - timedelta(days=30), T0 + timedelta(days=999))
    return PublicKeyPair(key.key_id, key.signing_public, key.encryption_public, window)


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ([], {"k1": YEAR}),
        ([NEXT.public()], {"k1": YEAR, "k2": NEXT.validity}),
        ([_ending(CONFIGURED, 307)], {"k1": KeyValidity(T0, T0 + timedelta(days=307))}),
        ([_widened(CONFIGURED)], {"k1": YEAR}),
        ([_ending(OTHER, 10)], {"k1": YEAR}),
    ],
    ids=["nothing", "new-key-added", "window-shortened", "never-widened", "other-keys-ignored"],
)
def test_recorded_keys_add_and_shorten_but_never_override_configured_ones(
    recorded: list[PublicKeyPair], expected: dict[str, KeyValidity]
) -> None:
    merged = merge_peer_keys([CONFIGURED], recorded)
    assert {key.key_id: key.validity for key in merged} == expected
    assert next(k for k in merged if k.key_id == "k1").signing_public == CONFIGURED.signing_public


def test_a_window_shortened_to_its_start_or_before_is_ignored() -> None:
    ended = PublicKeyPair(
        NEXT.key_id,
        NEXT.public().signing_public,
        NEXT.public().encryption_public,
        KeyValidity(T0, T0 + timedelta(days=300)),
    )
    assert merge_peer_keys([NEXT.public()], [ended]) == [NEXT.public()]
    assert merge_peer_keys([NEXT.public()], [_ending(NEXT.public(), 350)]) == [
        _ending(NEXT.public(), 350)
    ]


def test_learned_keys_verify_and_seal_from_their_valid_from() -> None:
    own = OwnKeyPair.generate("k1", YEAR)
    keyring = Keyring("vn-gialai-police", [own], {PEER: [CONFIGURED]})
    assert keyring.peer_key(PEER, "k2") is None
    keyring.learn({PEER: [NEXT.public()]}, {})
    assert keyring.peer_key(PEER, "k2") == NEXT.public()
    assert keyring.peer_key_at(PEER, T0 + timedelta(days=299)) == CONFIGURED
    assert keyring.peer_key_at(PEER, T0 + timedelta(days=301)) == NEXT.public()
    keyring.learn({}, {})
    assert keyring.peer_key(PEER, "k2") is None


@pytest.mark.parametrize(
    ("at_day", "withheld", "expected"),
    [
        (301, frozenset(), "k2"),
        (301, frozenset({"k2"}), "k1"),
        # Once the old key has ended, the new one is the only one left: used regardless.
        (400, frozenset({"k2"}), "k2"),
    ],
    ids=["accepted", "withheld", "old-key-ended"],
)
def test_a_withheld_own_key_is_passed_over_for_that_peer_only(
    at_day: int, withheld: frozenset[str], expected: str
) -> None:
    old = OwnKeyPair.generate("k1", YEAR)
    keyring = Keyring("vn-gialai-police", [old], {PEER: [CONFIGURED], "other": [OTHER]})
    keyring.set_own([old, NEXT])
    keyring.learn({}, {PEER: withheld})
    at = T0 + timedelta(days=at_day)
    assert keyring.own_key_at(at, PEER).key_id == expected  # type: ignore[union-attr]
    assert keyring.own_key_at(at, "other").key_id == "k2"  # type: ignore[union-attr]
    assert keyring.own_key_at(at).key_id == "k2"  # type: ignore[union-attr]


def test_an_own_key_not_announced_yet_is_withheld_from_every_peer() -> None:
    old = OwnKeyPair.generate("k1", YEAR)
    keyring = Keyring("vn-gialai-police", [old, NEXT], {PEER: [CONFIGURED], "other": [OTHER]})
    at = T0 + timedelta(days=301)
    keyring.learn({}, {}, frozenset({"k2"}))
    assert {keyring.own_key_at(at, peer).key_id for peer in (PEER, "other")} == {"k1"}  # type: ignore[union-attr]
    keyring.learn({}, {})
    assert {keyring.own_key_at(at, peer).key_id for peer in (PEER, "other")} == {"k2"}  # type: ignore[union-attr]
