"""The case list and the case page through the real console app, a real node config and a
real PostgreSQL: messages are sealed with the node's and the peer's real keys."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.console import Role
from gateway.console.i18n import format_local_datetime, load_translations
from gateway.console.labels import msgid
from gateway.store import DeliveryOutcome
from gateway.store.drafts import NewDraft
from gateway.wire import canonical
from tests.console.cases_support import (
    NAMES,
    answer_to,
    handover_from_ratanakiri,
    receive,
    send,
)
from tests.console.conftest import PEER, ConsoleHarness

KHMER_DIGIT = re.compile("[០-៩]")


def _articles(page: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))
        for tag in re.findall(r'<article class="message"[^>]*>', page)
    ]


async def test_a_khmer_officer_reads_a_received_handover_in_khmer(
    console: ConsoleHarness,
) -> None:
    case = uuid.uuid4()
    received_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    await receive(console, handover_from_ratanakiri(), case, at=received_at)
    await console.sign_in(Role.OFFICER, "km")

    listing = await console.client.get("/console/cases")
    assert listing.status == 200
    text = await listing.text()
    assert f'<tr class="case" data-case="{case}">' in text
    assert f'<a class="case-link" href="/console/cases/{case}">' in text
    assert '<td class="last-action" data-action="propose">' in text

    answer = await console.client.get(f"/console/cases/{case}")
    assert answer.status == 200
    page = await answer.text()
    khmer = load_translations("km")
    for group, value in [
        ("kind", "victim_handover"),
        ("action", "propose"),
        ("handling", "victim_protected"),
        ("border_gate", "KH-OYADAV"),
        ("need", "interpreter"),
        ("sex", "female"),
    ]:
        english = msgid(group, value)
        assert english is not None
        assert khmer.gettext(english) != english, (group, value)
        assert khmer.gettext(english) in page, (group, value)
    when = format_local_datetime(received_at, "km")
    assert KHMER_DIGIT.search(when)
    assert f">{when}</time>" in page
    assert 'class="received-at"' in page
    for native, latin in NAMES:
        assert f'<span class="person-name">{native}</span>' in page
        assert f'<span class="person-latin">{latin}</span>' in page
    [article] = _articles(page)
    assert (article["direction"], article["action"]) == ("in", "propose")
    assert 'class="content-withheld"' not in page


async def test_an_operator_opening_a_victim_protected_message_sees_metadata_only(
    console: ConsoleHarness,
) -> None:
    case = uuid.uuid4()
    message_id = await receive(console, handover_from_ratanakiri(), case)
    await console.sign_in(Role.OPERATOR)
    answer = await console.client.get(f"/console/cases/{case}")
    assert answer.status == 200
    page = await answer.text()
    [article] = _articles(page)
    assert article["message-id"] == str(message_id)
    assert article["action"] == "propose"
    assert 'data-handling="victim_protected"' in page
    assert 'class="received-at"' in page
    assert page.count('<p class="content-withheld">') == 1
    for native, latin in NAMES:
        assert native not in page
        assert latin not in page
    for secret in ("KEO Vanna", "+855 12 345 678", "asks that her family is not told"):
        assert secret not in page
    actions = [entry.action for entry in await console.store.list_audit()]
    assert "console.case_viewed" not in actions


async def test_the_thread_in_both_directions_with_receipt_and_answered_times(
    console: ConsoleHarness,
) -> None:
    proposal = handover_from_ratanakiri()
    proposal.ClearField("case_id")
    proposal.ClearField("sender_reference")
    sent_id, case = await send(console, proposal)
    receipt_at = datetime.now(UTC).replace(microsecond=0)
    claimed = await console.store.claim(PEER, 10, "test")
    await console.store.finish(
        PEER, [DeliveryOutcome(c.message_id, b"receipt", True, "", receipt_at) for c in claimed]
    )
    counter_at = datetime.now(UTC) + timedelta(minutes=5)
    counter_id = await receive(
        console,
        answer_to(canonical.ACTION_COUNTER_PROPOSE, case, sent_id),
        case,
        in_reply_to=sent_id,
        at=counter_at,
    )
    user = await console.sign_in(Role.SUPERVISOR, "vi")
    page = await (await console.client.get(f"/console/cases/{case}")).text()
    articles = _articles(page)
    assert [(a["message-id"], a["direction"], a["action"]) for a in articles] == [
        (str(sent_id), "out", "propose"),
        (str(counter_id), "in", "counter_propose"),
    ]
    first, second = page.split('<article class="message"')[1:3]
    assert f">{format_local_datetime(receipt_at, 'vi')}</time>" in first
    assert 'class="receipt-at"' in first
    assert f'<time class="answered-at" datetime="{counter_at.isoformat()}">' in first
    assert 'class="answered-at"' not in second
    # The reader was shown victim-protected content twice: both audited, by id only.
    audit = [e for e in await console.store.list_audit() if e.action == "console.case_viewed"]
    assert sorted(e.subject for e in audit) == sorted([str(sent_id), str(counter_id)])
    assert {e.actor for e in audit} == {user.actor}
    assert all(e.detail == {"case": str(case), "peer": PEER} for e in audit)


@pytest.mark.parametrize("path", [f"/console/cases/{uuid.uuid4()}", "/console/cases/not-a-uuid"])
async def test_unknown_or_malformed_case_is_not_found(console: ConsoleHarness, path: str) -> None:
    await console.sign_in(Role.OFFICER)
    answer = await console.client.get(path)
    assert answer.status == 404
    assert 'data-reason="not_found"' in await answer.text()


async def test_pages_need_a_signed_in_user(console: ConsoleHarness) -> None:
    for path in ("/console/cases", f"/console/cases/{uuid.uuid4()}"):
        answer = await console.client.get(path, allow_redirects=False)
        assert answer.status == 303
        assert answer.headers["Location"].startswith("/console/sign-in?next=")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["notice", "handover"]),
        ("?kind=victim_handover", ["handover"]),
        ("?state=received", ["handover"]),
        ("?state=queued", ["notice"]),
        (f"?peer={PEER}&kind=wanted_person_notice", ["notice"]),
        ("?state=delivered", []),
    ],
)
async def test_case_list_filters(console: ConsoleHarness, query: str, expected: list[str]) -> None:
    handover = uuid.uuid4()
    await receive(console, handover_from_ratanakiri(), handover, at=datetime.now(UTC))
    notice = canonical.Message(
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_RESTRICTED,
        sender_reference="TN-2026-1",
        wanted_person_notice=canonical.WantedPersonNotice(
            subject=canonical.Person(name="Rơ Châm Y Phăn", name_latin="RO Cham Y Phan")
        ),
    )
    _, notice_case = await send(console, notice)
    names = {str(handover): "handover", str(notice_case): "notice"}
    await console.sign_in(Role.OFFICER)
    answer = await console.client.get(f"/console/cases{query}")
    assert answer.status == 200
    page = await answer.text()
    shown = re.findall(r'<tr class="case" data-case="([^"]+)">', page)
    assert [names[case] for case in shown] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?kind=parcel", "kind"),
        ("?peer=xx-nowhere", "peer"),
        ("?state=lost", "state"),
        ("?page=0", "page"),
        ("?page=%C2%B2", "page"),
        ("?page=" + "9" * 5000, "page"),
    ],
)
async def test_a_filter_outside_its_options_is_named(
    console: ConsoleHarness, query: str, field: str
) -> None:
    await console.sign_in(Role.OFFICER, "vi")
    answer = await console.client.get(f"/console/cases{query}")
    assert answer.status == 400
    page = await answer.text()
    assert f'<p class="field-error" data-field="{field}"' in page
    assert '<table class="cases">' not in page


async def test_a_long_handover_thread_stays_light_on_a_slow_link(console: ConsoleHarness) -> None:
    """Twenty full handovers (two victims, escort, note) in one case: page and stylesheet
    together, the font aside, stay under the issue's 100 KB."""
    case = uuid.uuid4()
    start = datetime.now(UTC) - timedelta(hours=2)
    for minute in range(20):
        await receive(
            console, handover_from_ratanakiri(), case, at=start + timedelta(minutes=minute)
        )
    await console.sign_in(Role.OFFICER, "km")
    page = await (await console.client.get(f"/console/cases/{case}")).read()
    css = await (await console.client.get("/console/static/console.css")).read()
    assert len(_articles(page.decode())) == 20
    assert len(page) + len(css) < 100_000, (len(page), len(css))


