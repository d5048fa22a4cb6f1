"""Possible matches on case pages, through the real console app over a real node config and
PostgreSQL, with a PersonIndex in memory (tests/search/fake_index.py): the box on both case
pages, translated reasons, the other person's names only for those who may read them,
Confirm / Dismiss for officers and supervisors only, recorded once with who and when."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.console import Role, build_console
from gateway.store.matches import FoundPair
from tests.console.cases_support import handover_from_ratanakiri, receive
from tests.console.conftest import ConsoleHarness
from tests.console.test_compose import post_form
from tests.search.fake_index import FakePersonIndex
from tests.search.test_matching import GIRL

OTHER_NAMES = ("ង្វៀន ធី ឡាន", "NGUYEN Thi Lan")


@pytest.fixture
async def matched(
    console: ConsoleHarness,
) -> AsyncIterator[tuple[ConsoleHarness, uuid.UUID, uuid.UUID, int]]:
    """The console with a person index, two received cases and one open pair between them."""
    alert, handover = uuid.uuid4(), uuid.uuid4()
    for case in (alert, handover):
        await receive(console, handover_from_ratanakiri(), case, handling="victim_protected")
    index = FakePersonIndex()
    index.add(replace(GIRL, entry_id=1, case_id=alert))
    index.add(
        replace(GIRL, entry_id=2, case_id=handover, names=OTHER_NAMES, role="victim"), e1=93.0
    )
    await console.store.record_possible_matches(
        after=0, up_to=2, pairs=[FoundPair(2, handover, 1, alert, ("name", "birth_year", "sex"))]
    )
    [match] = await console.store.case_possible_matches(alert)
    ctx = replace(console.ctx, person_index=index)
    app = web.Application()
    app.add_subapp("/console/", build_console(ctx))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield (
            ConsoleHarness(client, ctx, console.store, console.clock, console.federation),
            alert,
            handover,
            match.id,
        )
    finally:
        await client.close()


def _box(page: str, match_id: int) -> str:
    found = re.search(rf'<section [^>]*id="match-{match_id}".*?</section>', page, re.S)
    assert found is not None, "no possible-match box on the page"
    return html.unescape(found.group(0))


@pytest.mark.parametrize(
    ("role", "language", "reason_text", "names", "buttons"),
    [
        (Role.OFFICER, "en", "Similar name (any script)", True, True),
        (Role.SUPERVISOR, "vi", "Tên gần giống (mọi hệ chữ)", True, True),
        (Role.OFFICER, "km", "ឈ្មោះស្រដៀងគ្នា (គ្រប់អក្សរ)", True, True),
        # Operators see that a pair exists, never a victim's names, and cannot decide.
        (Role.OPERATOR, "en", "Similar name (any script)", False, False),
        (Role.ADMIN, "km", "ឈ្មោះស្រដៀងគ្នា (គ្រប់អក្សរ)", False, False),
    ],
)
async def test_the_box_shows_on_both_case_pages(
    matched: tuple[ConsoleHarness, uuid.UUID, uuid.UUID, int],
    role: Role,
    language: str,
    reason_text: str,
    names: bool,
    buttons: bool,
) -> None:
    console, alert, handover, match_id = matched
    await console.sign_in(role, language)  # type: ignore[arg-type]
    for case, other in ((alert, handover), (handover, alert)):
        page = await (await console.client.get(f"/console/cases/{case}")).text()
        box = _box(page, match_id)
        assert 'data-match-state="open"' in box
        assert f'href="/console/cases/{other}"' in box
        assert reason_text in box
        assert [r for r in ("name", "birth_year", "sex") if f'data-reason="{r}"' in box] == [
            "name",
            "birth_year",
            "sex",
        ]
        confirm = f"/console/cases/{case}/matches/{match_id}/confirm"
        assert (f'action="{confirm}"' in box) is buttons
    page = await (await console.client.get(f"/console/cases/{alert}")).text()
    assert all(name in _box(page, match_id) for name in OTHER_NAMES) is names
    assert any(name in html.unescape(page) for name in OTHER_NAMES) is names


@pytest.mark.parametrize(
    ("decision", "state"), [("confirm", "confirmed"), ("dismiss", "dismissed")]
)
async def test_an_officer_decides_once_and_both_pages_show_it(
    matched: tuple[ConsoleHarness, uuid.UUID, uuid.UUID, int], decision: str, state: str
) -> None:
    console, alert, handover, match_id = matched
    user = await console.sign_in(Role.OFFICER)
    action = f"/console/cases/{handover}/matches/{match_id}/{decision}"
    for _ in range(2):  # a second press (a stale page) changes nothing
        answer = await post_form(console, action, [])
        assert answer.status == 303
        assert answer.headers["Location"] == f"/console/cases/{handover}#match-{match_id}"
    for case in (alert, handover):
        box = _box(await (await console.client.get(f"/console/cases/{case}")).text(), match_id)
        assert f'data-match-state="{state}"' in box
        assert f'<span class="decided-by">{user.name}</span>' in box
        assert "/confirm" not in box
    audit = [row for row in await console.store.list_audit() if row.action.startswith("console.m")]
    assert [(row.action, row.actor, row.detail) for row in audit] == [
        (
            f"console.match_{state}",
            user.actor,
            # The pair as stored (lower entry first), whichever page it was decided on.
            {"user": user.id, "case": str(alert), "other_case": str(handover)},
        )
    ]
    assert await console.store.possible_matches_open() == 0


@pytest.mark.parametrize(
    ("path", "csrf", "status"),
    [
        ("/console/cases/{other}/matches/{id}/confirm", True, 404),  # not this case's pair
        ("/console/cases/{case}/matches/999/confirm", True, 404),
        ("/console/cases/{case}/matches/{id}/merge", True, 404),
        ("/console/cases/{case}/matches/x1/confirm", True, 404),
        ("/console/cases/not-a-case/matches/{id}/confirm", True, 404),
        ("/console/cases/{case}/matches/{id}/confirm", False, 403),  # no CSRF token
    ],
)
async def test_a_decision_on_no_pair_of_the_case_changes_nothing(
    matched: tuple[ConsoleHarness, uuid.UUID, uuid.UUID, int], path: str, csrf: bool, status: int
) -> None:
    console, alert, _, match_id = matched
    await console.sign_in(Role.SUPERVISOR)
    target = path.format(case=alert, other=uuid.uuid4(), id=match_id)
    if csrf:
        answer = await post_form(console, target, [])
    else:
        answer = await console.client.post(target, data={}, allow_redirects=False)
    assert answer.status == status
    assert await console.store.possible_matches_open() == 1


async def test_an_operator_may_not_decide(
    matched: tuple[ConsoleHarness, uuid.UUID, uuid.UUID, int],
) -> None:
    console, alert, _, match_id = matched
    await console.sign_in(Role.OPERATOR)
    answer = await post_form(console, f"/console/cases/{alert}/matches/{match_id}/confirm", [])
    assert answer.status == 403
    assert await console.store.possible_matches_open() == 1
