"""What the per-peer lock is for: two gateway processes serving one peer from one database
keep per-case order.

SKIP LOCKED alone already keeps two processes from claiming the same envelope (the test of
that is in test_exchange.py); it does not keep them from posting neighbouring batches at the
same time, which the peer may then store in either order. Only the per-peer lock makes one
process the sender, so this test fails when the lock is bypassed.
"""

from __future__ import annotations

import uuid

from ruamel.yaml.comments import CommentedMap

from gateway.config.writer import edit_config
from gateway.store import Store
from tests.federation.harness import Federation, alert, free_port

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
CASES = 4
MESSAGES = 400


async def _inbox_order(store: Store) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(case, message) in the order the peer stored them."""
    rows = sorted(await store.list_inbox(limit=MESSAGES * 2), key=lambda row: row.id)
    return [(row.case_id, row.message_id) for row in rows]


def _limit_requests(federation: Federation, node: str, per_second: float, burst: int) -> None:
    def limit(document: CommentedMap) -> None:
        for peer in document["peers"]:
            peer["rate_limit"] = {"requests_per_second": per_second, "burst": burst}

    edit_config(federation.config_path(node), limit, environ={})


async def test_two_sender_processes_on_one_database_keep_per_case_order(
    federation: Federation,
) -> None:
    federation.retry = {"initial_backoff": "50ms", "max_backoff": "500ms", "batch_size": 20}
    await federation.add(POLICE, RATANAKIRI)
    # The peer answers 429 to some requests: a sender told "not now" puts its batch back and
    # waits, and any other sender posting meanwhile would overtake it within a case.
    _limit_requests(federation, RATANAKIRI, per_second=5, burst=2)
    second_api = free_port()
    federation.write_config(POLICE, variant="-b", federation_port=free_port(), api_port=second_api)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    # Everything is queued before either sender starts, so both find work at once.
    cases = [str(uuid.uuid4()) for _ in range(CASES)]
    queued = await federation.send(
        POLICE, RATANAKIRI, [alert(f"TB-{i}", cases[i % CASES]) for i in range(MESSAGES)]
    )
    federation.start(POLICE)
    federation.start(POLICE, variant="-b")
    await federation.wait_ready(POLICE)
    await federation.wait_ready(POLICE, api_port=second_api)
    await federation.wait_delivered(POLICE, MESSAGES, timeout=120)

    receiver = await federation.store(RATANAKIRI)
    try:
        stored = await _inbox_order(receiver)
    finally:
        await receiver.close()
    assert len(stored) == MESSAGES
    for case in cases:
        sent = [q.message_id for q in queued if str(q.case_id) == case]
        arrived = [message for stored_case, message in stored if str(stored_case) == case]
        assert arrived == sent, f"case {case}: order differs at the peer"