async def test_case_list_pages_keep_the_filters(
    console: ConsoleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.console.cases.PAGE_SIZE", 2)
    start = datetime.now(UTC) - timedelta(hours=1)
    cases = [uuid.uuid4() for _ in range(3)]
    for minute, case in enumerate(cases):
        await receive(
            console, handover_from_ratanakiri(), case, at=start + timedelta(minutes=minute)
        )
    await console.sign_in(Role.OFFICER)
    first = await (await console.client.get("/console/cases?kind=victim_handover")).text()
    assert re.findall(r'data-case="([^"]+)"', first) == [str(cases[2]), str(cases[1])]
    assert 'href="/console/cases?kind=victim_handover&amp;page=2"' in first
    assert 'class="previous"' not in first
    second = await (await console.client.get("/console/cases?kind=victim_handover&page=2")).text()
    assert re.findall(r'data-case="([^"]+)"', second) == [str(cases[0])]
    assert 'href="/console/cases?kind=victim_handover&amp;page=1"' in second
    assert 'class="next"' not in second


async def test_a_draft_awaiting_approval_is_listed_and_shown_in_its_case(
    console: ConsoleHarness,
) -> None:
    user = await console.sign_in(Role.OFFICER, "vi")
    case = uuid.uuid4()
    draft_id = await console.store.create_draft(
        NewDraft(
            case_id=case,
            kind="victim_handover",
            recipients=(PEER,),
            composed_by=user.id,
            composed_at=datetime.now(UTC),
            key_id="k1",
            sealed_message=b"sealed to our own key",
        ),
        actor=user.actor,
    )
    listing = await (await console.client.get("/console/cases?state=awaiting_approval")).text()
    assert re.findall(r'<tr class="case" data-case="([^"]+)">', listing) == [str(case)]
    assert 'data-state="awaiting_approval"' in listing
    answer = await console.client.get(f"/console/cases/{case}")
    assert answer.status == 200
    page = await answer.text()
    assert (
        f'<article class="message draft" data-draft-id="{draft_id}" '
        'data-state="awaiting_approval">' in page
    )
    # Its composer may withdraw it from here (compose's form).
    assert f'action="/console/approvals/{draft_id}/withdraw"' in page
    assert _articles(page) == []
