"""Offline bundles through the console in real Chromium, between two real gateways
(`gateway run`, tests/federation/harness.py) that never reach each other: an operator at
vn-gialai-blo exports the peer's queued message (the download captured), an operator at
kh-ratanakiri-police imports it through that node's console and downloads the receipts
bundle, which the first operator imports: the message is delivered at vn-gialai-blo.

The link is down by construction: the two nodes never run at the same time, so neither
sender can deliver online and only the bundles carry the message and its receipt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from playwright.async_api import ConsoleMessage, Page

from gateway.store import EmbeddedPostgres
from tests.console.browser import NewPage, screenshot
from tests.console.e2e_harness import BLO, RATANAKIRI, ConsoleNodes, agency_names
from tests.console.test_e2e_handover import sign_in
from tests.federation.harness import Federation, alert


@pytest.fixture(name="nodes")
async def nodes_fixture(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleNodes]:
    federation = Federation(tmp_path, postgres, ca)
    for node_id in (BLO, RATANAKIRI):
        federation.names[node_id] = agency_names(node_id)
    await federation.add(BLO, RATANAKIRI)
    try:
        yield ConsoleNodes(federation)
    finally:
        federation.stop_all()


async def _run_only(nodes: ConsoleNodes, node_id: str) -> None:
    for other in (BLO, RATANAKIRI):
        nodes.federation.kill(other)
    nodes.federation.start(node_id)
    await nodes.federation.wait_ready(node_id)


async def _download(page: Page, button: str, to: Path) -> Path:
    async with page.expect_download() as started:
        await page.click(button)
    download = await started.value
    await download.save_as(to)
    return to


async def _import(page: Page, nodes: ConsoleNodes, node_id: str, file: Path) -> None:
    await page.goto(nodes.url(node_id, "operator/bundles"))
    await page.set_input_files("#bundle-file", str(file))
    await page.click("button.import")
    await page.wait_for_selector("section.bundle-imported")


async def test_a_message_travels_by_bundle_and_its_receipt_comes_back(
    nodes: ConsoleNodes, new_page: NewPage, tmp_path: Path
) -> None:
    logs: list[list[ConsoleMessage]] = []
    federation = nodes.federation
    (queued,) = await federation.send(BLO, RATANAKIRI, [alert("TB-BUNDLE")])

    await _run_only(nodes, BLO)
    vn_operator = await nodes.add_user(BLO, "operator-blo", role="operator", language="vi")
    vn = await sign_in(new_page, nodes, vn_operator, logs)
    await vn.goto(nodes.url(BLO, "operator"))
    await vn.click("p.bundles-link a")
    await vn.select_option("#bundle-peer", RATANAKIRI)
    bundle = await _download(vn, "button.export", tmp_path / "carried.blgb")
    assert bundle.stat().st_size > 0

    await _run_only(nodes, RATANAKIRI)
    kh_operator = await nodes.add_user(RATANAKIRI, "operator-kh", role="operator", language="km")
    kh = await sign_in(new_page, nodes, kh_operator, logs)
    await _import(kh, nodes, RATANAKIRI, bundle)
    assert await kh.get_attribute("li.accepted", "data-count") == "1"
    await screenshot(kh, "kh-bundle-imported")
    receipts = await _download(kh, "button.download-receipts", tmp_path / "receipts.blgb")

    await _run_only(nodes, BLO)
    await _import(vn, nodes, BLO, receipts)
    assert await vn.get_attribute("li.receipted", "data-count") == "1"
    store = await federation.store(BLO)
    try:
        row = await store.get_outbox(queued.message_id)
    finally:
        await store.close()
    assert row is not None
    assert row[0].state == "delivered"
    blocked = [m.text for log in logs for m in log if "Content Security Policy" in m.text]
    assert not blocked
