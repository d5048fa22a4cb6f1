"""The Reports page in real Chromium against two real gateways (`gateway run`) that have
exchanged traffic: kh-ratanakiri-police hands three victim handovers (two victims each) and
one hotline alert to vn-gialai-blo, which sends it four alerts. A supervisor at vn-gialai-blo
(Vietnamese) opens the current half-year's preset, sees the tables and charts with a small
count shown "<3", and downloads the XLSX; an admin at kh-ratanakiri-police reads the same
page in Khmer. The screenshots are the README's (docs/console/report.png, report-km.png)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme
from playwright.async_api import ConsoleMessage, Page

from gateway.console.i18n import LOCAL_TIME
from gateway.report.disclosure import SMALL
from gateway.store import EmbeddedPostgres
from gateway.wire import canonical
from tests.console.browser import NewPage, khmer_font_loaded, screenshot
from tests.console.cases_support import NAMES, handover_from_ratanakiri
from tests.console.e2e_harness import BLO, RATANAKIRI, ConsoleNodes
from tests.console.test_e2e_handover import sign_in
from tests.federation.harness import Federation, alert, without_attachment_ids
from tests.report.xlsx_reader import read_xlsx

HANDOVERS = 3
ALERTS_TO_KH = 4


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


def _handover(number: int) -> canonical.Message:
    message = without_attachment_ids(handover_from_ratanakiri())
    message.sender_reference = f"STG-HO-REPORT-{number}"
    message.case_id = str(uuid.uuid4())
    return message


async def _exchange(nodes: ConsoleNodes) -> None:
    federation = nodes.federation
    handovers = [_handover(number) for number in range(HANDOVERS)]
    await federation.send(RATANAKIRI, BLO, [*handovers, alert("KH-REPORT-1")])
    await federation.send(BLO, RATANAKIRI, [alert(f"VN-REPORT-{n}") for n in range(ALERTS_TO_KH)])
    await federation.wait_delivered(RATANAKIRI, HANDOVERS + 1)
    await federation.wait_delivered(BLO, ALERTS_TO_KH)


async def _open_this_half(page: Page, nodes: ConsoleNodes, node_id: str) -> None:
    today = datetime.now(UTC).astimezone(LOCAL_TIME).date()
    half = ("01-01", "06-30") if today.month <= 6 else ("07-01", "12-31")
    await page.goto(nodes.url(node_id, "cases"))
    await page.click('nav.main a[href="/console/reports"]')
    await page.click(
        f'ul.report-presets a[data-from="{today.year}-{half[0]}"][data-to="{today.year}-{half[1]}"]'
    )
    await page.wait_for_selector("section.report")


async def test_the_half_year_report_in_vietnamese_and_khmer(
    nodes: ConsoleNodes, new_page: NewPage, tmp_path: Path
) -> None:
    logs: list[list[ConsoleMessage]] = []
    await _exchange(nodes)

    supervisor = await nodes.add_user(BLO, "supervisor-blo", role="supervisor", language="vi")
    vn = await sign_in(new_page, nodes, supervisor, logs)
    await _open_this_half(vn, nodes, BLO)
    sections = await vn.locator("section.report-section").count()
    assert sections == 7
    assert await vn.locator("section.report-section svg.report-chart").count() >= 4
    # The one alert received from the peer is a count of 1: shown "<3", never "1".
    hidden = vn.locator('td[data-suppressed="true"]')
    assert await hidden.count() >= 1
    assert SMALL in await hidden.all_inner_texts()
    page_text = await vn.inner_text("main")
    assert not [name for pair in NAMES for name in pair if name in page_text]
    await screenshot(vn, "report")

    async with vn.expect_download() as started:
        await vn.click("button.download-xlsx")
    download = await started.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    assert download.suggested_filename.endswith(".xlsx")
    _cover, *sheets = read_xlsx(saved.read_bytes())
    assert len(sheets) == sections
    assert any(cell.value == SMALL for sheet in sheets for cell in sheet.cells.values())

    admin = await nodes.add_user(RATANAKIRI, "admin-kh", role="admin", language="km")
    kh = await sign_in(new_page, nodes, admin, logs)
    await _open_this_half(kh, nodes, RATANAKIRI)
    assert await kh.get_attribute("svg.report-chart", "lang") == "km"
    assert await khmer_font_loaded(kh)
    await screenshot(kh, "report-km")

    blocked = [m.text for log in logs for m in log if "Content Security Policy" in m.text]
    assert not blocked
