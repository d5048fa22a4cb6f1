"""Possible matches end to end in Debian's Chromium, through two real gateways (`gateway
run`, tests/federation/harness.py): issue 13's done-when.

vn-gialai-blo (Gia Lai border guard) sends kh-stungtreng-police a hotline alert reporting a
girl missing (Vietnamese name with diacritics, born 2012) and a second alert naming a girl of
the same name born 2016 (the near miss). Later Stung Treng's records system posts a victim
handover in its own format (kh-police-xml) to its gateway's local API, naming the girl in
Khmer script and Latin, born 2011. At vn-gialai-blo the search index takes in the sent and
received messages and the possible-match finder pairs the girl of the first alert with the
handover's: both case pages show the box with its reasons (name, birth year, sex), an officer
confirms it in Chromium and the decision is recorded (state, who, when, audit entry,
blg_possible_matches_open back to 0). The near miss's case page shows no box: its entry was
examined (the finder's cursor is past it) and matched nothing.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import trustme
from playwright.async_api import ConsoleMessage, Page

from gateway.store import EmbeddedPostgres
from gateway.wire import canonical
from tests.console.browser import NewPage, screenshot
from tests.console.e2e_harness import BLO, ConsoleNodes, agency_names
from tests.console.test_e2e_handover import reload_until, sign_in
from tests.federation.harness import Federation, local_client

STUNG_TRENG = "kh-stungtreng-police"
ROOT = Path(__file__).resolve().parents[2]
README_SHOT = ROOT / "docs" / "console" / "possible-match.png"
GIRL = unicodedata.normalize("NFC", "Nguyễn Thị Lan")

# The handover as Stung Treng's records system writes it (the partner sample, one victim).
HANDOVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Notice xmlns="urn:kh:police:liaison:1" kind="HANDOVER" ref="STG-HO-2026-013" action="PROPOSE"
        issued="30-11-2026 15:40" classification="PROTECTED">
  <Victims>
    <Person minor="true">
      <NameKh>ង្វៀន ធី ឡាន</NameKh>
      <NameLatin>NGUYEN Thi Lan</NameLatin>
      <Sex>F</Sex>
      <Born>២០១១</Born>
      <Nationality>VN</Nationality>
      <Needs>PSYCHOLOGICAL</Needs>
    </Person>
  </Victims>
  <Crossing gate="KH-OYADAV" at="០៥-១២-២០២៦ ០៩:០០"/>
  <Escort>
    <Officer name="KEO Vanna" rank="Captain" unit="Stung Treng Anti-Human Trafficking Office"
             phone="+855 12 345 678"/>
  </Escort>
</Notice>
"""


def missing_girl_alert(reference: str, born: int) -> canonical.Message:
    """A hotline alert of vn-gialai-blo: a girl missing, named with diacritics."""
    girl = canonical.Person(
        name=GIRL,
        name_latin="Nguyen Thi Lan",
        sex=canonical.SEX_FEMALE,
        birth_date=canonical.Date(year=born),
        nationality="VN",
    )
    message = canonical.Message(
        sender_reference=reference,
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        hotline_alert=canonical.HotlineAlert(
            call_id=f"111-{reference}",
            channel=canonical.CHANNEL_PHONE,
            category=canonical.CATEGORY_MISSING,
            urgency=canonical.URGENCY_HIGH,
            summary="Con gái mất liên lạc sau khi đi làm thuê bên kia biên giới",
            persons=[canonical.InvolvedPerson(role=canonical.ROLE_VICTIM, person=girl)],
        ),
    )
    message.issued_at.FromDatetime(datetime.now(UTC).replace(tzinfo=None))
    return message


