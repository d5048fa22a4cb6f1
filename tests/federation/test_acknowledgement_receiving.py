"""Acknowledgements in process, against a real database (docs/PROTOCOL.md 13.3): who may
acknowledge what, duplicates, and giving one once per message however many ask at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.config.acknowledgements import AcknowledgementRule
from gateway.crypto import EnvelopeLimits, Keyring, OwnKeyPair, seal, verify_receipt
from gateway.federation.acknowledgements import (
    AcknowledgementContent,
    How,
    seal_acknowledgement,
)
from gateway.federation.acknowledger import Acknowledger, CannotAcknowledge
from gateway.federation.outgoing import Dispatcher
from gateway.federation.receiver import EnvelopeReceiver
from gateway.ops.metrics import GatewayMetrics
from gateway.policy import PeerRoute, RoutePolicy
from gateway.store import Store
from gateway.wire import Kind, envelope, uuid7
from tests.crypto.support import YEAR
from tests.federation.harness import alert
from tests.store.outbox_support import queue_outgoing

NOW = datetime(2026, 11, 20, tzinfo=UTC)
POLICE, RATANAKIRI, STUNG_TRENG = "vn-gialai-police", "kh-ratanakiri-police", "kh-stungtreng-police"
KEYS = {node: OwnKeyPair.generate("k1", YEAR) for node in (POLICE, RATANAKIRI, STUNG_TRENG)}


def _keyring(node: str) -> Keyring:
    return Keyring(
        node, [KEYS[node]], {peer: [key.public()] for peer, key in KEYS.items() if peer != node}
    )


def _receiver(store: Store, node: str = POLICE) -> EnvelopeReceiver:
    return EnvelopeReceiver(
        keyring=_keyring(node),
        store=store,
        limits=EnvelopeLimits(),
        receivable_kinds={peer: frozenset(Kind) for peer in KEYS if peer != node},
        clock=lambda: NOW,
        metrics=GatewayMetrics(),
    )


def _ack(
    by_node: str, acknowledged: uuid.UUID, case_id: uuid.UUID, who: str = "officer-1"
) -> bytes:
    return seal_acknowledgement(
        _keyring(by_node),
        recipient=POLICE,
        case_id=case_id,
        content=AcknowledgementContent(acknowledged, NOW - timedelta(minutes=1), who, How.CONSOLE),
        now=NOW,
        ttl=timedelta(days=1),
    ).data


def _reason(receipt: bytes, data: bytes) -> str:
    facts = verify_receipt(
        receipt,
        receiver=POLICE,
        receiver_keys=_keyring(POLICE).own_public_keys(),
        envelope_data=data,
    )
    return "accepted" if facts.accepted else facts.reason_code


async def _sent(store: Store, to: str, due: datetime | None) -> tuple[uuid.UUID, uuid.UUID]:
    """Queue a message of ours to `to` (its envelope need not open: nothing sends it here)."""
    case_id = uuid.uuid4()
    message_id = await queue_outgoing(
        store,
        to,
        case_id,
        kind="wanted_person_notice",
        expires_at=NOW + timedelta(days=1),
        acknowledge_due=due,
    )
    return message_id, case_id


async def test_only_the_peer_a_message_went_to_may_acknowledge_it(store: Store) -> None:
    sent, case = await _sent(store, RATANAKIRI, NOW - timedelta(hours=1))
    other, other_case = await _sent(store, STUNG_TRENG, NOW + timedelta(hours=1))
    assert await store.overdue_acknowledgement_counts(NOW) == {
        (RATANAKIRI, "wanted_person_notice"): 1
    }
    cases = [
        # (who sends it, which envelope, expected answer)
        (STUNG_TRENG, _ack(STUNG_TRENG, sent, case), "acknowledgement_unknown_message"),
        (RATANAKIRI, _ack(RATANAKIRI, uuid7(), case), "acknowledgement_unknown_message"),
        (RATANAKIRI, _ack(RATANAKIRI, sent, uuid.uuid4()), "acknowledgement_unknown_message"),
        (RATANAKIRI, _ack(RATANAKIRI, other, other_case), "acknowledgement_unknown_message"),
        (RATANAKIRI, _ack(RATANAKIRI, sent, case), "accepted"),
    ]
    for peer, data, expected in cases:
        [receipt] = await _receiver(store).receive(peer, [data])
        assert _reason(receipt, data) == expected, (peer, expected)
    states = await store.acknowledgement_states([sent, other])
    assert states[sent].status(NOW) == "acknowledged"
    assert (states[sent].acknowledged_by, states[sent].how) == ("officer-1", "console")
    assert states[other].status(NOW) == "awaiting"
    assert await store.overdue_acknowledgement_counts(NOW) == {}
    assert [row.action for row in await store.list_audit()].count("outbox.acknowledged") == 1


async def test_a_duplicate_acknowledgement_is_harmless(store: Store) -> None:
    sent, case = await _sent(store, RATANAKIRI, NOW + timedelta(hours=1))
    first = _ack(RATANAKIRI, sent, case, who="officer-1")
    second = _ack(RATANAKIRI, sent, case, who="officer-2")
    receipts = await _receiver(store).receive(RATANAKIRI, [first, first])
    assert [_reason(r, first) for r in receipts] == ["accepted", "accepted"]
    # A replay gets the stored receipt; another envelope is receipted but changes nothing.
    [replayed] = await _receiver(store).receive(RATANAKIRI, [first])
    assert replayed == receipts[0]
    [later] = await _receiver(store).receive(RATANAKIRI, [second])
    assert _reason(later, second) == "accepted"
    state = (await store.acknowledgement_states([sent]))[sent]
    assert state.acknowledged_by == "officer-1"
    assert state.acknowledged_at == NOW - timedelta(minutes=1)


async def test_a_message_acknowledged_without_a_deadline_shows_acknowledged(store: Store) -> None:
    sent, case = await _sent(store, RATANAKIRI, None)
    assert await store.acknowledgement_states([sent]) == {}
    data = _ack(RATANAKIRI, sent, case)
    [receipt] = await _receiver(store).receive(RATANAKIRI, [data])
    assert _reason(receipt, data) == "accepted"
    state = (await store.acknowledgement_states([sent]))[sent]
    assert (state.due_at, state.status(NOW)) == (None, "acknowledged")


async def test_a_recorded_deadline_and_acknowledgement_never_change(store: Store) -> None:
    sent, case = await _sent(store, RATANAKIRI, NOW)
    await _receiver(store).receive(RATANAKIRI, [_ack(RATANAKIRI, sent, case)])
    async with store._pool.acquire() as connection:
        for change in ("due_at = due_at + interval '1 day'", "acknowledged_by = 'someone'"):
            with pytest.raises(asyncpg.CheckViolationError):
                await connection.execute(
                    f"UPDATE acknowledgement_deadlines SET {change} WHERE message_id = $1", sent
                )


async def _received_at_ratanakiri(store: Store, reference: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A hotline alert from vn-gialai-police, received at kh-ratanakiri-police: its message id
    and case."""
    case, message_id = uuid.uuid4(), uuid7()
    data = seal(
        _keyring(POLICE),
        recipient=RATANAKIRI,
        kind=Kind.HOTLINE_ALERT,
        case_id=case,
        message_id=message_id,
        payload=envelope.SealedPayload(message=alert(reference, str(case)).SerializeToString()),
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
    ).data
    await _receiver(store, RATANAKIRI).receive(POLICE, [data])
    return message_id, case


