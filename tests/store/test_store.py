from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.store import (
    AuditEntry,
    DeliveryOutcome,
    IncomingEnvelope,
    OutboxStateError,
    OutgoingEnvelope,
    Store,
)
from gateway.store.queries import Q, load_named_blocks
from gateway.wire import uuid7

PEER = "kh-ratanakiri-police"


def _outgoing(
    n: int,
    *,
    peer: str = PEER,
    case: uuid.UUID | None = None,
    expires_in: timedelta = timedelta(days=1),
) -> list[OutgoingEnvelope]:
    items = []
    for i in range(n):
        data = f"envelope {i} {uuid.uuid4()}".encode()
        items.append(
            OutgoingEnvelope(
                message_id=uuid7(),
                recipient=peer,
                case_id=case or uuid.uuid4(),
                kind="hotline_alert",
                handling="restricted",
                envelope=data,
                envelope_sha256=hashlib.sha256(data).digest(),
                expires_at=datetime.now(UTC) + expires_in,
                sender_reference=f"TB-{i}",
            )
        )
    return items


def _accepted(message_id: uuid.UUID) -> DeliveryOutcome:
    return DeliveryOutcome(message_id, b"receipt", True, "", datetime.now(UTC))


def test_every_query_name_used_by_the_store_exists() -> None:
    folder = Path(__file__).parents[2] / "gateway" / "store"
    source = "".join(path.read_text() for path in sorted(folder.glob("*.py")))
    used = set(re.findall(r"\bQ\.([a-z0-9_]+)", source))
    assert used == set(Q.names()), "a query name is misspelt, or a query is dead"


def test_duplicate_query_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate query name 'a'"):
        load_named_blocks("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")


async def test_migrations_apply_once(store: Store) -> None:
    assert await store.migrate() == []


async def test_claims_come_oldest_first_and_never_twice(store: Store) -> None:
    items = _outgoing(30)
    await store.enqueue(items, [])
    first, second = await asyncio.gather(store.claim(PEER, 10, "a"), store.claim(PEER, 10, "b"))
    ids_first = [c.message_id for c in first]
    ids_second = [c.message_id for c in second]
    assert len(ids_first) == len(ids_second) == 10
    assert not set(ids_first) & set(ids_second)
    rest = await store.claim(PEER, 100, "c")
    assert len(rest) == 10
    assert [
        c.message_id for c in sorted(first + second + rest, key=lambda c: c.queue_position)
    ] == [i.message_id for i in items]
    assert all(c.attempts == 1 for c in rest)


async def test_release_then_claim_again_counts_attempts(store: Store) -> None:
    await store.enqueue(_outgoing(3), [])
    claimed = await store.claim(PEER, 10, "a")
    await store.release([c.message_id for c in claimed], "peer_unreachable")
    again = await store.claim(PEER, 10, "a")
    assert [c.attempts for c in again] == [2, 2, 2]
    rows = await store.list_outbox(peer=PEER)
    assert {r.last_error for r in rows} == {"peer_unreachable"}


async def test_finish_records_receipts_and_audits(store: Store) -> None:
    items = _outgoing(2)
    await store.enqueue(
        items, [AuditEntry("api", "outbox.queued", str(i.message_id)) for i in items]
    )
    claimed = await store.claim(PEER, 10, "a")
    rejected = DeliveryOutcome(
        claimed[1].message_id, b"r2", False, "unknown_key", datetime.now(UTC)
    )
    await store.finish(PEER, [_accepted(claimed[0].message_id), rejected])
    states = {r.message_id: r.state for r in await store.list_outbox()}
    assert states == {items[0].message_id: "delivered", items[1].message_id: "rejected"}
    shown = await store.get_outbox(items[0].message_id)
    assert shown is not None
    assert shown[2] == b"receipt"
    assert shown[0].receipt_received_at is not None
    verdict = await store.verify_audit()
    assert verdict.intact
    assert verdict.entries == 4


async def test_the_database_refuses_illegal_state_changes(store: Store, database: str) -> None:
    items = _outgoing(1)
    await store.enqueue(items, [])
    [claimed] = await store.claim(PEER, 1, "a")
    await store.finish(PEER, [_accepted(claimed.message_id)])
    connection = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.CheckViolationError, match="cannot go from delivered to queued"):
            await connection.execute(
                "UPDATE outbox SET state = 'queued' WHERE message_id = $1", items[0].message_id
            )
    finally:
        await connection.close()
    with pytest.raises(OutboxStateError):
        await store.requeue(items[0].message_id, "operator")


async def test_rejected_messages_can_be_requeued(store: Store) -> None:
    items = _outgoing(1)
    await store.enqueue(items, [])
    [claimed] = await store.claim(PEER, 1, "a")
    await store.finish(
        PEER, [DeliveryOutcome(claimed.message_id, b"r", False, "x", datetime.now(UTC))]
    )
    assert await store.requeue(items[0].message_id, "operator") == PEER
    assert [c.message_id for c in await store.claim(PEER, 5, "a")] == [items[0].message_id]


