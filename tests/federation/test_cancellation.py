"""Confirmed cancellation in process, against real PostgreSQL databases (one per node):
a cancellation applied at a recipient (withdrawals, the case marked, the confirmation queued),
confirmations judged at the sender (table-driven), and the Dispatcher's fan-out to every peer
of the case, less the ones the onward rule forbids. Through real gateway processes:
tests/federation/test_cancellation_e2e.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gateway.crypto import (
    EnvelopeLimits,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    open_envelope,
    seal,
    verify_receipt,
)
from gateway.federation.cancellation import confirmation_payload, read_confirmation
from gateway.federation.outgoing import Dispatcher, SubmissionRefused
from gateway.federation.receiver import EnvelopeReceiver
from gateway.ops.metrics import GatewayMetrics
from gateway.policy import PeerRoute, RoutePolicy
from gateway.store import EmbeddedPostgres, IncomingEnvelope, Store
from gateway.wire import ControlKind, Kind, cancellation, canonical, envelope, uuid7
from tests.federation.harness import alert
from tests.store.outbox_support import queue_outgoing

POLICE, RATANAKIRI, STUNGTRENG = "vn-gialai-police", "kh-ratanakiri-police", "kh-stungtreng-police"
NODES = (POLICE, RATANAKIRI, STUNGTRENG)
YEAR = KeyValidity(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC))
CLIENT_A, CLIENT_B = "police-records", "border-desk"


@dataclass(frozen=True)
class Keys:
    rings: dict[str, Keyring]


def _keys() -> Keys:
    pairs = {node: OwnKeyPair.generate("k1", YEAR) for node in NODES}
    return Keys(
        {
            node: Keyring(
                node,
                [pairs[node]],
                {peer: [pairs[peer].public()] for peer in NODES if peer != node},
            )
            for node in NODES
        }
    )


@pytest.fixture
async def other_store(postgres: EmbeddedPostgres) -> AsyncIterator[Store]:
    """A second node's database."""
    dsn = await postgres.ensure_database(f"test_{uuid.uuid4().hex[:16]}")
    opened = await Store.connect(dsn)
    await opened.migrate()
    yield opened
    await opened.close()


def _receiver(keyring: Keyring, store: Store, metrics: GatewayMetrics) -> EnvelopeReceiver:
    return EnvelopeReceiver(
        keyring=keyring,
        store=store,
        limits=EnvelopeLimits(),
        receivable_kinds={peer: frozenset(Kind) for peer in NODES},
        clock=lambda: datetime.now(UTC),
        metrics=metrics,
        local_recipients={kind.value: (CLIENT_A, CLIENT_B) for kind in Kind},
    )


def _sealed(keys: Keys, message: canonical.Message, recipient: str = RATANAKIRI) -> bytes:
    now = datetime.now(UTC)
    return seal(
        keys.rings[POLICE],
        recipient=recipient,
        kind=Kind.HOTLINE_ALERT,
        case_id=uuid.UUID(message.case_id),
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=now,
        expires_at=now + timedelta(days=1),
    ).data


def _accepted(keys: Keys, receiver: str, receipt: bytes, data: bytes) -> str:
    facts = verify_receipt(
        receipt,
        receiver=receiver,
        receiver_keys=keys.rings[receiver].own_public_keys(),
        envelope_data=data,
    )
    return "accepted" if facts.accepted else facts.reason_code


def _cancel(case_id: uuid.UUID) -> canonical.Message:
    message = alert("TB-1", str(case_id))
    message.action = canonical.ACTION_CANCEL
    return message


