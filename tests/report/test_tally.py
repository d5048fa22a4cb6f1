"""Report facts outlive retention (real PostgreSQL, envelopes sealed with real keys): the
retention sweep records them before it purges victim-protected content, the report then counts
victims from them; a tally that fails does not hold retention up."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg

from gateway.config import RetentionConfig
from gateway.crypto import seal
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.retention import RetentionSweep
from gateway.report.aggregate import StoreSource, build_report
from gateway.report.disclosure import marker
from gateway.report.tally import ReportFactsTally
from gateway.store import OutgoingEnvelope, Store
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.crypto.support import make_pair
from tests.report.support import handover, victim

ZONE = timezone(timedelta(hours=7))
PAIR = make_pair()
PEER = "kh-ratanakiri-police"


async def _sent_long_ago(store: Store, database: str, message: canonical.Message) -> None:
    """Queue a sealed handover and finish it 20 days ago: past victim-protected retention."""
    now = datetime.now(UTC)
    message_id = uuid7()
    sealed = seal(
        PAIR.police,
        recipient=PEER,
        kind=Kind.VICTIM_HANDOVER,
        case_id=uuid.UUID(message.case_id),
        message_id=message_id,
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=now,
        expires_at=now + timedelta(days=1),
    )
    await store.enqueue(
        [
            OutgoingEnvelope(
                message_id=message_id,
                recipient=PEER,
                case_id=uuid.UUID(message.case_id),
                kind="victim_handover",
                handling="victim_protected",
                envelope=sealed.data,
                envelope_sha256=hashlib.sha256(sealed.data).digest(),
                expires_at=now + timedelta(days=1),
            )
        ],
        [],
    )
    connection = await asyncpg.connect(database)
    try:
        await connection.execute(
            "UPDATE outbox SET state = 'sending' WHERE message_id = $1", message_id
        )
        await connection.execute(
            "UPDATE outbox SET state = 'delivered', finished_at = $2 WHERE message_id = $1",
            message_id,
            now - timedelta(days=20),
        )
    finally:
        await connection.close()


async def _kept(database: str) -> int:
    connection = await asyncpg.connect(database)
    try:
        kept: int = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE envelope IS NOT NULL"
        )
        return kept
    finally:
        await connection.close()


def _sweep(store: Store, before_purge: object) -> RetentionSweep:
    return RetentionSweep(
        store=store,
        outgoing_folders=[],
        retention=RetentionConfig(),
        clock=lambda: datetime.now(UTC),
        metrics=GatewayMetrics(),
        before_purge=before_purge,  # type: ignore[arg-type]
    )


async def test_victims_are_counted_after_retention_deleted_the_content(
    store: Store, database: str
) -> None:
    girls = [victim(canonical.SEX_FEMALE, (2004, 6, 1), minor=False) for _ in range(3)]
    await _sent_long_ago(store, database, handover(canonical.ACTION_PROPOSE, girls, uuid.uuid4()))
    await _sent_long_ago(
        store, database, handover(canonical.ACTION_PROPOSE, girls[:1], uuid.uuid4())
    )
    tally = ReportFactsTally(store, PAIR.police, ZONE)
    await _sweep(store, tally.tally).sweep()
    assert await _kept(database) == 0  # retention did its work
    assert await tally.tally() == 0  # nothing left to tally, nothing tallied twice
    today = datetime.now(ZONE).date()
    report = await build_report(
        StoreSource(store, PAIR.police),
        node="vn-gialai-police",
        period_from=date(today.year, 1, 1),
        period_to=today,
        tz=ZONE,
    )
    [victims] = [t for t in report.tables if t.key == "victims_by_sex_age"]
    [female] = [
        r for r in victims.rows if [lb.text for lb in r.labels] == ["Handed over", "Female"]
    ]
    assert female.cells[3].value == 4  # 18-24: three and one, from facts alone
    assert marker(female.cells[3]) is None
    [unreadable] = [t for t in report.tables if t.key == "content_not_readable"]
    assert [row.cells[0].value for row in unreadable.rows] == [0, 0]


async def test_a_failing_tally_does_not_hold_retention_up(store: Store, database: str) -> None:
    message = handover(
        canonical.ACTION_PROPOSE,
        [victim(canonical.SEX_MALE, (1990, 1, 1), minor=False)],
        uuid.uuid4(),
    )
    await _sent_long_ago(store, database, message)

    async def broken() -> None:
        raise RuntimeError("the keys are gone")

    purged = await _sweep(store, broken).sweep()
    assert purged.count("outbox") == 1
    assert await _kept(database) == 0
    today = datetime.now(ZONE).date()
    report = await build_report(
        StoreSource(store, PAIR.police),
        node="vn-gialai-police",
        period_from=date(today.year, 1, 1),
        period_to=today,
        tz=ZONE,
    )
    [unreadable] = [t for t in report.tables if t.key == "content_not_readable"]
    assert [marker(row.cells[0]) for row in unreadable.rows] == [
        "<3",
        None,
    ]  # counted, not hidden away