async def test_expired_messages_leave_the_queue(store: Store) -> None:
    items = _outgoing(2, expires_in=timedelta(seconds=-1)) + _outgoing(1)
    await store.enqueue(items, [])
    expired = await store.expire_due(PEER, datetime.now(UTC))
    assert set(expired) == {items[0].message_id, items[1].message_id}
    assert [c.message_id for c in await store.claim(PEER, 5, "a")] == [items[2].message_id]


async def test_one_destination_lock_per_peer_across_connections(store: Store) -> None:
    await store.enqueue(_outgoing(2), [])
    lock = await store.try_lock_destination(PEER)
    assert lock is not None
    await store.claim(PEER, 5, "dead-process")
    assert await store.try_lock_destination(PEER) is None
    other = await store.try_lock_destination("kh-stungtreng-police")
    assert other is not None
    await other.release()
    await lock.release()
    # The next holder puts the dead holder's claimed rows back in the queue.
    successor = await store.try_lock_destination(PEER)
    assert successor is not None
    assert len(await store.claim(PEER, 5, "successor")) == 2
    await successor.release()


async def test_backoff_state_survives_in_the_database(store: Store) -> None:
    retry_at = datetime.now(UTC) + timedelta(minutes=2)
    await store.record_failure(PEER, 3, retry_at, "http_503")
    state = await store.destination(PEER)
    assert (state.failures, state.retry_at, state.last_error) == (3, retry_at, "http_503")
    await store.record_success(PEER)
    state = await store.destination(PEER)
    assert (state.failures, state.retry_at, state.last_error) == (0, None, None)
    assert state.last_success_at is not None


def _incoming(message_id: uuid.UUID, receipt: bytes, data: bytes = b"env") -> IncomingEnvelope:
    now = datetime.now(UTC)
    return IncomingEnvelope(
        sender="vn-gialai-police",
        message_id=message_id,
        case_id=uuid.uuid4(),
        kind="victim_handover",
        envelope=data,
        envelope_sha256=hashlib.sha256(data).digest(),
        receipt=receipt,
        created_at=now,
        received_at=now,
    )


async def test_the_inbox_stores_a_message_once_and_keeps_its_first_receipt(store: Store) -> None:
    message_id = uuid7()
    [first] = await store.store_incoming([_incoming(message_id, b"receipt-1")])
    [again] = await store.store_incoming([_incoming(message_id, b"receipt-2")])
    assert first.receipt == again.receipt == b"receipt-1"
    found = await store.find_incoming("vn-gialai-police", [message_id, uuid7()])
    assert list(found) == [message_id]
    assert found[message_id].receipt == b"receipt-1"
    # Two envelopes with one key in one batch: the first is kept, the second meets it.
    other = uuid7()
    one, two = await store.store_incoming(
        [_incoming(other, b"r-a", b"env-a"), _incoming(other, b"r-b", b"env-b")]
    )
    assert one.receipt == two.receipt == b"r-a"
    assert len(await store.list_inbox()) == 2
    assert (await store.verify_audit()).entries == 2


async def test_audit_verify_names_the_first_tampered_entry(store: Store, database: str) -> None:
    await store.audit([AuditEntry("operator", f"test.{i}", f"s{i}", {"n": i}) for i in range(5)])
    assert (await store.verify_audit()).intact
    connection = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM audit_log WHERE seq = 3")
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await connection.execute("UPDATE audit_log SET subject = 'forged' WHERE seq = 3")
    finally:
        await connection.close()
    verdict = await store.verify_audit()
    assert verdict.first_broken_seq == 3
    assert verdict.problem == "entry content does not match its hash"


async def test_queueing_wakes_listeners_after_commit(store: Store) -> None:
    woken: asyncio.Queue[str] = asyncio.Queue()
    stop = await store.listen_outbox(woken.put_nowait)
    try:
        await store.enqueue(_outgoing(2) + _outgoing(1, peer="vn-gialai-blo"), [])
        got = {await asyncio.wait_for(woken.get(), 5), await asyncio.wait_for(woken.get(), 5)}
        assert got == {PEER, "vn-gialai-blo"}
    finally:
        await stop()


async def test_peer_summary_reports_depth_and_oldest(store: Store) -> None:
    await store.enqueue(_outgoing(3), [])
    [summary, idle] = await store.peer_summaries([PEER, "vn-gialai-blo"])
    assert (summary.peer, summary.pending) == (PEER, 3)
    assert summary.oldest_pending is not None
    assert (idle.peer, idle.pending, idle.oldest_pending) == ("vn-gialai-blo", 0, None)
