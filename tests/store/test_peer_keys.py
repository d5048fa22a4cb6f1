"""Recorded peer keys in the database: pending until their valid_from, then active (once,
audited); windows only shrink, public keys never change, whatever writes the row."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.store import Store
from gateway.store.peer_keys import IncomingAnnouncement, PublishedKeyRow

T0 = datetime(2026, 12, 1, tzinfo=UTC)
PEER = "kh-ratanakiri-police"
NEXT = PublishedKeyRow(
    "k2", b"\x01" * 32, b"\x02" * 32, T0 + timedelta(days=1), T0 + timedelta(days=365)
)


def _announcement(*keys: PublishedKeyRow) -> IncomingAnnouncement:
    return IncomingAnnouncement(
        sender=PEER,
        message_id=uuid.uuid4(),
        envelope_sha256=b"\x03" * 32,
        receipt=b"receipt",
        signed_by="k1",
        created_at=T0,
        received_at=T0,
        keys=keys,
    )


async def test_an_announced_key_is_pending_until_its_valid_from_then_active_once(
    store: Store,
) -> None:
    first = _announcement(NEXT)
    [kept] = await store.record_key_announcements([first], T0)
    assert kept.receipt == b"receipt"
    assert [(k.key.key_id, k.state, k.source) for k in await store.recorded_peer_keys()] == [
        ("k2", "pending", "announcement")
    ]
    assert await store.activate_due_peer_keys(T0) == []
    assert await store.activate_due_peer_keys(T0 + timedelta(days=1)) == [(PEER, "k2")]
    assert await store.activate_due_peer_keys(T0 + timedelta(days=2)) == []
    assert [k.state for k in await store.recorded_peer_keys()] == ["active"]
    actions = [row.action for row in await store.list_audit()]
    assert (actions.count("peer.keys_announced"), actions.count("peer.key_active")) == (1, 1)
    # The same announcement again: the stored answer, nothing recorded twice.
    assert await store.record_key_announcements([first], T0) == [kept]
    assert await store.find_key_announcements(PEER, [first.message_id]) == {first.message_id: kept}


@pytest.mark.parametrize(
    ("later", "until"),
    [
        (replace(NEXT, valid_until=T0 + timedelta(days=30)), T0 + timedelta(days=30)),
        (replace(NEXT, valid_until=T0 + timedelta(days=999)), NEXT.valid_until),
        (
            replace(NEXT, signing_public=b"\x09" * 32, valid_until=T0 + timedelta(days=30)),
            NEXT.valid_until,
        ),
    ],
    ids=["shortened", "not-widened", "other-keys-ignored"],
)
async def test_a_later_recording_only_shortens_a_window(
    store: Store, later: PublishedKeyRow, until: datetime
) -> None:
    await store.record_key_announcements([_announcement(NEXT)], T0)
    await store.import_peer_keys(PEER, [later], actor="cli", now=T0)
    [recorded] = await store.recorded_peer_keys()
    assert (recorded.key.valid_until, recorded.key.signing_public) == (until, NEXT.signing_public)


async def test_the_database_refuses_to_widen_a_window_or_change_keys(store: Store) -> None:
    await store.record_key_announcements([_announcement(NEXT)], T0)
    connection = await asyncpg.connect(store._dsn)
    try:
        for change in (
            "valid_until = valid_until + interval '1 day'",
            "signing_public = '\\x" + "09" * 32 + "'::bytea",
        ):
            with pytest.raises(asyncpg.CheckViolationError):
                await connection.execute(f"UPDATE peer_keys_recorded SET {change}")
    finally:
        await connection.close()
