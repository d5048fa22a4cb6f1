"""Store.release_invalid: envelopes whose receipts failed verification, counted until dead.

Its statement once failed on every call (a CASE parameter typed as text); this runs it
against the real PostgreSQL of the test session.
"""

from __future__ import annotations

from gateway.store import Store
from tests.store.test_store import PEER, _outgoing


async def test_invalid_receipts_requeue_then_kill_after_the_limit(store: Store) -> None:
    await store.enqueue(_outgoing(2), [])
    for answer in (1, 2):
        claimed = await store.claim(PEER, 10, "a")
        assert len(claimed) == 2
        dead = await store.release_invalid(
            [c.message_id for c in claimed], "invalid_receipt: bad_signature", give_up_after=2
        )
        rows = await store.list_outbox(peer=PEER)
        if answer == 1:
            assert dead == []
            assert {(r.state, r.finished_at) for r in rows} == {("queued", None)}
        else:
            assert sorted(dead) == sorted(c.message_id for c in claimed)
            assert {r.state for r in rows} == {"dead"}
            assert all(r.finished_at is not None for r in rows)
    assert {r.last_error for r in rows} == {"invalid_receipt: bad_signature"}
    actions = [entry.action for entry in await store.list_audit()]
    assert actions.count("outbox.dead") == 2
    assert (await store.verify_audit()).intact
