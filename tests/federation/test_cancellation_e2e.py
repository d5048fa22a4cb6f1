"""A cancellation reaches everyone and each recipient confirms, through real gateways.

vn-gialai-police's case system posts a wanted notice (vn-police-json) that its routing rules
send to kh-ratanakiri-police and kh-stungtreng-police. At Ratanakiri the records system's
webhook is down, so the notice is held back there; at Stung Treng it lands in a drop folder.
Then the rules change (restart) so that a wanted notice routes nowhere, and the case system
posts the notice again with HUY (cancel): both peers get it all the same, both confirm, and
the sender's API shows per recipient confirmed, with what each withdrew. At Ratanakiri the
notice is withdrawn and never delivered, the cancellation is (with BLG-Case-State), and the
inbox API marks the case cancelled.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.federation.harness import Federation, free_port, local_client, serving_webhook

POLICE, RATANAKIRI, STUNGTRENG = "vn-gialai-police", "kh-ratanakiri-police", "kh-stungtreng-police"
SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "partners" / "vn-police-json"
NOTICE: dict[str, Any] = json.loads((SAMPLE / "samples" / "truy_na.json").read_text())
NOTICE.pop("anh", None)
NOTICE["doi_tuong"].pop("anh", None)  # attachments are another part of issue 11


@dataclass
class SwitchableWebhook:
    """A records system's webhook that is down (503) until switched on."""

    port: int = field(default_factory=free_port)
    up: bool = False
    taken: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    refused: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.up:
            self.refused += 1
            return web.Response(status=503)
        self.taken.append((dict(request.headers), body))
        return web.Response(status=204)


@pytest.fixture
async def webhook() -> AsyncIterator[SwitchableWebhook]:
    hook = SwitchableWebhook()
    async with serving_webhook(hook.port, hook.handle):
        yield hook


async def _api(
    federation: Federation,
    node: str,
    token: str,
    method: str,
    path: str,
    body: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/vnd.vn-police+json"
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"{federation.api_url(node)}{path}", data=body, headers=headers
        ) as response,
    ):
        return response.status, await response.json()


async def _until(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout}s"
        await asyncio.sleep(0.2)


async def test_a_cancelled_notice_reaches_both_peers_and_both_confirm(
    federation: Federation, tmp_path: Path, webhook: SwitchableWebhook
) -> None:
    case_token, case_system = local_client("case-system", ["vn-police-json"])
    records_token, records = local_client("records", ["vn-police-json"])
    records["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{webhook.port}/blg-inbox",
        "hmac_secret": "a-shared-secret-of-at-least-32-characters",
    }
    desk_token, desk = local_client("desk", ["vn-police-json"])
    desk_folder = tmp_path / "desk-in"
    desk["delivery"] = {"type": "drop_folder", "path": str(desk_folder)}
    await federation.add(POLICE, RATANAKIRI, STUNGTRENG)
    federation.sections[POLICE] = {
        "local_clients": [case_system],
        "routing": [{"kinds": ["wanted_person_notice"], "to": [RATANAKIRI, STUNGTRENG]}],
    }
    federation.sections[RATANAKIRI] = {"local_clients": [records]}
    federation.sections[STUNGTRENG] = {"local_clients": [desk]}
    for node in (POLICE, RATANAKIRI, STUNGTRENG):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)

    status, sent = await _api(
        federation, POLICE, case_token, "POST", "/api/v1/messages", json.dumps(NOTICE).encode()
    )
    assert status == 202, sent
    assert {m["to"] for m in sent["messages"]} == {RATANAKIRI, STUNGTRENG}
    await federation.wait_delivered(POLICE, 2)
    await _until("the desk's file", lambda: _files(desk_folder, 1))
    await _until("a refused webhook call", lambda: _true(webhook.refused > 0))

    # Today's rules: a wanted notice routes nowhere.
    federation.sections[POLICE]["routing"] = [
        {"kinds": ["hotline_alert"], "to": [RATANAKIRI]},
    ]
    federation.kill(POLICE, signal.SIGTERM)
    federation.write_config(POLICE)
    federation.start(POLICE)
    await federation.wait_ready(POLICE)
    cancel = dict(NOTICE, thao_tac="HUY")
    status, cancelled = await _api(
        federation, POLICE, case_token, "POST", "/api/v1/messages", json.dumps(cancel).encode()
    )
    assert status == 202, cancelled
    assert {m["to"] for m in cancelled["messages"]} == {RATANAKIRI, STUNGTRENG}
    assert {m["case_id"] for m in cancelled["messages"]} == {sent["messages"][0]["case_id"]}
    first = cancelled["messages"][0]["id"]

    async def confirmed() -> dict[str, Any] | None:
        _, answer = await _api(federation, POLICE, case_token, "GET", f"/api/v1/messages/{first}")
        copies = answer["cancellation"]["recipients"]
        return answer if {c["status"] for c in copies} == {"confirmed"} else None

    answer = await _until("both confirmations", confirmed)
    withdrawn = {c["to"]: c["withdrawn_deliveries"] for c in answer["cancellation"]["recipients"]}
    assert withdrawn == {RATANAKIRI: 1, STUNGTRENG: 0}

    # Ratanakiri: the notice was withdrawn; once the webhook is up only the cancellation goes.
    webhook.up = True
    await _until("the cancellation's webhook call", lambda: _true(len(webhook.taken) >= 1))
    [(headers, body)] = webhook.taken
    assert headers["BLG-Message-Id"] == next(
        m["id"] for m in cancelled["messages"] if m["to"] == RATANAKIRI
    )
    assert headers["BLG-Case-State"] == "cancelled"
    assert json.loads(body)["thao_tac"] == "HUY"
    metrics = await federation.metrics_text(RATANAKIRI)
    name = "blg_local_deliveries_withdrawn_total"
    assert federation.metric_value(metrics, name, 'client="records"') == 1
    store = await federation.store(RATANAKIRI)
    try:
        [row] = await store.list_local_deliveries(state="withdrawn")
        original = next(m["id"] for m in sent["messages"] if m["to"] == RATANAKIRI)
        assert (row.client, str(row.message_id)) == ("records", original)
        audit = [e for e in await store.list_audit(200) if e.action == "local.withdrawn"]
        assert [(e.subject, e.detail["client"]) for e in audit] == [(original, "records")]
    finally:
        await store.close()
    _, page = await _api(federation, RATANAKIRI, records_token, "GET", "/api/v1/inbox")
    assert [m["case_state"] for m in page["messages"]] == ["cancelled", "cancelled"]

    # Stung Treng: both files (the notice went out before), the case cancelled.
    await _until("the desk's second file", lambda: _files(desk_folder, 2))
    _, page = await _api(federation, STUNGTRENG, desk_token, "GET", "/api/v1/inbox")
    assert [m["case_state"] for m in page["messages"]] == ["cancelled", "cancelled"]
    # A confirmation is never delivered to the sender's local systems, nor in its inbox.
    store = await federation.store(POLICE)
    try:
        assert await store.list_inbox() == []
    finally:
        await store.close()


async def _files(folder: Path, count: int) -> bool:
    return len(list(folder.glob("*.json"))) >= count


async def _true(value: bool) -> bool:
    return value
