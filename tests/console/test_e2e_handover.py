"""End to end in Debian's Chromium: a victim handover proposed, approved, counter-proposed and
accepted across the border through two real gateways' consoles.

vn-gialai-blo's officer proposes in Vietnamese, a second user (a supervisor) approves it (four
eyes), kh-ratanakiri-police's officer reads it in Khmer and counter-proposes a time, and the
first officer accepts in the same case. Every page is driven through the DOM hooks of the
console contract; a screenshot of each step goes to artefacts/console/ (ignored by git).
Waiting for the other gateway is done by reloading the page until what is awaited shows, with a
bounded timeout, never by sleeping before a check that something is absent.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache, partial
from pathlib import Path
from typing import Any

import pytest
import trustme
from playwright.async_api import ConsoleMessage, Locator, Page

from gateway.console.i18n import format_local_datetime, format_partial_date, load_translations
from gateway.console.labels import msgid
from gateway.store import EmbeddedPostgres
from gateway.wire import canonical
from tests.console.browser import (
    NewPage,
    console_messages,
    khmer_font_loaded,
    screenshot,
)
from tests.console.browser import sign_in as sign_in_through_form
from tests.console.e2e_harness import BLO, RATANAKIRI, ConsoleAccount, ConsoleNodes
from tests.federation.harness import Federation

# Delivery across the border, receipts included, takes well under this on loopback.
DELIVERY_TIMEOUT = 60.0
BORDER_TIME = timezone(timedelta(hours=7))  # both sides of this border keep UTC+7
KHMER = re.compile("[\u1780-\u17ff]")
KHMER_DIGIT = re.compile("[\u17e0-\u17e9]")
ASCII_DIGIT = re.compile("[0-9]")
CASE_PAGE = re.compile(r"/console/cases/(?P<case>[0-9a-f-]{36})$")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# Two victims: an adult, and a minor travelling with her child. Native names with Vietnamese
# diacritics, and the Latin forms the other side can type.
VICTIMS: list[dict[str, Any]] = [
    {
        "name": nfc("Nguyễn Thị Hoa"),
        "name_latin": "Nguyen Thi Hoa",
        "sex": "female",
        "birth_date": "1998-04-12",
        "needs": ["medical", "interpreter"],
        "children": [],
    },
    {
        "name": nfc("Rơ Châm H'Lan"),
        "name_latin": "Ro Cham H'Lan",
        "sex": "female",
        "birth_date": "2009",
        "minor": True,
        "needs": ["psychological"],
        "children": [
            {
                "name": nfc("Rơ Châm Thị Bé"),
                "name_latin": "Ro Cham Thi Be",
                "sex": "female",
                "birth_date": "2024",
            }
        ],
    },
]
ESCORT = {
    "name": nfc("Trần Văn Dũng"),
    "rank": nfc("Thiếu tá"),
    "unit": nfc("Đồn Biên phòng Lệ Thanh"),
    "phone": "+84 269 3831 111",
}
EVERY_NAME = [
    (person["name"], person["name_latin"])
    for victim in VICTIMS
    for person in [victim, *victim["children"]]
]


@pytest.fixture
async def console_nodes(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleNodes]:
    federation = Federation(tmp_path, postgres, ca)
    nodes = ConsoleNodes(federation)
    try:
        await nodes.start(BLO, RATANAKIRI)
        yield nodes
    finally:
        federation.stop_all()


async def sign_in(
    new_page: NewPage,
    nodes: ConsoleNodes,
    account: ConsoleAccount,
    logs: list[list[ConsoleMessage]],
) -> Page:
    """A new page (its own cookies) signed in as account through the sign-in form; the list
    of what it logs from then on is added to logs."""
    page = await new_page()
    logs.append(console_messages(page))
    await sign_in_through_form(
        page, nodes.url(account.node_id, "sign-in"), account.name, account.password
    )
    assert await page.get_attribute("html", "lang") == account.language
    return page


async def reload_until(
    page: Page, seen: Callable[[], Awaitable[bool]], what: str, timeout: float = DELIVERY_TIMEOUT
) -> None:
    """Reload page until seen() holds; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not await seen():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout:.0f} s on {page.url}")
        await asyncio.sleep(0.5)
        await page.reload()