async def test_a_cancellation_withdraws_what_has_not_gone_out_and_is_confirmed(
    store: Store,
) -> None:
    keys = _keys()
    metrics = GatewayMetrics()
    receiver = _receiver(keys.rings[RATANAKIRI], store, metrics)
    case_id = uuid.uuid4()
    other_case = alert("TB-2", str(uuid.uuid4()))
    first, second = alert("TB-1", str(case_id)), alert("TB-1", str(case_id))
    batch = [_sealed(keys, m) for m in (first, second, other_case)]
    receipts = await receiver.receive(POLICE, batch)
    assert {_accepted(keys, RATANAKIRI, r, d) for r, d in zip(receipts, batch, strict=True)} == {
        "accepted"
    }
    # CLIENT_A: the first message delivered, the second claimed by its worker (it may be
    # at the webhook already); CLIENT_B: nothing gone out, the second one held aside.
    a_first, a_second, _ = await store.next_local_deliveries(CLIENT_A, 10)
    await store.mark_local_delivered(a_first, CLIENT_A, "webhook")
    assert await store.claim_local_delivery(a_second.id)
    _, b_second, _ = await store.next_local_deliveries(CLIENT_B, 10)
    assert await store.hold_local(b_second, CLIENT_B, "cannot_encode:x")

    cancelling = _sealed(keys, _cancel(case_id))
    [receipt] = await receiver.receive(POLICE, [cancelling])
    assert _accepted(keys, RATANAKIRI, receipt, cancelling) == "accepted"

    states = {
        (row.client, row.message_id): row.state
        for row in await store.list_local_deliveries(limit=20)
    }
    ids = [
        uuid.UUID(
            bytes=envelope.EnvelopeHeader.FromString(
                envelope.Envelope.FromString(d).header
            ).message_id
        )
        for d in [*batch, cancelling]
    ]
    assert states == {
        (CLIENT_A, ids[0]): "delivered",
        (CLIENT_A, ids[1]): "delivering",  # claimed: it finishes, never withdrawn
        (CLIENT_A, ids[2]): "pending",  # another case
        (CLIENT_A, ids[3]): "pending",  # the cancellation itself is delivered
        (CLIENT_B, ids[0]): "withdrawn",
        (CLIENT_B, ids[1]): "withdrawn",  # held aside: it had not gone out either
        (CLIENT_B, ids[2]): "pending",
        (CLIENT_B, ids[3]): "pending",
    }
    assert not await store.claim_local_delivery(
        next(r.id for r in await store.list_local_deliveries(state="withdrawn"))
    )
    [cancelled] = await store.cancelled_cases([case_id, uuid.UUID(other_case.case_id)])
    assert (cancelled.sender, cancelled.case_id, cancelled.withdrawn) == (POLICE, case_id, 2)
    assert metrics.local_withdrawn.labels(CLIENT_B)._value.get() == 2
    audit = [(e.action, e.subject) for e in await store.list_audit(30)]
    assert audit.count(("local.withdrawn", str(ids[0]))) == 1
    assert ("case.cancelled", str(case_id)) in audit

    # The confirmation waits in the outbox for the sender, and says what was done.
    [queued] = [row for row in await store.list_outbox() if row.recipient == POLICE]
    assert queued.kind == "cancellation_confirmation"
    found = await store.get_outbox(queued.message_id)
    assert found is not None
    assert found[1] is not None
    data = found[1]
    opened = open_envelope(keys.rings[POLICE], data, now=datetime.now(UTC), limits=EnvelopeLimits())
    confirmed = read_confirmation(opened)
    assert (confirmed.cancellation_message_id, confirmed.case_id, confirmed.withdrawn) == (
        ids[3],
        case_id,
        2,
    )

    # A replay is answered with the same receipt and applies nothing again.
    assert await receiver.receive(POLICE, [cancelling]) == [receipt]
    assert len([row for row in await store.list_outbox() if row.recipient == POLICE]) == 1


def _confirmation(
    keys: Keys,
    *,
    sender: str,
    cancellation_id: uuid.UUID,
    case_id: uuid.UUID,
    state: int = cancellation.CASE_STATE_CANCELLED,
    withdrawn: int = 1,
) -> bytes:
    now = datetime.now(UTC)
    payload = confirmation_payload(
        cancellation_message_id=cancellation_id,
        case_id=case_id,
        confirmed_at=now,
        withdrawn=withdrawn,
    )
    message = cancellation.CancellationConfirmation.FromString(payload.message)
    message.case_state = state  # type: ignore[assignment]
    return seal(
        keys.rings[sender],
        recipient=POLICE,
        kind=ControlKind.CANCELLATION_CONFIRMATION,
        case_id=case_id,
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=now,
        expires_at=now + timedelta(days=1),
    ).data


async def _queued_cancellation(store: Store, recipient: str, case_id: uuid.UUID) -> uuid.UUID:
    return await queue_outgoing(store, recipient, case_id, cancels=True)


@pytest.mark.parametrize(
    ("who", "which", "state", "expected"),
    [
        ("recipient", "sent", cancellation.CASE_STATE_CANCELLED, "accepted"),
        ("other_peer", "sent", cancellation.CASE_STATE_CANCELLED, "cancellation_unknown"),
        ("recipient", "unknown", cancellation.CASE_STATE_CANCELLED, "cancellation_unknown"),
        (
            "recipient",
            "not_a_cancellation",
            cancellation.CASE_STATE_CANCELLED,
            "cancellation_unknown",
        ),
        ("recipient", "sent", cancellation.CASE_STATE_UNSPECIFIED, "confirmation_malformed"),
    ],
)
async def test_the_sender_takes_a_confirmation_only_for_its_cancellation_from_its_recipient(
    store: Store, who: str, which: str, state: int, expected: str
) -> None:
    keys = _keys()
    receiver = _receiver(keys.rings[POLICE], store, GatewayMetrics())
    case_id = uuid.uuid4()
    sent = await _queued_cancellation(store, RATANAKIRI, case_id)
    plain = await queue_outgoing(store, RATANAKIRI, case_id)
    sender = RATANAKIRI if who == "recipient" else STUNGTRENG
    confirmed_id = {"sent": sent, "unknown": uuid7(), "not_a_cancellation": plain}[which]
    data = _confirmation(
        keys, sender=sender, cancellation_id=confirmed_id, case_id=case_id, state=state
    )
    [receipt] = await receiver.receive(sender, [data])
    assert _accepted(keys, POLICE, receipt, data) == expected
    [status] = await store.cancellation_status(case_id)
    assert status.progress == ("confirmed" if expected == "accepted" else "sent")


