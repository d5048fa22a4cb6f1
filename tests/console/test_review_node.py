"""The attacker's posts against a real `gateway run` node's console (loopback only), then a
handover composed and approved there: each hostile post is refused quickly with a 4xx page,
and the node's log holds neither a victim's name nor a console error."""

from __future__ import annotations

import io
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import trustme

from gateway.store import EmbeddedPostgres
from tests.console.conftest import csrf_token_in
from tests.console.e2e_harness import BLO, RATANAKIRI, ConsoleAccount, ConsoleNodes, agency_names
from tests.console.test_compose import CHILD, VICTIM, handover_fields
from tests.federation.harness import Federation

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
QUICK_SECONDS = 3.0


@pytest.fixture
async def node(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleNodes]:
    """vn-gialai-blo running, its peer configured but not running (nothing is delivered)."""
    federation = Federation(tmp_path, postgres, ca)
    nodes = ConsoleNodes(federation)
    for node_id in (BLO, RATANAKIRI):
        federation.names[node_id] = agency_names(node_id)
    await federation.add(BLO, RATANAKIRI)
    federation.start(BLO)
    try:
        await federation.wait_ready(BLO)
        yield nodes
    finally:
        federation.stop_all()


async def _signed_in(nodes: ConsoleNodes, account: ConsoleAccount) -> aiohttp.ClientSession:
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await browser.get(nodes.url(BLO, "sign-in"))
    answer = await browser.post(
        nodes.url(BLO, "sign-in"),
        data={
            "name": account.name,
            "password": account.password,
            "csrf_token": csrf_token_in(await page.text()),
        },
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    return browser


async def _token(nodes: ConsoleNodes, browser: aiohttp.ClientSession, path: str) -> str:
    return csrf_token_in(await (await browser.get(nodes.url(BLO, path))).text())


async def test_hostile_posts_to_a_running_node_and_a_clean_log(node: ConsoleNodes) -> None:
    officer = await node.add_user(BLO, "officer-a", role="officer", language="vi")
    supervisor = await node.add_user(BLO, "supervisor-b", role="supervisor", language="vi")
    browser = await _signed_in(node, officer)
    try:
        token = await _token(node, browser, "compose/handover")
        # case -> (body, status)
        hostile = {
            "a 9 MB note": ((f"csrf_token={token}&note=" + "a" * 9_000_000).encode(), 413),
            "100,000 fields": (
                (f"csrf_token={token}&" + "&".join(["a="] * 100_000)).encode(),
                413,
            ),
            "not UTF-8": (f"csrf_token={token}&note=".encode() + b"\xff\xfe", 400),
            "a slot numbered with 5,000 digits": (
                f"csrf_token={token}&victims-{'9' * 5000}-name=x".encode(),
                400,
            ),
        }
        for case, (body, status) in hostile.items():
            started = time.monotonic()
            async with browser.post(
                node.url(BLO, "compose/handover"),
                data=io.BytesIO(body),
                headers=FORM,
                allow_redirects=False,
            ) as answer:
                page = await answer.text()
                elapsed = time.monotonic() - started
            assert (case, answer.status, elapsed < QUICK_SECONDS) == (case, status, True), page[
                :300
            ]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as stranger:
            form = await stranger.get(node.url(BLO, "sign-in"))
            refused = await stranger.post(
                node.url(BLO, "sign-in"),
                data={
                    "name": "officer-a\x00",
                    "password": "x" * 20,
                    "csrf_token": csrf_token_in(await form.text()),
                },
            )
            assert refused.status == 401

        fields = handover_fields(datetime.now(UTC))
        composed = await browser.post(
            node.url(BLO, "compose/handover"),
            data=[*fields, ("csrf_token", token)],
            allow_redirects=False,
        )
        assert composed.status == 303, await composed.text()
    finally:
        await browser.close()
    approver = await _signed_in(node, supervisor)
    try:
        approvals = await (await approver.get(node.url(BLO, "approvals"))).text()
        [draft] = re.findall(r'<tr class="draft" data-draft-id="(\d+)"', approvals)
        approved = await approver.post(
            node.url(BLO, f"approvals/{draft}/approve"),
            data={"csrf_token": csrf_token_in(approvals)},
            allow_redirects=False,
        )
        assert approved.status == 303, await approved.text()
    finally:
        await approver.close()
    log = "".join(
        path.read_text(errors="replace") for path in (node.federation.root / BLO).glob("run*.log")
    )
    for name in (VICTIM, CHILD, "Nguyễn Thị Lan"):
        assert name not in log
    assert "console page" not in log  # no 500 of the console, for any of the above
