"""The report's SQL aggregates against a real PostgreSQL (issue 13: report): month buckets of
a fixed offset, acknowledgements against deadlines, delivery times, cancellations, and the
keyset pages of sealed messages. Times are set with SQL (a test may) to place rows."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import asyncpg
import pytest

from gateway.report.aggregate import period_bounds
from gateway.store import IncomingEnvelope, Store
from gateway.store.report_stats import TalliedFacts
from gateway.wire import uuid7
from tests.store.outbox_support import queue_outgoing

ZONE = timezone(timedelta(hours=7))
PEER = "kh-stungtreng-police"
KINDS = ("wanted_person_notice", "victim_handover", "hotline_alert")


def local(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE)


async def _incoming(store: Store, case_id: uuid.UUID, at: datetime, kind: str) -> uuid.UUID:
    message_id = uuid7()
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender=PEER,
                message_id=message_id,
                case_id=case_id,
                kind=kind,
                envelope=b"sealed",
                envelope_sha256=hashlib.sha256(message_id.bytes).digest(),
                receipt=b"receipt",
                created_at=at,
                received_at=at,
                local_recipients=(),
                handling="normal",
            )
        ]
    )
    return message_id


async def _sent(store: Store, database: str, at: datetime, kind: str, **extra: object) -> uuid.UUID:
    message_id = await queue_outgoing(store, PEER, uuid.uuid4(), kind=kind, **extra)  # type: ignore[arg-type]
    connection = await asyncpg.connect(database)
    try:
        await connection.execute(
            "UPDATE outbox SET queued_at = $2 WHERE message_id = $1", message_id, at
        )
    finally:
        await connection.close()
    return message_id


@pytest.mark.parametrize(
    ("moment", "month"),
    [
        # 1 May 00:30 at UTC+7 is still April in UTC: it belongs to May here.
        (datetime(2026, 5, 1, 0, 30, tzinfo=ZONE), 2),
        (datetime(2026, 4, 30, 23, 59, tzinfo=ZONE), 1),
        (datetime(2026, 4, 1, 0, 0, tzinfo=ZONE), 1),
        (datetime(2026, 6, 30, 23, 59, tzinfo=ZONE), 3),
    ],
)
async def test_messages_fall_in_local_months(
    store: Store, database: str, moment: datetime, month: int
) -> None:
    bounds = period_bounds(date(2026, 4, 1), date(2026, 6, 30), ZONE)
    await _sent(store, database, moment, "hotline_alert")
    await _incoming(store, uuid.uuid4(), moment, "victim_handover")
    counts = await store.report_message_counts(bounds[:-1], KINDS, bounds[0], bounds[-1])
    assert sorted((c.direction, c.kind, c.month, c.count) for c in counts) == [
        ("received", "victim_handover", month, 1),
        ("sent", "hotline_alert", month, 1),
    ]


async def test_outside_the_period_and_control_kinds_are_not_counted(
    store: Store, database: str
) -> None:
    bounds = period_bounds(date(2026, 4, 1), date(2026, 4, 30), ZONE)
    await _sent(store, database, datetime(2026, 3, 31, 23, 59, tzinfo=ZONE), "hotline_alert")
    await _sent(store, database, datetime(2026, 5, 1, 0, 0, tzinfo=ZONE), "hotline_alert")
    await _sent(store, database, local(date(2026, 4, 5)), "acknowledgement")
    assert await store.report_message_counts(bounds[:-1], KINDS, bounds[0], bounds[-1]) == []


async def test_acknowledgements_against_deadlines(store: Store, database: str) -> None:
    sent_at = local(date(2026, 4, 10))
    due = sent_at + timedelta(hours=4)
    ids = [
        await _sent(store, database, sent_at, "victim_handover", acknowledge_due=due)
        for _ in range(6)
    ]
    answers = [timedelta(hours=1), timedelta(hours=2), timedelta(hours=3), timedelta(hours=9)]
    connection = await asyncpg.connect(database)
    try:
        for message_id, after in zip(ids, answers, strict=False):
            await connection.execute(
                "UPDATE acknowledgement_deadlines SET acknowledged_at = $2, acknowledged_by = 'x',"
                " how = 'console', acknowledgement = $3, recorded_at = $2 WHERE message_id = $1",
                message_id,
                sent_at + after,
                uuid.uuid4(),
            )
    finally:
        await connection.close()
    bounds = period_bounds(date(2026, 4, 1), date(2026, 4, 30), ZONE)
    # Generated "now": one unanswered is past due, the other not (its due is the same, so
    # judge at two instants).
    [past] = await store.report_acknowledgements(bounds[0], bounds[-1], due + timedelta(days=1))
    assert (past.on_time, past.late, past.missing, past.awaiting) == (3, 1, 2, 0)
    assert past.median_seconds == pytest.approx(2.5 * 3600)
    assert past.p90_seconds == pytest.approx(3600 * (3 + 0.7 * 6))
    [before] = await store.report_acknowledgements(bounds[0], bounds[-1], due - timedelta(hours=1))
    assert (before.missing, before.awaiting) == (0, 2)


async def test_delivery_latency_and_cancellations(store: Store, database: str) -> None:
    sent_at = local(date(2026, 4, 10))
    delivered = [await _sent(store, database, sent_at, "hotline_alert") for _ in range(3)]
    await _sent(store, database, sent_at, "hotline_alert")  # still queued
    await _sent(store, database, sent_at, "hotline_alert", cancels=True)
    connection = await asyncpg.connect(database)
    try:
        for minutes, message_id in zip((1, 2, 10), delivered, strict=True):
            await connection.execute(
                "UPDATE outbox SET state = 'sending' WHERE message_id = $1", message_id
            )
            await connection.execute(
                "UPDATE outbox SET state = 'delivered', finished_at = $2 WHERE message_id = $1",
                message_id,
                sent_at + timedelta(minutes=minutes),
            )
    finally:
        await connection.close()
    bounds = period_bounds(date(2026, 4, 1), date(2026, 4, 30), ZONE)
    [latency] = await store.report_delivery_latency(bounds[0], bounds[-1], KINDS)
    assert (latency.delivered, latency.undelivered) == (3, 2)
    assert latency.median_seconds == pytest.approx(120)
    case = uuid.uuid4()
    await _incoming(store, case, sent_at, "wanted_person_notice")
    cancellations = await store.report_cancellations(bounds[0], bounds[-1])
    assert [(c.direction, c.kind, c.count) for c in cancellations] == [("sent", "hotline_alert", 1)]


async def test_untallied_and_facts_pages_cover_the_period_once_and_origins_say_who_began(
    store: Store, database: str
) -> None:
    day = date(2026, 4, 10)
    ours = uuid.uuid4()
    theirs = uuid.uuid4()
    message_id = await queue_outgoing(store, PEER, ours, kind="victim_handover")
    connection = await asyncpg.connect(database)
    try:
        await connection.execute(
            "UPDATE outbox SET queued_at = $2 WHERE message_id = $1", message_id, local(day, 8)
        )
    finally:
        await connection.close()
    await _incoming(store, ours, local(day, 9), "victim_handover")
    await _incoming(store, theirs, local(day, 9), "victim_handover")
    for hour in range(10, 15):
        await _incoming(store, uuid.uuid4(), local(day, hour), "hotline_alert")
    await _incoming(store, uuid.uuid4(), local(day, 11), "wanted_person_notice")
    bounds = period_bounds(date(2026, 4, 1), date(2026, 4, 30), ZONE)
    kinds = ("victim_handover", "hotline_alert")
    untallied: list[tuple[Literal["in", "out"], int]] = []
    directions: tuple[Literal["in", "out"], ...] = ("out", "in")
    for direction in directions:
        after = 0
        for _ in range(10):
            page = await store.report_untallied_page(
                direction, kinds, bounds[0], bounds[-1], after_id=after, limit=3
            )
            if not page:
                break
            untallied.extend((row.direction, row.id) for row in page)
            after = page[-1].id
    assert len(untallied) == len(set(untallied)) == 8
    # Half of them tallied (one unreadable): they are not handed out again; the content of
    # one untallied row goes (retention): it is not handed out either, and has no facts.
    tallied = [
        TalliedFacts(d, i, "k1", b"sealed") if n else TalliedFacts(d, i, None, None)
        for n, (d, i) in enumerate(untallied[:4])
    ]
    await store.report_facts_insert(tallied, datetime.now(ZONE))
    await store.report_facts_insert(
        [TalliedFacts(*untallied[1], "k2", b"other")], datetime.now(ZONE)
    )
    connection = await asyncpg.connect(database)
    try:
        gone = untallied[5]
        await connection.execute(
            f"UPDATE {'outbox' if gone[0] == 'out' else 'inbox'} SET envelope = NULL WHERE id = $1",
            gone[1],
        )
    finally:
        await connection.close()
    left = [
        (row.direction, row.id)
        for direction in directions
        for row in await store.report_untallied_page(
            direction, kinds, bounds[0], bounds[-1], after_id=0, limit=100
        )
    ]
    assert sorted(left) == sorted(untallied[4:5] + untallied[6:])
    found = []
    for direction in directions:
        after = 0
        for _ in range(10):
            rows = await store.report_facts_page(
                direction, bounds[0], bounds[-1], kinds, after_id=after, limit=3
            )
            if not rows:
                break
            found.extend(rows)
            after = rows[-1].id
    assert len(found) == 8
    facts: dict[tuple[str, int], TalliedFacts | None] = {
        (row.direction, row.id): row.facts for row in found
    }
    assert facts[untallied[0]] == TalliedFacts(*untallied[0], None, None)
    assert facts[untallied[1]] == TalliedFacts(*untallied[1], "k1", b"sealed")
    assert facts[untallied[5]] is None
    origins = await store.report_case_origins([ours, theirs], kinds)
    assert origins[ours].ours
    assert not origins[theirs].ours
