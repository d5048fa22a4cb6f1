"""Attachments bound to messages (migration 0017, gateway.store.binding), on a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest

from gateway.store import Store
from gateway.store.binding import InboxAttachment

if TYPE_CHECKING:
    from gateway.store.part import Connection

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SENDER = "vn-gialai-blo"


async def _inbox_row(connection: Connection) -> int:
    return int(
        await connection.fetchval(
            "INSERT INTO inbox (sender, message_id, case_id, kind, envelope, envelope_sha256,"
            " receipt, created_at, received_at) VALUES ($1, $2, $3, 'victim_handover', '\\x00',"
            " '\\x00', '\\x00', $4, $4) RETURNING id",
            SENDER,
            uuid.uuid4(),
            uuid.uuid4(),
            NOW,
        )
    )


async def _stream(connection: Connection, attachment_id: str) -> None:
    await connection.execute(
        "INSERT INTO attachments (owner, direction, attachment_id, created_at)"
        " VALUES ($1, 'incoming', $2, $3)",
        SENDER,
        attachment_id,
        NOW,
    )


async def test_inbox_attachments_in_key_order(store: Store) -> None:
    async with store._pool.acquire() as connection:
        inbox_id = await _inbox_row(connection)
        other = await _inbox_row(connection)
        for aid in ("b", "a"):
            await _stream(connection, aid)
        await connection.execute(
            "INSERT INTO inbox_attachments (inbox_id, position, sender, attachment_id,"
            " media_type, plaintext_size) VALUES ($1, 1, $2, 'a', 'application/pdf', 7),"
            " ($1, 0, $2, 'b', 'image/jpeg', 5)",
            inbox_id,
            SENDER,
        )
    assert await store.inbox_attachments(inbox_id) == [
        InboxAttachment(inbox_id, 0, SENDER, "b", "image/jpeg", 5),
        InboxAttachment(inbox_id, 1, SENDER, "a", "application/pdf", 7),
    ]
    assert await store.inbox_attachments(other) == []


async def test_a_linked_stream_cannot_be_deleted(store: Store) -> None:
    async with store._pool.acquire() as connection:
        inbox_id = await _inbox_row(connection)
        await _stream(connection, "kept")
        await connection.execute(
            "INSERT INTO inbox_attachments (inbox_id, position, sender, attachment_id,"
            " media_type, plaintext_size) VALUES ($1, 0, $2, 'kept', 'image/png', 1)",
            inbox_id,
            SENDER,
        )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await connection.execute("DELETE FROM attachments WHERE attachment_id = 'kept'")


async def test_a_link_needs_its_stream(store: Store) -> None:
    async with store._pool.acquire() as connection:
        inbox_id = await _inbox_row(connection)
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await connection.execute(
                "INSERT INTO inbox_attachments (inbox_id, position, sender, attachment_id,"
                " media_type, plaintext_size) VALUES ($1, 0, $2, 'absent', 'image/png', 1)",
                inbox_id,
                SENDER,
            )


async def test_the_sweep_deletes_old_unreferenced_streams_only(store: Store) -> None:
    old, new = NOW - timedelta(days=8), NOW
    streams = {
        # id: (owner, direction, created_at, linked from the inbox, kept)
        "linked": (SENDER, "incoming", old, True, True),
        "orphan": (SENDER, "incoming", old, False, False),
        "fresh": (SENDER, "incoming", new, False, True),
        "upload": ("records", "outgoing", old, False, False),
    }
    async with store._pool.acquire() as connection:
        inbox_id = await _inbox_row(connection)
        for aid, (owner, direction, created, linked, _) in streams.items():
            await connection.execute(
                "INSERT INTO attachments (owner, direction, attachment_id, created_at)"
                " VALUES ($1, $2, $3, $4)",
                owner,
                direction,
                aid,
                created,
            )
            await connection.execute(
                "INSERT INTO attachment_chunks (owner, direction, attachment_id, n, bytes)"
                " VALUES ($1, $2, $3, 0, '\\x01')",
                owner,
                direction,
                aid,
            )
            if linked:
                await connection.execute(
                    "INSERT INTO inbox_attachments (inbox_id, position, sender, attachment_id,"
                    " media_type, plaintext_size) VALUES ($1, 0, $2, $3, 'image/png', 1)",
                    inbox_id,
                    owner,
                    aid,
                )
    assert await store.delete_unreferenced_attachments(NOW - timedelta(days=7)) == 2
    async with store._pool.acquire() as connection:
        left = {r["attachment_id"] for r in await connection.fetch("SELECT * FROM attachments")}
        chunks = await connection.fetchval("SELECT count(*) FROM attachment_chunks")
    assert left == {aid for aid, row in streams.items() if row[4]}
    assert chunks == len(left)


async def test_a_sent_messages_streams_go_with_its_content(store: Store) -> None:
    async with store._pool.acquire() as connection:
        ids = []
        for _ in range(2):
            ids.append(
                await connection.fetchval(
                    "INSERT INTO outbox (message_id, recipient, case_id, kind, handling,"
                    " envelope, envelope_sha256, expires_at) VALUES ($1, 'kh-peer', $2,"
                    " 'victim_handover', 'normal', '\\x00', '\\x00', $3) RETURNING id",
                    uuid.uuid4(),
                    uuid.uuid4(),
                    NOW + timedelta(days=1),
                )
            )
        for n, outbox_id in enumerate(ids):
            await connection.execute(
                "INSERT INTO attachments (owner, direction, attachment_id, created_at)"
                " VALUES ('kh-peer', 'outgoing', $1, $2)",
                f"wire-{n}",
                NOW,
            )
            await connection.execute(
                "INSERT INTO outbox_attachments (outbox_id, position, recipient, attachment_id,"
                " ciphertext_sha256) VALUES ($1, 0, 'kh-peer', $2, $3)",
                outbox_id,
                f"wire-{n}",
                bytes(32),
            )
        # The first message is finished and its content purged, as retention does.
        for state in ("sending", "delivered"):
            await connection.execute(
                "UPDATE outbox SET state = $2, finished_at = $3 WHERE id = $1",
                ids[0],
                state,
                NOW,
            )
        await connection.execute("UPDATE outbox SET envelope = NULL WHERE id = $1", ids[0])
    assert await store.delete_sent_attachments() == 1
    async with store._pool.acquire() as connection:
        left = [r["attachment_id"] for r in await connection.fetch("SELECT * FROM attachments")]
    assert left == ["wire-1"]
    assert [s.attachment_id for s in await store.outbox_streams(ids)] == ["wire-1"]
