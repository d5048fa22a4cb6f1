"""Held local deliveries against a real PostgreSQL: the transitions the trigger allows,
requeue back into queue order, summaries. (Retention: tests/ops/test_retention.py.)"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.store import IncomingEnvelope, Store
from gateway.wire import uuid7

CLIENT = "police-records"


async def _incoming(store: Store, count: int, sender: str = "kh-ratanakiri-police") -> None:
    now = datetime.now(UTC)
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender=sender,
                message_id=uuid7(),
                case_id=uuid.uuid4(),
                kind="hotline_alert",
                envelope=f"sealed {n}".encode(),
                envelope_sha256=hashlib.sha256(f"sealed {n}".encode()).digest(),
                receipt=b"receipt",
                created_at=now,
                received_at=now,
                local_recipients=(CLIENT,),
            )
            for n in range(count)
        ]
    )


async def test_a_held_delivery_leaves_the_queue_and_comes_back_in_its_place(
    store: Store,
) -> None:
    await _incoming(store, 3)
    first, second, third = await store.next_local_deliveries(CLIENT, 10)
    assert await store.hold_local(second, CLIENT, "cannot_encode:issued_at")
    assert not await store.hold_local(second, CLIENT, "cannot_encode:issued_at")
    assert [d.id for d in await store.next_local_deliveries(CLIENT, 10)] == [first.id, third.id]
    [summary] = await store.local_client_summaries([CLIENT])
    assert (summary.backlog, summary.held) == (2, 1)
    [held] = await store.list_local_deliveries(state="held")
    assert (held.id, held.held_reason, held.attempts) == (
        second.id,
        "cannot_encode:issued_at",
        1,
    )

    assert await store.requeue_held("cli", client="another-client") == []
    [requeued] = await store.requeue_held("cli", ids=[second.id])
    assert (requeued.id, requeued.message_id) == (second.id, second.message_id)
    order = [d.id for d in await store.next_local_deliveries(CLIENT, 10)]
    assert order == [first.id, second.id, third.id]
    actions = [(e.actor, e.action) for e in await store.list_audit(10)]
    assert actions[-2:] == [("local-delivery", "local.held"), ("cli", "local.requeued")]


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE local_deliveries SET state = 'held'", "held without a reason"),
        ("UPDATE local_deliveries SET state = 'delivered'", "cannot go from held to delivered"),
        ("UPDATE local_deliveries SET state = 'delivering'", "cannot go from held to delivering"),
    ],
)
async def test_the_trigger_checks_held_transitions(
    store: Store, database: str, statement: str, message: str
) -> None:
    await _incoming(store, 1)
    [delivery] = await store.next_local_deliveries(CLIENT, 1)
    connection = await asyncpg.connect(database)
    try:
        if "'held'" not in statement:
            await store.hold_local(delivery, CLIENT, "decode_error")
        with pytest.raises(asyncpg.CheckViolationError, match=message):
            await connection.execute(statement)
    finally:
        await connection.close()
