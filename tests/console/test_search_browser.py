"""The console's search page in Debian's Chromium, against two real gateways (`gateway run`)
whose indexes (gateway/search) fill from the messages they exchange.

kh-ratanakiri-police hands over two victims whose names its officers wrote in Khmer script
only (no Latin form): a Vietnamese woman and a Cambodian girl. vn-gialai-blo issues a wanted
notice about a man whose name is written in Vietnamese only. Then, each in their own
language:
- an officer at vn-gialai-blo types the woman's name in Vietnamese and finds the
  Khmer-written victim (received), with the case link that opens her case;
- an officer at kh-ratanakiri-police types the wanted man's name in Khmer script and finds
  the Vietnamese-written notice (received);
- an operator at vn-gialai-blo searching the same name gets no hit at all: a hit, even
  without the names, would tell them the name is a victim's.
Search terms go only in the POST body: the results page's URL is /console/search. The
screenshots docs/console/search.png and search-km.png (README) are taken here, into
artefacts/console/. The indexer works after delivery, so a search is repeated, a bounded
number of times, until the hit shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme
from playwright.async_api import ConsoleMessage, Page

from gateway.store import EmbeddedPostgres
from gateway.wire import canonical
from tests.console.browser import NewPage, khmer_font_loaded, screenshot
from tests.console.cases_support import handover_from_ratanakiri
from tests.console.e2e_harness import BLO, RATANAKIRI, ConsoleNodes
from tests.console.test_e2e_handover import sign_in
from tests.federation.harness import Federation, without_attachment_ids

# Written by Cambodian officers in Khmer script only.
KHMER_WRITTEN = ("ង្វៀន ធី ឡាន", "ចាន់ សុភា")  # Nguyễn Thị Lan, Chan Sophea
# Written by Vietnamese officers in Vietnamese only.
VIETNAMESE_WRITTEN = "Trần Văn Hùng"
INDEX_TIMEOUT = 60.0


@pytest.fixture(name="nodes")
async def nodes_fixture(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleNodes]:
    nodes = ConsoleNodes(Federation(tmp_path, postgres, ca))
    try:
        await nodes.start(BLO, RATANAKIRI)
        yield nodes
    finally:
        nodes.federation.stop_all()


def _khmer_only_handover() -> canonical.Message:
    handover = without_attachment_ids(handover_from_ratanakiri())
    for victim in handover.victim_handover.victims:
        victim.person.name_latin = ""
    assert [v.person.name for v in handover.victim_handover.victims] == list(KHMER_WRITTEN)
    return handover


def _vietnamese_only_notice() -> canonical.Message:
    notice = canonical.Message(
        sender_reference="TN-SEARCH-1",
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_RESTRICTED,
        wanted_person_notice=canonical.WantedPersonNotice(
            subject=canonical.Person(
                name=VIETNAMESE_WRITTEN,
                sex=canonical.SEX_MALE,
                birth_date=canonical.Date(year=1985),
            )
        ),
    )
    notice.issued_at.FromDatetime(datetime.now(UTC).replace(tzinfo=None))
    return notice


async def _search_until_found(page: Page, nodes: ConsoleNodes, node_id: str, name: str) -> None:
    """Search for name on the page's node until a hit shows (the indexer runs after
    delivery), at most INDEX_TIMEOUT seconds."""
    deadline = time.monotonic() + INDEX_TIMEOUT
    await page.goto(nodes.url(node_id, "search"))
    while True:
        await page.fill("#search-name", name)
        await page.click("#search")
        await page.wait_for_selector("section.search-results")
        if await page.locator("tr.hit").count():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no hit on {node_id} within {INDEX_TIMEOUT:.0f} s")
        await asyncio.sleep(0.5)


async def test_a_name_in_one_script_finds_the_person_written_in_the_other(
    nodes: ConsoleNodes, new_page: NewPage
) -> None:
    federation = nodes.federation
    logs: list[list[ConsoleMessage]] = []
    await federation.send(RATANAKIRI, BLO, [_khmer_only_handover()])
    await federation.send(BLO, RATANAKIRI, [_vietnamese_only_notice()])
    await federation.wait_delivered(RATANAKIRI, 1)
    await federation.wait_delivered(BLO, 1)

    # At vn-gialai-blo, in Vietnamese: the Khmer-written woman, by her Vietnamese name.
    officer = await nodes.add_user(BLO, "officer-blo", role="officer", language="vi")
    vn = await sign_in(new_page, nodes, officer, logs)
    await vn.click('nav.main a[href="/console/search"]')
    await _search_until_found(vn, nodes, BLO, "Nguyễn Thị Lan")
    assert vn.url == nodes.url(BLO, "search")  # the terms went in the body only
    first = vn.locator("tr.hit").first
    assert await first.get_attribute("data-withheld") == "no"
    assert await first.locator(".person-name").all_inner_texts() == [KHMER_WRITTEN[0]]
    assert await first.locator('.person-name[lang="km"]').count() == 1
    assert await first.locator("td.kind").get_attribute("data-kind") == "victim_handover"
    assert await first.locator("td.role").get_attribute("data-role") == "victim"
    assert await first.locator(".direction").get_attribute("data-direction") == "in"
    assert "name" in await first.locator(".reason").evaluate_all(
        "spans => spans.map(s => s.dataset.reason)"
    )
    assert await khmer_font_loaded(vn)
    await screenshot(vn, "search")
    case_link = first.locator("a.case-link")
    case_path = await case_link.get_attribute("href")
    await case_link.click()
    await vn.wait_for_url(f"**{case_path}")
    assert await vn.locator(".person-name", has_text=KHMER_WRITTEN[0]).count() == 1

    # At kh-ratanakiri-police, in Khmer: the Vietnamese-written man, by his name in Khmer.
    kh_officer = await nodes.add_user(RATANAKIRI, "officer-kh", role="officer", language="km")
    kh = await sign_in(new_page, nodes, kh_officer, logs)
    await _search_until_found(kh, nodes, RATANAKIRI, "ត្រឹន វ៉ាន់ ហ៊ុង")
    assert kh.url == nodes.url(RATANAKIRI, "search")
    hit = kh.locator("tr.hit").first
    assert await hit.locator(".person-name").all_inner_texts() == [VIETNAMESE_WRITTEN]
    assert await hit.locator("td.kind").get_attribute("data-kind") == "wanted_person_notice"
    assert await khmer_font_loaded(kh)
    await screenshot(kh, "search-km")

    # An operator at vn-gialai-blo (the officer found her above, so she is indexed): no hit,
    # no case link, no name.
    operator = await nodes.add_user(BLO, "operator-blo", role="operator", language="en")
    op = await sign_in(new_page, nodes, operator, logs)
    await op.goto(nodes.url(BLO, "search"))
    await op.fill("#search-name", "Nguyen Thi Lan")
    await op.click("#search")
    await op.wait_for_selector("section.search-results")
    assert await op.locator("section.search-results").get_attribute("data-count") == "0"
    assert await op.locator("tr.hit").count() == 0
    assert case_path is not None
    assert case_path not in await op.content()
    assert KHMER_WRITTEN[0] not in await op.content()

    blocked = [m.text for log in logs for m in log if "Content Security Policy" in m.text]
    assert not blocked
