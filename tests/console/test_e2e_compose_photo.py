"""Two real gateways (`gateway run`, tests/federation/harness.py) and real Chromium: an
officer at vn-gialai-blo attaches a photo to a wanted notice for kh-ratanakiri-police, and an
officer there sees the photo on the case page, decoded by the browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from playwright.async_api import ConsoleMessage

from gateway.store import EmbeddedPostgres
from tests.console.attachments_support import png
from tests.console.browser import NewPage, screenshot
from tests.console.e2e_harness import BLO, RATANAKIRI, ConsoleNodes
from tests.console.test_e2e_handover import CASE_PAGE, reload_until, sign_in
from tests.federation.harness import Federation


@pytest.fixture(name="nodes")
async def nodes_fixture(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleNodes]:
    federation = Federation(tmp_path, postgres, ca)
    nodes = ConsoleNodes(federation)
    try:
        await nodes.start(BLO, RATANAKIRI)
        yield nodes
    finally:
        federation.stop_all()


async def test_a_photo_attached_in_the_console_is_shown_at_the_peer(
    nodes: ConsoleNodes, new_page: NewPage, tmp_path: Path
) -> None:
    photo = tmp_path / "subject.png"
    photo.write_bytes(png(96, 72))
    logs: list[list[ConsoleMessage]] = []
    sender = await nodes.add_user(BLO, "officer-blo", role="officer", language="vi")
    reader = await nodes.add_user(RATANAKIRI, "officer-kh", role="officer", language="km")

    vn = await sign_in(new_page, nodes, sender, logs)
    await vn.goto(nodes.url(BLO, "compose/notice"))
    await vn.select_option("#to", RATANAKIRI)
    await vn.fill("#subject-name", "Lê Văn Tám")
    await vn.fill("#subject-name_latin", "LE Van Tam")
    await vn.select_option("#request", "arrest")
    await vn.set_input_files("#subject-photos", str(photo))
    await vn.click("#submit")
    await vn.wait_for_url(CASE_PAGE)
    found = CASE_PAGE.search(vn.url)
    assert found is not None
    case_id = found.group("case")

    kh = await sign_in(new_page, nodes, reader, logs)
    await kh.goto(nodes.url(RATANAKIRI, f"cases/{case_id}"))
    images = kh.locator("img.attachment-image")

    async def shown() -> bool:
        return await images.count() == 1

    await reload_until(kh, shown, "the photo at the peer")
    image = images.first
    await image.scroll_into_view_if_needed()
    await kh.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=await image.element_handle()
    )
    assert await image.evaluate("image => [image.naturalWidth, image.naturalHeight]") == [96, 72]
    await screenshot(kh, "kh-case-photo-from-console")
    blocked = [m.text for log in logs for m in log if "Content Security Policy" in m.text]
    assert not blocked
    assert re.fullmatch(r"[0-9a-f-]{36}", case_id)
