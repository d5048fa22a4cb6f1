"""Attachments bound to messages (migration 0017, gateway.store.binding), on a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
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