@dataclass(frozen=True)
class Shown:
    """A message of a case page as the reader sees it."""

    id: str
    action: str
    direction: str
    # time class (queued-at, receipt-at, received-at, answered-at) -> (its datetime, its text)
    times: dict[str, tuple[str, str]]

    def time(self, name: str) -> str:
        return self.times.get(name, ("", ""))[1]


async def thread(page: Page) -> list[Shown]:
    """The case page's messages, drafts left out."""
    found: list[dict[str, Any]] = await page.locator("article.message:not(.draft)").evaluate_all(
        """articles => articles.map(article => ({
            id: article.dataset.messageId ?? '',
            action: article.dataset.action ?? '',
            direction: article.dataset.direction ?? '',
            times: Object.fromEntries([...article.querySelectorAll('time')].map(time => [
                time.className, [time.getAttribute('datetime') ?? '', time.textContent.trim()],
            ])),
        }))"""
    )
    return [
        Shown(m["id"], m["action"], m["direction"], {k: tuple(v) for k, v in m["times"].items()})
        for m in found
    ]


def settled(messages: list[Shown], expected: set[tuple[str, str]]) -> bool:
    """Whether the thread holds exactly the expected (action, direction) pairs, every message
    sent has its signed-receipt time and every message received its arrival time."""
    return {(m.action, m.direction) for m in messages} == expected and all(
        m.time("receipt-at" if m.direction == "out" else "received-at") for m in messages
    )


_catalogue = cache(load_translations)


def in_language(language: str, group: str, value: str) -> str:
    """A coded value's label as the reader's catalogue has it (not the English fallback)."""
    english = msgid(group, value)
    assert english is not None, (group, value)
    translated = _catalogue(language).gettext(english)
    assert translated != english or language == "en", f"no {language} label of {group} {value}"
    return translated


def assert_times_in_convention(messages: list[Shown], language: str) -> None:
    """Every time on the page is its datetime in the reader's convention (UTC+7; Khmer
    digits for km), and a sent message's receipt and a received one's arrival are shown."""
    for message in messages:
        assert message.time("queued-at"), message
        assert message.time("receipt-at" if message.direction == "out" else "received-at"), message
        for name, (moment, text) in message.times.items():
            expected = format_local_datetime(datetime.fromisoformat(moment), language)
            assert text == expected, (message.action, name, text, expected)
            if language == "km":
                assert KHMER_DIGIT.search(text), text
                assert not ASCII_DIGIT.search(text), text


def border_time(days: int, hour: int) -> datetime:
    """A whole hour at the border (UTC+7), days ahead."""
    moment = datetime.now(UTC).astimezone(BORDER_TIME) + timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


def local_input(moment: datetime) -> str:
    """moment as an <input type=datetime-local> value (the border's local time)."""
    return moment.astimezone(BORDER_TIME).strftime("%Y-%m-%dT%H:%M")


def partial_date(text: str) -> canonical.Date:
    parts = [int(part) for part in text.split("-")]
    return canonical.Date(**dict(zip(("year", "month", "day"), parts, strict=False)))


async def compose_handover(page: Page, nodes: ConsoleNodes, planned_at: datetime) -> None:
    await page.goto(nodes.url(BLO, "compose/handover"))
    await page.select_option("select[name=to]", RATANAKIRI)
    await page.select_option("select[name=border_gate]", "VN-LETHANH")
    await page.fill("input[name=planned_at]", local_input(planned_at))
    await page.fill("[name=note]", nfc("Bàn giao tại cửa khẩu Lệ Thanh, có phiên dịch."))
    for n, victim in enumerate(VICTIMS):
        prefix = f"victims-{n}-"
        await page.fill(f"input[name={prefix}name]", victim["name"])
        await page.fill(f"input[name={prefix}name_latin]", victim["name_latin"])
        await page.select_option(f"select[name={prefix}sex]", victim["sex"])
        await page.fill(f"input[name={prefix}birth_date]", victim["birth_date"])
        if victim.get("minor"):
            await page.check(f"input[name={prefix}minor]")
        for need in victim["needs"]:
            await page.check(f"input[name={prefix}needs][value={need}]")
        for m, child in enumerate(victim["children"]):
            child_prefix = f"{prefix}child-{m}-"
            await page.fill(f"input[name={child_prefix}name]", child["name"])
            await page.fill(f"input[name={child_prefix}name_latin]", child["name_latin"])
            await page.select_option(f"select[name={child_prefix}sex]", child["sex"])
            await page.fill(f"input[name={child_prefix}birth_date]", child["birth_date"])
    for field, value in ESCORT.items():
        await page.fill(f"[name=escort-0-{field}]", value)