async def test_acknowledging_at_once_from_everywhere_gives_one_acknowledgement(
    store: Store,
) -> None:
    """The receiving node: the console, the API and a local system's handled, at once."""
    message_id, case = await _received_at_ratanakiri(store, "TB-7")
    acknowledger = Acknowledger(
        keyring=_keyring(RATANAKIRI), store=store, ttl=timedelta(days=1), clock=lambda: NOW
    )
    received = await acknowledger.received(message_id)
    assert received is not None
    assert received.case_id == case
    results = await asyncio.gather(
        *(
            acknowledger.acknowledge(received, by=by, how=how, actor=by)
            for by, how in (
                ("console-user", How.CONSOLE),
                ("api-user", How.LOCAL_API),
                ("records", How.LOCAL_HANDLED),
            )
        )
    )
    assert sum(created for _, created in results) == 1
    assert len({given for given, _ in results}) == 1
    queued = await store.list_outbox(limit=10)
    assert [(row.kind, row.recipient, row.case_id) for row in queued] == [
        ("acknowledgement", POLICE, case)
    ]
    again, created = await acknowledger.acknowledge(received, by="x", how=How.CONSOLE, actor="x")
    assert (again, created) == (results[0][0], False)


async def test_a_deadline_is_fixed_when_the_message_is_queued(store: Store) -> None:
    """A later config (another `within`) moves no deadline already running."""

    def dispatcher(within: timedelta | None) -> Dispatcher:
        return Dispatcher(
            keyring=_keyring(POLICE),
            store=store,
            sendable_kinds={RATANAKIRI: frozenset(Kind)},
            policy=RoutePolicy({RATANAKIRI: PeerRoute("KH")}),
            message_ttl=timedelta(days=1),
            clock=lambda: NOW,
            acknowledgements=[]
            if within is None
            else [AcknowledgementRule(Kind.HOTLINE_ALERT, within)],
        )

    [first] = await dispatcher(timedelta(hours=1)).submit(alert("TB-1"), [RATANAKIRI], actor="t")
    [second] = await dispatcher(timedelta(hours=5)).submit(alert("TB-2"), [RATANAKIRI], actor="t")
    [unruled] = await dispatcher(None).submit(alert("TB-3"), [RATANAKIRI], actor="t")
    states = await store.acknowledgement_states(
        [first.message_id, second.message_id, unruled.message_id]
    )
    assert states[first.message_id].due_at == NOW + timedelta(hours=1)
    assert states[second.message_id].due_at == NOW + timedelta(hours=5)
    assert unruled.message_id not in states
    assert states[first.message_id].status(NOW + timedelta(hours=2)) == "overdue"
    assert states[second.message_id].status(NOW + timedelta(hours=2)) == "awaiting"


async def test_a_sender_no_longer_a_peer_cannot_be_acknowledged(store: Store) -> None:
    message_id, _ = await _received_at_ratanakiri(store, "TB-8")
    # The operator removed the peer from the config since.
    alone = Keyring(RATANAKIRI, [KEYS[RATANAKIRI]], {})
    acknowledger = Acknowledger(
        keyring=alone, store=store, ttl=timedelta(days=1), clock=lambda: NOW
    )
    received = await acknowledger.received(message_id)
    assert received is not None
    with pytest.raises(CannotAcknowledge):
        await acknowledger.acknowledge(received, by="x", how=How.LOCAL_API, actor="x")
    assert await store.list_outbox(limit=10) == []
    assert await store.given_acknowledgement(POLICE, message_id) is None
