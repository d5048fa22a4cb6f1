"""Withdrawn local deliveries against a real PostgreSQL (migration 0016): the transitions
the trigger allows (table-driven), a claim released when the target did not take the
document, and retention counting a withdrawal as the end of a delivery."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.store import ContentCutoffs, IncomingEnvelope, Store
from gateway.wire import uuid7

CLIENT, SENDER = "police-records", "kh-ratanakiri-police"


async def _incoming(store: Store, case_id: uuid.UUID, *, cancels: bool = False) -> None:
    now = datetime.now(UTC)
    message_id = uuid7()
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender=SENDER,
                message_id=message_id,
                case_id=case_id,
                kind="hotline_alert",
                envelope=b"sealed",
                envelope_sha256=hashlib.sha256(message_id.bytes).digest(),
                receipt=b"receipt",
                created_at=now,
                received_at=now,
                local_recipients=(CLIENT,),
                handling="normal",
                cancels=cancels,
            )
        ]
    )


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE local_deliveries SET state = 'pending'", "cannot go from withdrawn to pending"),
        ("UPDATE local_deliveries SET state = 'delivering'", "from withdrawn to delivering"),
        ("UPDATE local_deliveries SET state = 'delivered'", "from withdrawn to delivered"),
        ("UPDATE local_deliveries SET state = 'held', held_reason = 'x'", "withdrawn to held"),
    ],
)
async def test_a_withdrawn_delivery_is_final(
    store: Store, database: str, statement: str, message: str
) -> None:
    case_id = uuid.uuid4()
    await _incoming(store, case_id)
    await _incoming(store, case_id, cancels=True)  # no sealer: applied, nothing queued
    [withdrawn] = await store.list_local_deliveries(state="withdrawn")
    connection = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.CheckViolationError, match=message):
            await connection.execute(f"{statement} WHERE id = $1", withdrawn.id)
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE local_deliveries SET state = 'withdrawn'", "withdrawn without its cancellation"),
        (
            "UPDATE local_deliveries SET state = 'withdrawn', withdrawn_at = now()",
            "withdrawn without its cancellation",
        ),
    ],
)
async def test_a_withdrawal_names_its_cancellation(
    store: Store, database: str, statement: str, message: str
) -> None:
    await _incoming(store, uuid.uuid4())
    connection = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.CheckViolationError, match=message):
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_a_claim_is_released_only_without_a_recorded_file(
    store: Store, database: str
) -> None:
    await _incoming(store, uuid.uuid4())
    [delivery] = await store.next_local_deliveries(CLIENT, 1)
    assert await store.claim_local_delivery(delivery.id)
    await store.release_local_delivery(delivery.id)
    [again] = await store.next_local_deliveries(CLIENT, 1)
    assert not again.delivering
    assert [r.state for r in await store.list_local_deliveries()] == ["pending"]
    # A drop folder recorded its file: the document may be in the folder, never released.
    assert await store.claim_local_delivery(delivery.id)
    await store.mark_local_delivering(delivery.id, "hotline_alert-x.json")
    await store.release_local_delivery(delivery.id)
    [recorded] = await store.next_local_deliveries(CLIENT, 1)
    assert recorded.delivering
    connection = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.CheckViolationError, match="has a recorded file"):
            await connection.execute("UPDATE local_deliveries SET state = 'pending'")
    finally:
        await connection.close()


async def test_retention_ends_a_withdrawn_delivery_at_its_withdrawal(store: Store) -> None:
    case_id = uuid.uuid4()
    await _incoming(store, case_id)
    await _incoming(store, case_id, cancels=True)
    later = datetime.now(UTC) + timedelta(days=400)
    due = await store.content_due(ContentCutoffs(later, later, later))
    # The withdrawn notice's content goes; the cancellation, still pending, stays.
    assert due.envelopes == {("inbox", "normal"): 1}


async def test_a_claim_released_after_its_case_was_cancelled_is_withdrawn(
    store: Store,
) -> None:
    """The webhook was being called (claimed) when the cancellation came; the call failed
    for certain: the delivery is withdrawn then, not put back to go out later."""
    case_id = uuid.uuid4()
    await _incoming(store, case_id)
    [delivery] = await store.next_local_deliveries(CLIENT, 1)
    assert await store.claim_local_delivery(delivery.id)
    await _incoming(store, case_id, cancels=True)
    assert [r.state for r in await store.list_local_deliveries()] == ["pending", "delivering"]
    assert await store.release_local_delivery(delivery.id)
    [withdrawn] = await store.list_local_deliveries(state="withdrawn")
    assert withdrawn.id == delivery.id
    audit = [(e.action, e.subject) for e in await store.list_audit(10)]
    assert audit[-1] == ("local.withdrawn", str(delivery.message_id))
    # Another case's failed claim just goes back to pending.
    await _incoming(store, uuid.uuid4())
    *_, other = await store.next_local_deliveries(CLIENT, 10)
    assert await store.claim_local_delivery(other.id)
    assert not await store.release_local_delivery(other.id)
    assert [r.state for r in await store.list_local_deliveries(state="pending")][-1:] == ["pending"]
