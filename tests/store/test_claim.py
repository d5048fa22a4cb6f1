"""Store.claim as a pipelined sender uses it: cases in flight are skipped, the scan starts at
the sender's floor, and the claim walks an index that holds only the queue, however many
delivered rows the outbox keeps."""

from __future__ import annotations

import json
import uuid

import asyncpg

from gateway.store import Store
from gateway.store.queries import Q
from tests.store.test_store import PEER, _accepted, _outgoing

HISTORY = 50_000


async def test_a_claim_skips_every_row_of_a_busy_case_and_keeps_queue_order(
    store: Store,
) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # Queue order: a1 b1 a2 c1 b2
    items = [
        _outgoing(1, case=a)[0],
        _outgoing(1, case=b)[0],
        _outgoing(1, case=a)[0],
        _outgoing(1, case=c)[0],
        _outgoing(1, case=b)[0],
    ]
    await store.enqueue(items, [])
    cases = {item.message_id: item.case_id for item in items}
    everything = await store.claim(PEER, 10, "a")
    positions = [item.queue_position for item in everything]
    await store.release([item.message_id for item in everything], None)
    table = [
        # Rows by index: a1 b1 a2 c1 b2. (busy cases, floor: index of the first row the
        # claim may take, limit, cases claimed, index of the next floor: the first row
        # claimed, or a row skipped for its case below it)
        ([a], 0, 10, [b, c, b], 0),
        ([a, b], 0, 10, [c], 0),
        ([], 0, 2, [a, b], 0),
        ([c], 0, 10, [a, b, a, b], 0),
        ([], 2, 10, [a, c, b], 2),
        ([b], 3, 10, [c], 3),
        ([a], 2, 10, [c, b], 2),
        ([a], 1, 1, [b], 1),
    ]
    for busy, floor, limit, expected, next_floor in table:
        claimed = await store.claim_batch(
            PEER, limit, "a", busy_cases=busy, floor=positions[floor] if floor else 0
        )
        assert [cases[item.message_id] for item in claimed.envelopes] == expected, (busy, floor)
        assert claimed.next_floor == positions[next_floor], (busy, floor)
        await store.release([item.message_id for item in claimed.envelopes], None)
    assert {row.state for row in await store.list_outbox(peer=PEER)} == {"queued"}


async def test_a_row_another_transaction_references_is_claimed_not_skipped(
    store: Store, database: str
) -> None:
    # An insert that references an outbox row (search_entries, search_indexed: the search
    # indexer reading a new message) holds FOR KEY SHARE on it until it commits. A claim
    # taking FOR UPDATE skipped such a row, and the sender slept until its next poll.
    await store.enqueue(_outgoing(1), [])
    connection = await asyncpg.connect(database)
    try:
        async with connection.transaction():
            await connection.execute("SELECT id FROM outbox FOR KEY SHARE")
            claimed = await store.claim(PEER, 10, "a")
    finally:
        await connection.close()
    assert len(claimed) == 1


async def _explain(connection: asyncpg.Connection, busy: list[uuid.UUID], floor: int) -> str:
    plan = await connection.fetchval(
        "EXPLAIN (FORMAT JSON) " + Q.outbox_claim,
        PEER,
        100,
        "a",
        None,
        busy,
        floor,
    )
    return json.dumps(json.loads(plan) if isinstance(plan, str) else plan)


async def test_the_claim_uses_the_queue_index_with_a_large_delivered_history(
    store: Store, database: str
) -> None:
    await store.enqueue(_outgoing(20), [])
    claimed = await store.claim(PEER, 20, "a")
    await store.finish(PEER, [_accepted(item.message_id) for item in claimed])
    connection = await asyncpg.connect(database)
    try:
        # The history: delivered rows, as years of exchange leave them.
        await connection.execute(
            """
            INSERT INTO outbox (message_id, recipient, case_id, kind, handling, envelope,
                                envelope_sha256, state, expires_at, finished_at)
            SELECT gen_random_uuid(), $1, gen_random_uuid(), 'hotline_alert', 'restricted',
                   '\\x00', '\\x00', 'delivered', now(), now()
            FROM generate_series(1, $2)
            """,
            PEER,
            HISTORY,
        )
        await store.enqueue(_outgoing(50), [])
        await connection.execute("ANALYZE outbox")
        last = await connection.fetchval("SELECT max(id) FROM outbox")
        for busy, floor in [([], 0), ([uuid.uuid4()], 0), ([], last - 10), ([uuid.uuid4()], last)]:
            plan = await _explain(connection, busy, floor)
            assert '"Seq Scan"' not in plan, plan
            if not floor:
                # From the start of the queue: the partial index, not the whole history.
                assert '"Index Name": "outbox_pending"' in plan, plan
    finally:
        await connection.close()
    claimed = await store.claim(PEER, 100, "a")
    assert len(claimed) == 50
