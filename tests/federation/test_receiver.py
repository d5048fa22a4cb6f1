"""The receiver's per-envelope decisions, in process, against a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.crypto import (
    EnvelopeLimits,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    parse_header,
    verify_receipt,
)
from gateway.crypto.envelope import seal
from gateway.federation.announcements import seal_announcement
from gateway.federation.receiver import EnvelopeReceiver
from gateway.federation.rollover import learn_recorded
from gateway.ops.metrics import GatewayMetrics
from gateway.store import Store
from gateway.wire import Kind, envelope, uuid7
from tests.crypto.support import make_pair
from tests.federation.harness import alert

PAIR = make_pair()
NOW = datetime(2026, 11, 20, tzinfo=UTC)
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


def _receiver(store: Store, kinds: frozenset[str] = frozenset(Kind)) -> EnvelopeReceiver:
    return EnvelopeReceiver(
        keyring=PAIR.ratanakiri,
        store=store,
        limits=EnvelopeLimits(max_envelope_bytes=4096),
        receivable_kinds={POLICE: kinds},
        clock=lambda: NOW,
        metrics=GatewayMetrics(),
    )


def _sealed(
    message_id: uuid.UUID | None = None,
    *,
    summary: str = "x",
    kind: Kind = Kind.HOTLINE_ALERT,
    case_id: uuid.UUID | None = None,
) -> bytes:
    case = case_id or uuid.uuid4()
    message = alert("TB-1", str(case))
    message.hotline_alert.summary = summary
    return seal(
        PAIR.police,
        recipient=RATANAKIRI,
        kind=kind,
        case_id=case,
        message_id=message_id or uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    ).data


def _reason(receipt: bytes, data: bytes) -> str:
    facts = verify_receipt(
        receipt,
        receiver=RATANAKIRI,
        receiver_keys=PAIR.ratanakiri.own_public_keys(),
        envelope_data=data,
    )
    return "accepted" if facts.accepted else facts.reason_code


async def test_two_different_envelopes_with_one_message_id_keep_only_the_first(
    store: Store,
) -> None:
    message_id = uuid7()
    first, second = _sealed(message_id, summary="a"), _sealed(message_id, summary="b")
    receipts = await _receiver(store).receive(POLICE, [first, second])
    assert [_reason(r, d) for r, d in zip(receipts, [first, second], strict=True)] == [
        "accepted",
        "duplicate_message_id",
    ]
    later = await _receiver(store).receive(POLICE, [second, first])
    assert later[1] == receipts[0]
    assert _reason(later[0], second) == "duplicate_message_id"
    assert len(await store.list_inbox()) == 1


async def test_envelope_level_refusals(store: Store) -> None:
    big = _sealed(summary="y" * 5000)
    kind_in_header_differs = _sealed(kind=Kind.WANTED_PERSON_NOTICE)
    message = alert("TB-1", str(uuid.uuid4()))
    case_in_header_differs = seal(
        PAIR.police,
        recipient=RATANAKIRI,
        kind=Kind.HOTLINE_ALERT,
        case_id=uuid.uuid4(),
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    ).data
    batch = [big, kind_in_header_differs, case_in_header_differs, b"\x0a\x01"]
    receipts = await _receiver(store).receive(POLICE, batch)
    assert [_reason(r, d) for r, d in zip(receipts, batch, strict=True)] == [
        "envelope_too_large",
        "payload_mismatch",
        "payload_mismatch",
        "header_malformed",
    ]
    alert_data = _sealed()
    [refused] = await _receiver(store, frozenset({"wanted_person_notice"})).receive(
        POLICE, [alert_data]
    )
    assert _reason(refused, alert_data) == "kind_not_allowed"
    assert await store.list_inbox() == []


async def test_identical_envelopes_in_one_batch_share_one_receipt(store: Store) -> None:
    data = _sealed()
    receipts = await _receiver(store).receive(POLICE, [data, data])
    assert receipts[0] == receipts[1]
    assert _reason(receipts[0], data) == "accepted"
    assert len(await store.list_inbox()) == 1


async def test_only_size_and_header_refusals_name_no_message_id(store: Store) -> None:
    message_id = uuid7()
    oversized = _sealed(message_id, summary="y" * 5000)
    mismatched = _sealed(uuid7(), kind=Kind.WANTED_PERSON_NOTICE)
    batch = [oversized, b"\x0a\x01", mismatched]
    receipts = await _receiver(store).receive(POLICE, batch)
    named = [
        verify_receipt(
            receipt,
            receiver=RATANAKIRI,
            receiver_keys=PAIR.ratanakiri.own_public_keys(),
            envelope_data=data,
        )
        for receipt, data in zip(receipts, batch, strict=True)
    ]
    assert [(facts.reason_code, facts.message_id is None) for facts in named] == [
        ("envelope_too_large", True),
        ("header_malformed", True),
        ("payload_mismatch", False),
    ]


@pytest.mark.parametrize(("refreshes", "expected"), [(True, "accepted"), (False, "unknown_key")])
async def test_a_replica_looks_up_a_key_another_replica_recorded_before_refusing(
    store: Store, refreshes: bool, expected: str
) -> None:
    police_k1 = PAIR.police_key
    police_k2 = OwnKeyPair.generate(
        "k2", KeyValidity(NOW - timedelta(hours=1), NOW + timedelta(days=365))
    )
    police = Keyring(
        POLICE, [police_k1, police_k2], {RATANAKIRI: PAIR.ratanakiri.own_public_keys()}
    )
    police.learn({}, {RATANAKIRI: frozenset({"k2"})})
    announcement = seal_announcement(
        police,
        recipient=RATANAKIRI,
        keys=[police_k1.public(), police_k2.public()],
        now=NOW,
        ttl=timedelta(days=1),
    ).data

    def replica() -> tuple[EnvelopeReceiver, Keyring]:
        keyring = Keyring(RATANAKIRI, [PAIR.ratanakiri_key], {POLICE: [police_k1.public()]})

        async def refresh() -> None:
            await learn_recorded(keyring, store)

        return EnvelopeReceiver(
            keyring=keyring,
            store=store,
            limits=EnvelopeLimits(max_envelope_bytes=4096),
            receivable_kinds={POLICE: frozenset(Kind)},
            clock=lambda: NOW,
            metrics=GatewayMetrics(),
            refresh_keys=refresh if refreshes else None,
        ), keyring

    first, _ = replica()
    second, _ = replica()
    [receipt] = await first.receive(POLICE, [announcement])
    assert _reason(receipt, announcement) == "accepted"
    police.learn({}, {})  # the acceptance reached police: it uses k2 from now on
    message = alert("TB-2", str(uuid.uuid4()))
    data = seal(
        police,
        recipient=RATANAKIRI,
        kind=Kind.HOTLINE_ALERT,
        case_id=uuid.UUID(message.case_id),
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    ).data
    assert parse_header(data)[1].sender_key_id == "k2"
    [answer] = await second.receive(POLICE, [data])
    assert _reason(answer, data) == expected
