from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.crypto import (
    Keyring,
    OwnKeyPair,
    ReceiptInvalid,
    RejectReason,
    sign_receipt,
    verify_receipt,
)
from gateway.wire import envelope
from tests.crypto.support import T0, make_pair, seal_simple

PAIR = make_pair()
SEALED = seal_simple(PAIR.police)
RECEIVED = T0 + timedelta(days=1, seconds=3)


def _receipt(rejection: str | None = None) -> bytes:
    return sign_receipt(
        PAIR.ratanakiri,
        envelope_data=SEALED.data,
        message_id=SEALED.header.message_id,
        sender="vn-gialai-police",
        received_at=RECEIVED,
        rejection=rejection,
    )


def test_a_receipt_verifies_for_a_third_party_holding_only_public_keys() -> None:
    public = [PAIR.ratanakiri_key.public()]
    facts = verify_receipt(
        _receipt(), receiver="kh-ratanakiri-police", receiver_keys=public, envelope_data=SEALED.data
    )
    assert facts.accepted
    assert facts.message_id == SEALED.header.message_id
    assert facts.envelope_sha256 == SEALED.sha256
    assert facts.received_at == RECEIVED
    assert (facts.sender, facts.receiver, facts.reason_code) == (
        "vn-gialai-police",
        "kh-ratanakiri-police",
        "",
    )


def test_a_signed_rejection_carries_its_reason() -> None:
    facts = verify_receipt(
        _receipt(RejectReason.MESSAGE_EXPIRED),
        receiver="kh-ratanakiri-police",
        receiver_keys=PAIR.ratanakiri.own_public_keys(),
    )
    assert not facts.accepted
    assert facts.reason_code == "message_expired"


def test_a_receipt_for_other_bytes_does_not_prove_delivery() -> None:
    other = seal_simple(PAIR.police)
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(
            _receipt(),
            receiver="kh-ratanakiri-police",
            receiver_keys=PAIR.ratanakiri.own_public_keys(),
            envelope_data=other.data,
        )
    assert caught.value.reason == "envelope_mismatch"


def test_a_forged_receipt_does_not_verify() -> None:
    # The sender itself forges a receipt under the receiver's name and key id.
    forger_key = OwnKeyPair(
        "k1", PAIR.police_key.signing_key, PAIR.police_key.encryption_key, PAIR.police_key.validity
    )
    forger = Keyring("kh-ratanakiri-police", [forger_key], {})
    forged = sign_receipt(
        forger,
        envelope_data=SEALED.data,
        message_id=SEALED.header.message_id,
        sender="vn-gialai-police",
        received_at=RECEIVED,
    )
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(
            forged, receiver="kh-ratanakiri-police", receiver_keys=PAIR.ratanakiri.own_public_keys()
        )
    assert caught.value.reason == "bad_signature"


def test_an_altered_receipt_body_does_not_verify() -> None:
    receipt = envelope.Receipt.FromString(_receipt(RejectReason.BAD_SIGNATURE))
    body = envelope.ReceiptBody.FromString(receipt.body)
    body.status = envelope.RECEIPT_STATUS_ACCEPTED
    body.reason_code = ""
    receipt.body = body.SerializeToString()
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(
            receipt.SerializeToString(),
            receiver="kh-ratanakiri-police",
            receiver_keys=PAIR.ratanakiri.own_public_keys(),
        )
    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize(
    ("receiver", "data", "reason"),
    [
        ("vn-gialai-blo", None, "wrong_receiver"),
        ("kh-ratanakiri-police", b"\xff\xff", "receipt_malformed"),
    ],
)
def test_receipts_that_name_the_wrong_receiver_or_do_not_parse(
    receiver: str, data: bytes | None, reason: str
) -> None:
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(
            data or _receipt(), receiver=receiver, receiver_keys=PAIR.ratanakiri.own_public_keys()
        )
    assert caught.value.reason == reason


def test_a_receipt_under_an_unpublished_key_is_refused() -> None:
    with pytest.raises(ReceiptInvalid) as caught:
        verify_receipt(
            _receipt(),
            receiver="kh-ratanakiri-police",
            receiver_keys=[OwnKeyPair.generate("k2", PAIR.police_key.validity).public()],
        )
    assert caught.value.reason == "unknown_key"
