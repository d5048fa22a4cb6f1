"""Retention against a real PostgreSQL with a controlled clock: content goes per handling
marking and state, rows, receipts and audit stay, a dry run deletes nothing, and the database
itself refuses to delete content still in use or to rewrite it."""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.config import RetentionConfig
from gateway.console.accounts import add_user
from gateway.console.context import Role
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.retention import RetentionSweep
from gateway.store import (
    DeliveryOutcome,
    IncomingEnvelope,
    OutboxStateError,
    OutgoingEnvelope,
    Store,
)
from gateway.store.drafts import NewDraft
from gateway.wire import uuid7

PEER = "kh-ratanakiri-police"
CLIENT = "police-records"
DAY = timedelta(days=1)
MARKINGS = ("normal", "restricted", "victim_protected")


def _sealed(label: str) -> bytes:
    return f"sealed {label} {uuid.uuid4()}".encode()


async def _outbox(store: Store, handling: str, final: str) -> uuid.UUID:
    """One outgoing message with this marking, brought to state final (or left queued)."""
    data = _sealed(handling)
    message_id = uuid7()
    now = datetime.now(UTC)
    await store.enqueue(
        [
            OutgoingEnvelope(
                message_id=message_id,
                recipient=PEER,
                case_id=uuid.uuid4(),
                kind="hotline_alert",
                handling=handling,
                envelope=data,
                envelope_sha256=hashlib.sha256(data).digest(),
                expires_at=now + (timedelta(seconds=-1) if final == "expired" else DAY),
            )
        ],
        [],
    )
    if final == "expired":
        assert await store.expire_due(PEER, now) == [message_id]
    elif final in ("delivered", "rejected"):
        [claimed] = await store.claim(PEER, 1, "test")
        accepted = final == "delivered"
        outcome = DeliveryOutcome(claimed.message_id, b"receipt", accepted, "no_key", now)
        await store.finish(PEER, [outcome])
    elif final == "dead":
        await store.claim(PEER, 1, "test")
        await store.release_invalid([message_id], "bad receipt", give_up_after=1)
    return message_id


async def _inbox(store: Store, handling: str | None, clients: tuple[str, ...]) -> uuid.UUID:
    data = _sealed(str(handling))
    message_id = uuid7()
    now = datetime.now(UTC)
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender=PEER,
                message_id=message_id,
                case_id=uuid.uuid4(),
                kind="hotline_alert",
                envelope=data,
                envelope_sha256=hashlib.sha256(data).digest(),
                receipt=b"our receipt",
                created_at=now,
                received_at=now,
                local_recipients=clients,
                handling=handling,
            )
        ]
    )
    return message_id


def _sweep(store: Store, at: datetime, metrics: GatewayMetrics | None = None) -> RetentionSweep:
    return RetentionSweep(
        store=store,
        outgoing_folders=[],
        retention=RetentionConfig(),
        clock=lambda: at,
        metrics=metrics or GatewayMetrics(),
    )


async def _has_content(database: str, table: str, message_id: uuid.UUID) -> bool:
    connection = await asyncpg.connect(database)
    try:
        kept: bool = await connection.fetchval(
            f"SELECT envelope IS NOT NULL FROM {table} WHERE message_id = $1",
            message_id,
        )
        return kept
    finally:
        await connection.close()


async def test_content_goes_per_marking_and_state_and_the_rows_stay(
    store: Store, database: str
) -> None:
    finished = {
        (marking, state): await _outbox(store, marking, state)
        for marking in MARKINGS
        for state in ("delivered", "rejected", "expired", "dead")
    }
    queued = {marking: await _outbox(store, marking, "queued") for marking in MARKINGS}
    incoming = {marking: await _inbox(store, marking, ()) for marking in MARKINGS}
    unmarked = await _inbox(store, None, ())  # received before 0010: the strictest period
    delivered, pending = (
        await _inbox(store, "victim_protected", (CLIENT,)),
        await _inbox(store, "victim_protected", (CLIENT,)),
    )
    first, _second = await store.next_local_deliveries(CLIENT, 10)
    await store.mark_local_delivered(first, CLIENT, "drop_folder")
    now = datetime.now(UTC)
    metrics = GatewayMetrics()

    # Day 15: past victim_protected's 14 days only.
    due = await _sweep(store, now + 15 * DAY).sweep(dry_run=True)
    assert due.envelopes == {
        ("outbox", "victim_protected"): 4,
        ("inbox", "victim_protected"): 3,
    }
    assert all([await _has_content(database, "outbox", m) for m in finished.values()])
    purged = await _sweep(store, now + 15 * DAY, metrics).sweep()
    assert purged.envelopes == due.envelopes
    for (marking, _state), message_id in finished.items():
        assert await _has_content(database, "outbox", message_id) is (marking != "victim_protected")
    assert not await _has_content(database, "inbox", incoming["victim_protected"])
    assert not await _has_content(database, "inbox", unmarked)
    assert not await _has_content(database, "inbox", delivered)
    assert await _has_content(database, "inbox", pending)  # awaiting local delivery
    assert await _has_content(database, "inbox", incoming["restricted"])

    # Day 31: restricted too; day 91: normal too. Queued messages keep theirs throughout.
    assert (await _sweep(store, now + 31 * DAY).sweep()).envelopes == {
        ("outbox", "restricted"): 4,
        ("inbox", "restricted"): 1,
    }
    assert (await _sweep(store, now + 91 * DAY).sweep()).envelopes == {
        ("outbox", "normal"): 4,
        ("inbox", "normal"): 1,
    }
    assert not (await _sweep(store, now + 400 * DAY).sweep()).anything
    assert all([await _has_content(database, "outbox", m) for m in queued.values()])
    assert await _has_content(database, "inbox", pending)

    # Every row is still there, with its receipt; the replay check still knows each message.
    assert len(await store.list_outbox(limit=100)) == len(finished) + len(queued)
    row, envelope, receipt = await store.get_outbox(finished[("normal", "delivered")]) or (
        None,
        b"",
        None,
    )
    assert row is not None
    assert row.state == "delivered"
    assert (envelope, receipt) == (None, b"receipt")
    known = await store.find_incoming(PEER, [incoming["normal"]])
    assert known[incoming["normal"]].receipt == b"our receipt"

    # One audit entry per sweep that deleted something, with counts and no content.
    sweeps = [e.detail for e in await store.list_audit(200) if e.action == "retention.purged"]
    assert [(d.get("outbox.victim_protected"), d.get("inbox.normal")) for d in sweeps] == [
        (4, None),
        (None, None),
        (None, 1),
    ]
    assert (await store.verify_audit()).intact
    text = metrics.registry.get_sample_value("blg_retention_purged_total", {"what": "inbox"})
    assert text == 3


