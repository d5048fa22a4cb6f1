"""The pipelined sender between real gateway processes: with two batches in flight, small
batches, runs of one case next to each other and a peer that answers 429 now and then, every
case still arrives in queue order, and every message is stored once."""

from __future__ import annotations

import random
import uuid

from gateway.store import Store
from tests.federation.harness import Federation, alert
from tests.federation.test_destination_lock import _limit_requests

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
MESSAGES = 300


def _case_sequence(cases: list[str], rng: random.Random) -> list[str]:
    """Runs of one case (so the next batch often meets a case in flight), and interleaving."""
    sequence: list[str] = []
    while len(sequence) < MESSAGES:
        sequence += [rng.choice(cases)] * rng.choice([1, 1, 2, 4, 7])
    return sequence[:MESSAGES]


async def test_overlapping_batches_keep_per_case_order_and_store_each_message_once(
    federation: Federation,
) -> None:
    federation.retry = {"initial_backoff": "50ms", "max_backoff": "500ms", "batch_size": 6}
    await federation.add(POLICE, RATANAKIRI)
    _limit_requests(federation, RATANAKIRI, per_second=25, burst=3)
    cases = [str(uuid.uuid4()) for _ in range(5)]
    sequence = _case_sequence(cases, random.Random(10))
    queued = await federation.send(
        POLICE, RATANAKIRI, [alert(f"TB-{i}", case) for i, case in enumerate(sequence)]
    )
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    federation.start(POLICE)
    await federation.wait_ready(POLICE)
    await federation.wait_delivered(POLICE, MESSAGES, timeout=120)

    receiver: Store = await federation.store(RATANAKIRI)
    try:
        inbox = sorted(await receiver.list_inbox(limit=MESSAGES * 2), key=lambda row: row.id)
        received = [entry.action for entry in await receiver.list_audit(limit=10_000)]
    finally:
        await receiver.close()
    assert len(inbox) == MESSAGES
    assert received.count("inbox.received") == MESSAGES
    for case in cases:
        sent = [q.message_id for q in queued if str(q.case_id) == case]
        arrived = [row.message_id for row in inbox if str(row.case_id) == case]
        assert arrived == sent, f"case {case}: order differs at the peer"
    sender = await federation.store(POLICE)
    try:
        assert {row.state for row in await sender.list_outbox(limit=MESSAGES * 2)} == {"delivered"}
    finally:
        await sender.close()
