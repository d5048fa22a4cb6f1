"""Possible matches over a real PostgreSQL: one row per pair whichever side found it, the
cursor moved with the pairs in one transaction, checked decisions, and what "open" means."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.console import Role
from gateway.console.accounts import add_user
from gateway.store import DeliveryOutcome, Store
from gateway.store.matches import CursorMoved, FoundPair, MatchNotOpen
from tests.store.test_cases import RTK, STG, _receive, _send


async def _officer(store: Store, name: str = "lan") -> int:
    return await add_user(
        store, name=name, password="a long enough password", role=Role.OFFICER, language="vi"
    )


async def test_a_pair_is_one_row_from_either_side_and_shows_on_both_cases(store: Store) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    pair = FoundPair(7, a, 3, b, ("name", "birth_year", "sex"))
    assert await store.record_possible_matches(after=0, up_to=5, pairs=[pair]) == 1
    assert await store.possible_match_cursor() == 5
    # Found again from the other side, and by a re-run: nothing new.
    mirrored = FoundPair(3, b, 7, a, ("name",))
    assert await store.record_possible_matches(after=5, up_to=9, pairs=[mirrored]) == 0
    assert await store.possible_match_cursor() == 9
    [on_a] = await store.case_possible_matches(a)
    [on_b] = await store.case_possible_matches(b)
    assert on_a.id == on_b.id
    assert (on_a.other_case_id, on_a.own_entry_id, on_a.other_entry_id) == (b, 7, 3)
    assert (on_b.other_case_id, on_b.own_entry_id, on_b.other_entry_id) == (a, 3, 7)
    assert on_a.reasons == ("name", "birth_year", "sex")
    assert on_a.state == "open"
    assert await store.possible_matches_open() == 1
    # The row is the record: no audit entry per pair found (only people's decisions).
    assert [row for row in await store.list_audit() if row.action == "match.found"] == []


async def test_a_batch_behind_a_moved_cursor_writes_nothing(store: Store) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    await store.record_possible_matches(after=0, up_to=4, pairs=[])
    with pytest.raises(CursorMoved):
        await store.record_possible_matches(
            after=0, up_to=6, pairs=[FoundPair(1, a, 2, b, ("name",))]
        )
    assert await store.case_possible_matches(a) == []
    assert await store.possible_match_cursor() == 4


@pytest.mark.parametrize("decision", ["confirmed", "dismissed"])
async def test_a_decision_is_recorded_once_with_who_and_when(store: Store, decision: str) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    user = await _officer(store)
    await store.record_possible_matches(
        after=0, up_to=2, pairs=[FoundPair(1, a, 2, b, ("document_number",))]
    )
    [match] = await store.case_possible_matches(a)
    # Not through another case's page.
    with pytest.raises(MatchNotOpen):
        await store.decide_possible_match(
            match.id, case_id=uuid.uuid4(), decision="confirmed", user_id=user, actor="lan"
        )
    await store.decide_possible_match(
        match.id,
        case_id=b,
        decision=decision,  # type: ignore[arg-type]
        user_id=user,
        actor="lan",
    )
    [decided] = await store.case_possible_matches(a)
    assert decided.state == decision
    assert decided.decided_by_name == "lan"
    assert decided.decided_at is not None
    with pytest.raises(MatchNotOpen):
        await store.decide_possible_match(
            match.id, case_id=a, decision="confirmed", user_id=user, actor="lan"
        )
    assert await store.possible_matches_open() == 0
    [audit] = [row for row in await store.list_audit() if row.action.startswith("console.match")]
    assert audit.action == f"console.match_{decision}"
    assert audit.detail == {"user": user, "case": str(a), "other_case": str(b)}


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE possible_matches SET reasons = ARRAY['sex']", "rewritten"),
        ("UPDATE possible_matches SET state = 'open', decided_by = NULL, decided_at = NULL", "go"),
        ("UPDATE possible_matches SET other_case_id = gen_random_uuid()", "rewritten"),
    ],
)
async def test_a_hand_written_update_cannot_rewrite_or_reopen(
    store: Store, database: str, statement: str, problem: str
) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    user = await _officer(store)
    await store.record_possible_matches(after=0, up_to=2, pairs=[FoundPair(1, a, 2, b, ("name",))])
    [match] = await store.case_possible_matches(a)
    await store.decide_possible_match(
        match.id, case_id=a, decision="dismissed", user_id=user, actor="lan"
    )
    connection = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.CheckViolationError, match=problem):
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_reasons_hold_codes_only(store: Store) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await store.record_possible_matches(
            after=0,
            up_to=2,
            pairs=[FoundPair(1, uuid.uuid4(), 2, uuid.uuid4(), ("Rơ Mah Hnhiang",))],
        )
    assert await store.possible_match_cursor() == 0


async def test_open_cases(store: Store) -> None:
    received, sent, rejected, cancelled_here, cancelled_by_us = (uuid.uuid4() for _ in range(5))
    await _receive(store, received, "hotline_alert", STG)
    await _send(store, sent, "victim_handover", RTK)
    await _send(store, rejected, "wanted_person_notice", STG)
    claimed = await store.claim(STG, 10, "test")
    await store.finish(
        STG,
        [
            DeliveryOutcome(c.message_id, b"receipt", False, "bad", datetime.now(UTC))
            for c in claimed
        ],
    )
    for case in (cancelled_here, cancelled_by_us):
        await _receive(store, case, "victim_handover", RTK)
    connection = await store._pool.acquire()
    try:
        await connection.execute(
            "INSERT INTO cases_cancelled VALUES ($1, $2, $3, now(), 0)",
            RTK,
            cancelled_here,
            uuid.uuid4(),
        )
    finally:
        await store._pool.release(connection)
    [cancel_id] = await _send(store, cancelled_by_us, "victim_handover", RTK)
    connection = await store._pool.acquire()
    try:
        await connection.execute(
            "INSERT INTO cancellations_sent VALUES ($1, $2, $3)", cancel_id, RTK, cancelled_by_us
        )
    finally:
        await store._pool.release(connection)
    unknown = uuid.uuid4()
    cases = [received, sent, rejected, cancelled_here, cancelled_by_us, unknown]
    assert await store.open_cases(cases) == {received, sent}