async def test_a_purged_message_cannot_be_requeued(store: Store) -> None:
    rejected = await _outbox(store, "victim_protected", "rejected")
    await _sweep(store, datetime.now(UTC) + 15 * DAY).sweep()
    with pytest.raises(OutboxStateError, match="only while retention keeps their content"):
        await store.requeue(rejected, "operator")


async def test_decided_drafts_lose_their_content_and_waiting_ones_keep_it(
    store: Store, database: str
) -> None:
    composer = await add_user(
        store, name="lan", password=secrets.token_urlsafe(16), role=Role.OFFICER, language="vi"
    )
    drafts = []
    for _ in range(2):
        drafts.append(
            await store.create_draft(
                NewDraft(
                    case_id=uuid.uuid4(),
                    kind="victim_handover",
                    recipients=(PEER,),
                    composed_by=composer,
                    composed_at=datetime.now(UTC),
                    key_id="k1",
                    sealed_message=_sealed("draft"),
                ),
                actor="console:lan",
            )
        )
    withdrawn, waiting = drafts
    await store.withdraw_draft(withdrawn, user_id=composer, actor="console:lan", any_composer=False)
    now = datetime.now(UTC)
    assert (await _sweep(store, now + 13 * DAY).sweep()).count("drafts") == 0
    assert (await _sweep(store, now + 15 * DAY).sweep()).envelopes == {
        ("drafts", "victim_protected"): 1
    }
    gone, kept = await store.draft(withdrawn), await store.draft(waiting)
    assert gone is not None
    assert gone.sealed_message is None
    assert gone.row.state == "withdrawn"
    assert kept is not None
    assert kept.sealed_message is not None


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE outbox SET envelope = NULL", "outbox_content_until_finished"),
        ("UPDATE outbox SET envelope = 'forged'", "can only be deleted, not rewritten"),
        ("UPDATE inbox SET envelope = NULL", "still awaiting local delivery"),
        ("UPDATE inbox SET envelope = 'forged'", "can only be deleted, not rewritten"),
        ("UPDATE drafts SET sealed_message = NULL", "drafts_content_until_decided"),
    ],
)
async def test_the_database_refuses_deleting_content_in_use_or_rewriting_it(
    store: Store, database: str, statement: str, message: str
) -> None:
    await _outbox(store, "normal", "queued")
    await _inbox(store, "normal", (CLIENT,))
    composer = await add_user(
        store, name="hoa", password=secrets.token_urlsafe(16), role=Role.OFFICER, language="km"
    )
    await store.create_draft(
        NewDraft(uuid.uuid4(), "victim_handover", (PEER,), composer, datetime.now(UTC), "k1", b"x"),
        actor="console:hoa",
    )
    connection = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.CheckViolationError, match=message):
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_done_files_count_in_a_dry_run_and_go_in_a_sweep(
    store: Store, tmp_path: Path
) -> None:
    done = tmp_path / "hotline-out" / "done"
    done.mkdir(parents=True)
    (done / "calls.csv").write_text("so_cuoc_goi\n111-1\n")
    old = datetime.now(UTC).timestamp() - 8 * 86400
    os.utime(done / "calls.csv", (old, old))
    sweep = RetentionSweep(
        store=store,
        outgoing_folders=[tmp_path / "hotline-out"],
        retention=RetentionConfig(),
        clock=lambda: datetime.now(UTC),
        metrics=GatewayMetrics(),
    )
    assert (await sweep.sweep(dry_run=True)).done_files == 1
    assert (done / "calls.csv").exists()
    assert (await sweep.sweep()).done_files == 1
    assert not (done / "calls.csv").exists()
    [entry] = [e for e in await store.list_audit(10) if e.action == "retention.purged"]
    assert entry.detail["done_files"] == 1
