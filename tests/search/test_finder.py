"""The possible-match finder with a fake index over a real PostgreSQL: each new person once,
pairs on both cases, own case and closed cases never, near misses never, crash-safe."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import replace

import pytest

from gateway.search.finder import PossibleMatchFinder
from gateway.store import Store
from tests.search.fake_index import FakePersonIndex
from tests.search.test_matching import GIRL
from tests.store.test_cases import STG, _receive, _send


async def _case(store: Store, *, sent: bool = False) -> uuid.UUID:
    case = uuid.uuid4()
    if sent:
        await _send(store, case, "hotline_alert", STG)
    else:
        await _receive(store, case, "victim_handover", STG)
    return case


async def test_a_new_person_matches_an_earlier_one_once_and_both_cases_show_it(
    store: Store,
) -> None:
    alert, handover, third = (await _case(store, sent=True), await _case(store), await _case(store))
    index = FakePersonIndex()
    index.add(replace(GIRL, entry_id=1, case_id=alert))
    finder = PossibleMatchFinder(index=index, store=store, batch=10)
    assert await finder.step() == 1
    assert await store.possible_match_cursor() == 1
    # The handover names her (Khmer + Latin: the index scored it 93) and, in the same
    # handover, her brother (another person: no match); a third case names a near miss.
    index.add(replace(GIRL, entry_id=2, case_id=handover, direction="in"), e1=93.0)
    index.add(replace(GIRL, entry_id=3, case_id=handover, sex="M", birth_year=2008), e1=80.0)
    index.add(replace(GIRL, entry_id=4, case_id=third, birth_year=2016), e1=99.0, e2=99.0)
    assert await finder.step() == 3
    assert await finder.step() == 0
    [on_alert] = await store.case_possible_matches(alert)
    [on_handover] = await store.case_possible_matches(handover)
    assert on_alert.id == on_handover.id
    assert on_alert.other_case_id == handover
    assert on_alert.reasons == ("name", "birth_year", "sex")
    assert await store.case_possible_matches(third) == []
    assert await store.possible_match_cursor() == 4


async def test_a_person_never_matches_their_own_case(store: Store) -> None:
    case = await _case(store)
    index = FakePersonIndex()
    index.add(replace(GIRL, entry_id=1, case_id=case))
    index.add(replace(GIRL, entry_id=2, case_id=case, role="child"), e1=100.0)
    await PossibleMatchFinder(index=index, store=store).step()
    assert await store.case_possible_matches(case) == []


@pytest.mark.parametrize("closed_side", ["earlier", "later"])
async def test_people_in_closed_cases_are_no_candidates(store: Store, closed_side: str) -> None:
    open_case = await _case(store)
    closed = uuid.uuid4()  # a case this node holds no live message of
    index = FakePersonIndex()
    first, second = (closed, open_case) if closed_side == "earlier" else (open_case, closed)
    index.add(replace(GIRL, entry_id=1, case_id=first))
    index.add(replace(GIRL, entry_id=2, case_id=second), e1=99.0)
    await PossibleMatchFinder(index=index, store=store).step()
    assert await store.case_possible_matches(open_case) == []
    assert await store.possible_match_cursor() == 2


async def test_a_crash_before_commit_loses_nothing_and_records_nothing_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = await _case(store), await _case(store)
    index = FakePersonIndex()
    index.add(replace(GIRL, entry_id=1, case_id=a))
    index.add(replace(GIRL, entry_id=2, case_id=b, document_numbers=("N1",)), e1=90.0)
    finder = PossibleMatchFinder(index=index, store=store, batch=1)
    assert await finder.step() == 1

    real = store.record_possible_matches

    async def crash(**_: object) -> int:
        raise ConnectionResetError("killed mid-batch")

    monkeypatch.setattr(store, "record_possible_matches", crash)
    with pytest.raises(ConnectionResetError):
        await finder.step()
    assert await store.possible_match_cursor() == 1
    monkeypatch.setattr(store, "record_possible_matches", real)
    assert await finder.step() == 1
    # A restarted finder finds nothing left to examine.
    again = PossibleMatchFinder(index=index, store=store)
    assert await again.step() == 0
    assert len(await store.case_possible_matches(a)) == 1


async def test_candidates_per_person_are_bounded(store: Store) -> None:
    index = FakePersonIndex()
    cases = [await _case(store) for _ in range(6)]
    for n, case in enumerate(cases, start=1):
        earlier = {f"e{m}": 95.0 for m in range(1, n)}
        index.add(replace(GIRL, entry_id=n, case_id=case), **earlier)
    await PossibleMatchFinder(index=index, store=store, candidates=2, batch=3).step()
    await PossibleMatchFinder(index=index, store=store, candidates=2, batch=3).step()
    # Each person asked once, at most 2 candidates each.
    assert index.similar_calls == [1, 2, 3, 4, 5, 6]
    assert await store.possible_matches_open() <= 2 * 6


async def test_run_examines_new_people_when_woken(store: Store) -> None:
    a, b = await _case(store), await _case(store)
    index = FakePersonIndex()
    index.add(replace(GIRL, entry_id=1, case_id=a))
    finder = PossibleMatchFinder(index=index, store=store, poll=60.0)
    task = asyncio.create_task(finder.run())
    try:
        index.add(replace(GIRL, entry_id=2, case_id=b), e1=95.0)
        finder.wake()
        for _ in range(200):  # bounded: 10 s at most
            if await store.possible_match_cursor() == 2:
                break
            await asyncio.sleep(0.05)
        assert len(await store.case_possible_matches(b)) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