async def answer(
    page: Page, action: str, planned_at: datetime | None = None, reason: str = ""
) -> None:
    form = page.locator("form#answer")
    if planned_at is not None:
        await form.locator("input[name=planned_at]").fill(local_input(planned_at))
    if reason:
        await form.locator("[name=reason]").fill(reason)
    async with page.expect_navigation():
        await form.locator(f"button[name=action][value={action}]").click()
    assert CASE_PAGE.search(page.url), page.url


async def test_handover_proposed_approved_counter_proposed_and_accepted_across_the_border(
    console_nodes: ConsoleNodes, new_page: NewPage
) -> None:
    nodes = console_nodes
    officer_vn = await nodes.add_user(BLO, "officer.hoa", role="officer", language="vi")
    supervisor_vn = await nodes.add_user(BLO, "supervisor.minh", role="supervisor", language="vi")
    officer_kh = await nodes.add_user(RATANAKIRI, "officer.sokha", role="officer", language="km")
    proposed_time = border_time(days=3, hour=9)
    counter_time = border_time(days=4, hour=14)
    # What the pages log: a script error or a Content-Security-Policy violation fails the test.
    logs: list[list[ConsoleMessage]] = []

    # 1. The Vietnamese officer proposes; the handover waits for a second pair of eyes.
    vn = await sign_in(new_page, nodes, officer_vn, logs)
    await screenshot(vn, "01-vn-officer-signed-in")
    await compose_handover(vn, nodes, proposed_time)
    await screenshot(vn, "02-vn-compose-handover")
    await vn.click("#submit")
    await vn.wait_for_url(CASE_PAGE)
    match = CASE_PAGE.search(vn.url)
    assert match is not None
    case_id = match["case"]
    draft = vn.locator("article.message.draft[data-state=awaiting_approval]")
    await draft.wait_for()
    draft_id = await draft.get_attribute("data-draft-id")
    assert draft_id
    assert await thread(vn) == [], "nothing may be sent before approval"
    await screenshot(vn, "03-vn-case-awaiting-approval")

    # 2. A supervisor approves it: only now is it sealed and queued.
    supervisor = await sign_in(new_page, nodes, supervisor_vn, logs)
    await supervisor.goto(nodes.url(BLO, "approvals"))
    row = supervisor.locator(f"tr.draft[data-draft-id='{draft_id}']")
    await screenshot(supervisor, "04-vn-supervisor-approvals")
    async with supervisor.expect_navigation():
        await row.locator("button.approve").click()
    await supervisor.goto(nodes.url(BLO, f"cases/{case_id}"))
    await reload_until(
        supervisor,
        lambda: _has_message(supervisor, "propose", "out"),
        "the approved proposal on the sender's case page",
    )

    # 3. The Cambodian officer finds it in Khmer, in the same case, and counter-proposes.
    kh = await sign_in(new_page, nodes, officer_kh, logs)
    await reload_until(
        kh,
        lambda: _visible(kh.locator(f"table.cases tr.case[data-case='{case_id}']")),
        "the proposal in the receiver's case list",
    )
    await screenshot(kh, "05-kh-cases")
    await kh.locator(f"tr.case[data-case='{case_id}'] a.case-link").click()
    await kh.wait_for_url(re.compile(rf"/console/cases/{case_id}$"))
    assert await kh.get_attribute("html", "lang") == "km"
    proposal = kh.locator("article.message[data-direction=in][data-action=propose]")
    await proposal.wait_for()
    names = {nfc(text.strip()) for text in await proposal.locator(".person-name").all_inner_texts()}
    latin = {text.strip() for text in await proposal.locator(".person-latin").all_inner_texts()}
    for native_name, latin_name in EVERY_NAME:
        assert native_name in names, native_name
        assert latin_name in latin, latin_name
    # One minor, travelling with one child (cases' classes: the contract names no hook).
    assert await proposal.locator(".minor").count() == 1
    children = await proposal.locator(".child .person-name").all_inner_texts()
    assert [nfc(text.strip()) for text in children] == [VICTIMS[1]["children"][0]["name"]]
    handling = proposal.locator("span.handling")
    assert await handling.get_attribute("data-handling") == "victim_protected"
    assert (await handling.inner_text()).strip() == in_language(
        "km", "handling", "victim_protected"
    )
    shown = await proposal.inner_text()
    labels = [
        ("action", "propose"),
        ("border_gate", "VN-LETHANH"),
        ("sex", "female"),
        *(("need", need) for victim in VICTIMS for need in victim["needs"]),
    ]
    for group, value in labels:
        assert in_language("km", group, value) in shown, (group, value)
    for victim in VICTIMS:
        for person in [victim, *victim["children"]]:
            born = format_partial_date(partial_date(person["birth_date"]), "km")
            assert born in shown, (person["name_latin"], born)
    assert format_local_datetime(proposed_time, "km") in shown
    assert_times_in_convention(await thread(kh), "km")
    assert await khmer_font_loaded(kh), "Noto Sans Khmer was not loaded"
    await screenshot(kh, "06-kh-case-proposal")
    await answer(kh, "counter_propose", counter_time, "ត្រូវការអ្នកបកប្រែ")
    await reload_until(
        kh,
        lambda: _has_message(kh, "counter_propose", "out"),
        "the counter-proposal on the receiver's case page",
    )
    await screenshot(kh, "07-kh-counter-proposed")

    # 4. The Vietnamese officer sees the counter-proposal in the same case and accepts it.
    await vn.goto(nodes.url(BLO, f"cases/{case_id}"))
    await reload_until(
        vn,
        lambda: _has_message(vn, "counter_propose", "in"),
        "the counter-proposal in the sender's case",
    )
    counter = vn.locator("article.message[data-direction=in][data-action=counter_propose]")
    assert format_local_datetime(counter_time, "vi") in await counter.inner_text()
    await screenshot(vn, "08-vn-case-counter-proposal")
    # The Khmer officer's note is Khmer text on a Vietnamese page: drawn with the served
    # face, never as empty boxes from a system font listed before it.
    assert await khmer_font_loaded(vn), "Khmer text on the Vietnamese page without its font"
    await answer(vn, "accept")

    # 5. Both case pages show the whole thread with the signed-receipt time of every message
    # sent, the proposal and the counter-proposal answered, times in each reader's convention.
    vn_expected = {("propose", "out"), ("counter_propose", "in"), ("accept", "out")}
    kh_expected = {("propose", "in"), ("counter_propose", "out"), ("accept", "in")}
    pages = [
        (vn, vn_expected, "vi", "09-vn-case-accepted"),
        (kh, kh_expected, "km", "10-kh-case-accepted"),
    ]
    ids: list[set[str]] = []
    for page, expected, language, step in pages:
        await reload_until(page, partial(_settled, page, expected), f"{step}: whole thread")
        messages = await thread(page)
        assert_times_in_convention(messages, language)
        for message in messages:
            if message.action in ("propose", "counter_propose"):
                assert message.time("answered-at"), (step, message.action)
        shown = await page.locator("main").inner_text()
        for action in ("propose", "counter_propose", "accept"):
            assert in_language(language, "action", action) in shown, (step, action)
        ids.append({message.id for message in messages})
        await screenshot(page, step)
    assert ids[0] == ids[1], "the two sides show different messages"
    assert [m.text for log in logs for m in log if m.type == "error"] == []


async def _visible(locator: Locator) -> bool:
    return await locator.count() > 0


async def _has_message(page: Page, action: str, direction: str) -> bool:
    return (action, direction) in {(m.action, m.direction) for m in await thread(page)}


async def _settled(page: Page, expected: set[tuple[str, str]]) -> bool:
    return settled(await thread(page), expected)