async def test_a_second_confirmation_is_harmless_and_the_first_counts(store: Store) -> None:
    keys = _keys()
    receiver = _receiver(keys.rings[POLICE], store, GatewayMetrics())
    case_id = uuid.uuid4()
    sent = await _queued_cancellation(store, RATANAKIRI, case_id)
    first = _confirmation(keys, sender=RATANAKIRI, cancellation_id=sent, case_id=case_id)
    second = _confirmation(
        keys, sender=RATANAKIRI, cancellation_id=sent, case_id=case_id, withdrawn=5
    )
    [one] = await receiver.receive(RATANAKIRI, [first])
    [two] = await receiver.receive(RATANAKIRI, [second])
    assert await receiver.receive(RATANAKIRI, [first]) == [one]
    assert {_accepted(keys, POLICE, r, d) for r, d in ((one, first), (two, second))} == {"accepted"}
    [status] = await store.cancellation_status(case_id)
    assert (status.recipient, status.progress, status.withdrawn) == (RATANAKIRI, "confirmed", 1)
    audit = [e.action for e in await store.list_audit(10)]
    assert audit.count("cancellation.confirmed") == 2


def _dispatcher(keys: Keys, store: Store) -> Dispatcher:
    return Dispatcher(
        keyring=keys.rings[POLICE],
        store=store,
        sendable_kinds={peer: frozenset(Kind) for peer in (RATANAKIRI, STUNGTRENG)},
        policy=RoutePolicy({peer: PeerRoute("KH") for peer in (RATANAKIRI, STUNGTRENG)}),
        message_ttl=timedelta(days=7),
        clock=lambda: datetime.now(UTC),
    )


@pytest.mark.parametrize(
    ("action", "opened_by", "expected"),
    [
        # Opened here, sent to both; today's rules route it to Ratanakiri only.
        (canonical.ACTION_CANCEL, None, {RATANAKIRI, STUNGTRENG}),
        (canonical.ACTION_UPDATE, None, {RATANAKIRI, STUNGTRENG}),
        (canonical.ACTION_ISSUE, None, {RATANAKIRI}),
        # Opened by Ratanakiri's restricted alert: Stung Treng got an earlier message (before
        # the onward rule existed), but may not get this one; back to the origin is allowed.
        (canonical.ACTION_CANCEL, RATANAKIRI, {RATANAKIRI}),
    ],
)
async def test_a_cancellation_goes_to_every_peer_of_its_case_the_onward_rule_allows(
    store: Store, action: int, opened_by: str | None, expected: set[str]
) -> None:
    keys = _keys()
    case_id = uuid.uuid4()
    if opened_by is not None:
        await store.store_incoming(
            [
                IncomingEnvelope(
                    sender=opened_by,
                    message_id=uuid7(),
                    case_id=case_id,
                    kind="hotline_alert",
                    envelope=b"sealed",
                    envelope_sha256=b"\1" * 32,
                    receipt=b"receipt",
                    created_at=datetime.now(UTC),
                    received_at=datetime.now(UTC) - timedelta(hours=1),
                    handling="restricted",
                )
            ]
        )
    for peer in (RATANAKIRI, STUNGTRENG):
        # Straight into the outbox: the rule would refuse Stung Treng today.
        await queue_outgoing(store, peer, case_id, handling="restricted")
    message = alert("TB-1", str(case_id))
    message.action = action  # type: ignore[assignment]
    # Today's choice (a rule or the caller): Ratanakiri only.
    queued = await _dispatcher(keys, store).submit(message, [RATANAKIRI], actor="test")
    assert {item.recipient for item in queued} == expected
    if action == canonical.ACTION_CANCEL:
        status = await store.cancellation_status(case_id)
        assert {s.recipient for s in status} == expected
    audit = {e.action: e.detail for e in await store.list_audit(20)}
    if expected != {RATANAKIRI}:
        assert audit["outbox.case_fan_out"]["added"] == STUNGTRENG
    elif opened_by is not None:
        assert audit["outbox.case_fan_out"]["left_out"] == f"{STUNGTRENG}:onward_not_allowed"
        assert "outbox.onward_refused" in audit


async def test_a_cancellation_with_no_route_today_still_goes_to_the_peers_of_its_case(
    store: Store,
) -> None:
    """As a drop folder judges each record (check_links): no rule routes it, no peer named."""
    keys = _keys()
    case_id = uuid.uuid4()
    for peer in (RATANAKIRI, STUNGTRENG):
        await queue_outgoing(store, peer, case_id, handling="normal")
    dispatcher = _dispatcher(keys, store)
    cancel = _cancel(case_id)
    assert await dispatcher.check_links(cancel, [], "test") == (RATANAKIRI, STUNGTRENG)
    issue = alert("TB-1", str(case_id))
    with pytest.raises(SubmissionRefused) as refused:
        await dispatcher.check_links(issue, [], "test")
    assert refused.value.code == "no_route"
