"""sealed_length predicts seal()'s output length exactly, across the varint boundaries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from gateway.crypto import sealed_length
from gateway.wire import Kind, envelope
from tests.crypto.support import T0, make_pair, seal_simple


@pytest.mark.parametrize("size", [0, 1, 87, 88, 127, 128, 16_343, 16_344, 70_000, 2_100_000])
def test_sealed_length_is_the_length_seal_gives(size: int) -> None:
    pair = make_pair()
    message = b"x" * size
    created = T0 + timedelta(days=1)
    sealed = seal_simple(pair.police, message=message, created_at=created)
    predicted = sealed_length(
        pair.police,
        recipient="kh-ratanakiri-police",
        kind=Kind.WANTED_PERSON_NOTICE,
        case_id=uuid.uuid4(),
        created_at=created,
        expires_at=created + timedelta(days=7),
        plaintext_length=envelope.SealedPayload(message=message).ByteSize(),
    )
    assert predicted == len(sealed.data)


def test_sealed_length_needs_the_keys_seal_needs() -> None:
    pair = make_pair()
    with pytest.raises(ValueError, match="no key pair"):
        sealed_length(
            pair.police,
            recipient="xx-nobody",
            kind=Kind.HOTLINE_ALERT,
            case_id=uuid.uuid4(),
            created_at=T0,
            expires_at=T0 + timedelta(days=1),
            plaintext_length=10,
        )