@pytest.fixture(name="nodes")
async def nodes_fixture(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[tuple[ConsoleNodes, str]]:
    """vn-gialai-blo and kh-stungtreng-police running; the token of Stung Treng's records
    system on its local API (kh-police-xml)."""
    federation = Federation(tmp_path, postgres, ca)
    token, client = local_client("police-records", ["kh-police-xml"])
    for node_id in (BLO, STUNG_TRENG):
        federation.names[node_id] = agency_names(node_id)
    await federation.add(BLO, STUNG_TRENG)
    federation.sections[STUNG_TRENG] = {"local_clients": [client]}
    federation.write_config(STUNG_TRENG)
    try:
        for node_id in (BLO, STUNG_TRENG):
            federation.start(node_id)
        for node_id in (BLO, STUNG_TRENG):
            await federation.wait_ready(node_id)
        yield ConsoleNodes(federation), token
    finally:
        federation.stop_all()


async def _post_handover(nodes: ConsoleNodes, token: str) -> str:
    """The handover posted by Stung Treng's records system; its case id."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{nodes.federation.api_url(STUNG_TRENG)}/api/v1/messages",
            data=HANDOVER_XML.encode(),
            params={"to": BLO},
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/vnd.kh-police+xml",
            },
        ) as response,
    ):
        answer = await response.json()
        assert response.status == 202, answer
    [case_id] = {item["case_id"] for item in answer["messages"]}
    return str(case_id)


async def _open_matches(nodes: ConsoleNodes) -> float:
    text = await nodes.federation.metrics_text(BLO)
    [value] = [
        float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("blg_possible_matches_open ")
    ]
    return value


async def _box(page: Page) -> dict[str, object]:
    box = page.locator("section.possible-match")
    return {
        "count": await box.count(),
        "state": await box.first.get_attribute("data-match-state"),
        "reasons": await box.first.locator("li[data-reason]").evaluate_all(
            "items => items.map(i => i.dataset.reason)"
        ),
        "other": await box.first.locator("a.other-case").get_attribute("href"),
        "names": await box.first.locator(".other-name").all_inner_texts(),
    }


async def test_a_missing_girl_alert_and_a_handover_naming_her_are_matched_and_confirmed(
    nodes: tuple[ConsoleNodes, str], new_page: NewPage
) -> None:
    console, token = nodes
    federation = console.federation
    [alerted] = await federation.send(BLO, STUNG_TRENG, [missing_girl_alert("TB-2026-0412", 2012)])
    [near_miss] = await federation.send(
        BLO, STUNG_TRENG, [missing_girl_alert("TB-2026-0413", 2016)]
    )
    await federation.wait_delivered(BLO, 2)
    handover = await _post_handover(console, token)

    officer = await console.add_user(BLO, "lan-officer", role="officer", language="vi")
    logs: list[list[ConsoleMessage]] = []
    page = await sign_in(new_page, console, officer, logs)
    alert_page = console.url(BLO, f"cases/{alerted.case_id}")
    await page.goto(alert_page)

    async def matched() -> bool:
        return await page.locator("section.possible-match").count() > 0

    await reload_until(page, matched, "the possible match on the alert's case page")
    shown = await _box(page)
    assert shown["count"] == 1
    assert shown["state"] == "open"
    assert shown["reasons"] == ["name", "birth_year", "sex"]
    assert shown["other"] == f"/console/cases/{handover}"
    # An officer may read the handover: the girl as Stung Treng wrote her, both scripts.
    assert shown["names"] == ["ង្វៀន ធី ឡាន", "NGUYEN Thi Lan"]
    assert "Năm sinh chênh nhau không quá một năm" in await page.inner_text(
        "section.possible-match"
    )
    assert await _open_matches(console) == 1

    # The same pair on the handover's case page, seen from there.
    await page.click("section.possible-match a.other-case")
    await page.wait_for_url(f"**/console/cases/{handover}")
    shown = await _box(page)
    assert shown["other"] == f"/console/cases/{alerted.case_id}"
    assert shown["names"] == [GIRL, "Nguyen Thi Lan"]
    await screenshot(page, "possible-match")
    # README's "Possible matches" shows the top of this page (the box below the case facts).
    await page.screenshot(path=README_SHOT)

    await page.click("form.confirm-match button")
    await page.wait_for_selector('section.possible-match[data-match-state="confirmed"]')
    assert await page.inner_text("section.possible-match .decided-by") == officer.name
    await page.goto(alert_page)
    assert await page.get_attribute("section.possible-match", "data-match-state") == "confirmed"
    assert await _open_matches(console) == 0

    store = await federation.store(BLO)
    try:
        [recorded] = await store.case_possible_matches(alerted.case_id)
        assert recorded.state == "confirmed"
        assert recorded.decided_by_name == officer.name
        audit = {row.action: row for row in await store.list_audit(limit=1000)}
        assert audit["console.match_confirmed"].subject == f"possible_match:{recorded.id}"
        # The near miss: examined (the cursor is past every entry) and matched nothing.
        deadline = time.monotonic() + 30
        entries = await store.search_entries_after(0, 1000)
        while await store.possible_match_cursor() < max(e.id for e in entries):
            assert time.monotonic() < deadline, "the finder did not examine every entry"
            await page.wait_for_timeout(200)
        assert {e.case_id for e in entries} >= {near_miss.case_id}
        assert await store.case_possible_matches(near_miss.case_id) == []
    finally:
        await store.close()
    await page.goto(console.url(BLO, f"cases/{near_miss.case_id}"))
    assert await page.locator("section.possible-match").count() == 0
    blocked = [m.text for log in logs for m in log if "Content Security Policy" in m.text]
    assert not blocked
