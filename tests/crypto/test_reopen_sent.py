"""reopen_sent: the sender reads its own outbox copy, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from gateway.crypto import EnvelopeRejected, Keyring, RejectReason, reopen_sent
from gateway.wire import envelope
from tests.crypto.support import T0, make_pair, seal_simple

PAIR = make_pair()


def test_the_sender_opens_its_own_copy_long_after_it_expired() -> None:
    sealed = seal_simple(PAIR.police, created_at=T0, lifetime=timedelta(minutes=1))
    opened = reopen_sent(PAIR.police, sealed.data)
    assert opened.payload.message == b"\x12\x05TN-01"
    assert opened.header.message_id == sealed.header.message_id
    assert opened.sender_key == PAIR.police_key.public()
    assert opened.envelope_sha256 == sealed.sha256


def _flip_ciphertext(data: bytes) -> bytes:
    wire = envelope.Envelope.FromString(data)
    wire.ciphertext = wire.ciphertext[:-1] + bytes([wire.ciphertext[-1] ^ 1])
    return wire.SerializeToString()


def _forget_peer(keyring: Keyring) -> Keyring:
    return Keyring(keyring.node_id, [PAIR.police_key], {})


@pytest.mark.parametrize(
    ("reader", "tamper", "reason"),
    [
        # The peer's keyring is not the sender's: it must use reopen_stored.
        (PAIR.ratanakiri, lambda data: data, RejectReason.UNKNOWN_SENDER),
        (PAIR.police, _flip_ciphertext, RejectReason.BAD_SIGNATURE),
        (_forget_peer(PAIR.police), lambda data: data, RejectReason.UNKNOWN_KEY),
        (PAIR.police, lambda data: data[:-3], RejectReason.HEADER_MALFORMED),
    ],
)
def test_refused(reader: Keyring, tamper: Callable[[bytes], bytes], reason: RejectReason) -> None:
    sealed = seal_simple(PAIR.police)
    with pytest.raises(EnvelopeRejected) as refused:
        reopen_sent(reader, tamper(sealed.data))
    assert refused.value.reason == reason
