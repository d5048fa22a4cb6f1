"""Handling markings enforced through real gateways: each forbidden path is tried and refused.

kh-ratanakiri-police sends vn-gialai-police three hotline alerts, one per marking. At
vn-gialai-police local clients take hotline alerts: the case system
(local_clients[].victim_protected: true) by drop folder and API inbox, and two systems not
allowed victims' data (false): a clerk's desk by drop folder and API inbox, a duty board by
webhook. Then the
case system tries to pass each alert on to kh-stungtreng-police, by answering it
(in_reply_to) and by its case (case_id), through the API and its outgoing drop folder, and to
answer it back to where it came from.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.protobuf import json_format

from gateway.wire import canonical
from tests.delivery.conftest import Webhook
from tests.federation.harness import Federation, alert, local_client, serving_webhook

ORIGIN, POLICE, ONWARD = "kh-ratanakiri-police", "vn-gialai-police", "kh-stungtreng-police"
SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "partners" / "vn-police-json"
ANSWER = (SAMPLE / "samples" / "tin_bao_111.json").read_bytes()
MARKINGS = {
    "normal": canonical.HANDLING_NORMAL,
    "restricted": canonical.HANDLING_RESTRICTED,
    "victim_protected": canonical.HANDLING_VICTIM_PROTECTED,
}


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    async with serving_webhook(hook.port, hook.handle):
        yield hook


@dataclass(frozen=True)
class Setup:
    records_token: str
    clerk_token: str
    records_folder: Path
    clerk_folder: Path
    # marking -> (message id, case id) of the alert received with it
    received: dict[str, tuple[str, str]]


async def _inbox(federation: Federation, token: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{federation.nodes[POLICE].api_port}/api/v1/inbox"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        assert response.status == 200
        page: dict[str, Any] = await response.json()
    return list(page["messages"])


async def _setup(federation: Federation, tmp_path: Path, webhook: Webhook) -> Setup:
    records_token, records = local_client("case-system", ["vn-police-json", "canonical-json"])
    records["outgoing_folder"] = {
        "path": str(tmp_path / "records-out"),
        "format": "canonical-json",
        "to": [ONWARD],
        "poll_interval": "200ms",
    }
    clerk_token, clerk = local_client(
        "clerk-desk", ["vn-police-json"], ["hotline_alert"], victim_protected=False
    )
    _, board = local_client(
        "duty-board", ["vn-police-json"], ["hotline_alert"], victim_protected=False
    )
    board["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{webhook.port}/blg-inbox",
        "hmac_secret": "a-shared-secret-of-at-least-32-characters",
    }
    records_folder, clerk_folder = tmp_path / "records-in", tmp_path / "clerk-in"
    records["delivery"] = {"type": "drop_folder", "path": str(records_folder)}
    clerk["delivery"] = {"type": "drop_folder", "path": str(clerk_folder)}
    await federation.add(ORIGIN, POLICE, ONWARD)
    federation.sections[POLICE] = {"local_clients": [records, clerk, board]}
    for node in (ORIGIN, POLICE, ONWARD):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    messages = []
    for name, marking in MARKINGS.items():
        message = alert(f"KH-{name}")
        message.handling = marking
        messages.append(message)
    queued = await federation.send(ORIGIN, POLICE, messages)
    await federation.wait_delivered(ORIGIN, len(MARKINGS))
    deadline = time.monotonic() + 30
    while len(list(records_folder.glob("*.json"))) < len(MARKINGS):
        assert time.monotonic() < deadline, "the case system's files did not arrive"
        await asyncio.sleep(0.2)
    received = {
        name: (str(item.message_id), str(item.case_id))
        for name, item in zip(MARKINGS, queued, strict=True)
    }
    return Setup(records_token, clerk_token, records_folder, clerk_folder, received)


async def _answer(federation: Federation, token: str, query: dict[str, str]) -> tuple[int, str]:
    url = f"http://127.0.0.1:{federation.nodes[POLICE].api_port}/api/v1/messages"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            params=query,
            data=ANSWER,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/vnd.vn-police+json",
            },
        ) as response,
    ):
        body: dict[str, Any] = await response.json()
    return response.status, body.get("error", {}).get("code", "")


# (marking received, how the new message is linked, recipient) -> refused?
ONWARD_PATHS = [
    ("victim_protected", "in_reply_to", ONWARD, True),
    ("victim_protected", "case_id", ONWARD, True),
    ("restricted", "in_reply_to", ONWARD, True),
    ("restricted", "case_id", ONWARD, True),
    ("normal", "in_reply_to", ONWARD, False),
    ("victim_protected", "in_reply_to", ORIGIN, False),
    ("victim_protected", "case_id", ORIGIN, False),
]


async def test_each_forbidden_path_is_refused(
    federation: Federation, tmp_path: Path, webhook: Webhook
) -> None:
    setup = await _setup(federation, tmp_path, webhook)

    # Local delivery: the clerk's desk never gets the victim-protected alert, by either way.
    clerk_items = await _inbox(federation, setup.clerk_token)
    records_items = await _inbox(federation, setup.records_token)
    protected_id = setup.received["victim_protected"][0]
    assert {item["id"] for item in records_items} == {m for m, _ in setup.received.values()}
    assert {item["id"] for item in clerk_items} == {
        m for name, (m, _) in setup.received.items() if name != "victim_protected"
    }
    # The normal and restricted alerts reach both folders (waited for: the feeds are apart).
    deadline = time.monotonic() + 30
    while len(list(setup.clerk_folder.glob("*.json"))) < 2 or len(webhook.received) < 2:
        assert time.monotonic() < deadline, "the clerk's files or the board's calls are missing"
        await asyncio.sleep(0.2)
    assert len(list(setup.clerk_folder.glob("*.json"))) == 2
    assert len(list(setup.records_folder.glob("*.json"))) == 3
    assert protected_id not in "".join(p.name for p in setup.clerk_folder.glob("*.json"))
    assert {headers["BLG-Message-Id"] for headers, _ in webhook.received} == {
        m for name, (m, _) in setup.received.items() if name != "victim_protected"
    }
    store = await federation.store(POLICE)
    try:
        withheld = [e for e in await store.list_audit(500) if e.action == "local.withheld"]
        assert sorted((e.subject, e.detail["client"], e.detail["reason"]) for e in withheld) == [
            (protected_id, "clerk-desk", "victim_protected"),
            (protected_id, "duty-board", "victim_protected"),
        ]
        metrics = await federation.metrics_text(POLICE)
        for client in ("clerk-desk", "duty-board"):
            labels = f'client="{client}"'
            name = "blg_local_deliveries_withheld_total"
            assert federation.metric_value(metrics, name, labels) == 1

        # Onward sharing.
        for marking, link, to, refused in ONWARD_PATHS:
            message_id, case_id = setup.received[marking]
            query = {"to": to, link: message_id if link == "in_reply_to" else case_id}
            status, code = await _answer(federation, setup.records_token, query)
            expected = (403, "onward_not_allowed") if refused else (202, "")
            assert (status, code) == expected, (marking, link, to)
        refusals = [e for e in await store.list_audit(500) if e.action == "outbox.onward_refused"]
        assert len(refusals) == sum(1 for *_, refused in ONWARD_PATHS if refused)
        assert {e.detail["peer"] for e in refusals} == {ONWARD}
        assert {e.detail["origin"] for e in refusals} == {ORIGIN}
        # The drop folder: the record is refused in the file's .errors, nothing queued.
        outgoing = tmp_path / "records-out"
        answer = alert("VN-drop")
        answer.in_reply_to = protected_id
        (outgoing / "answer.json").write_text(json_format.MessageToJson(answer))
        deadline = time.monotonic() + 30
        while not (outgoing / "answer.json.errors").exists():
            assert time.monotonic() < deadline, "the drop folder did not judge the file"
            await asyncio.sleep(0.2)
        report = (outgoing / "answer.json.errors").read_text()
        assert "to: " in report
        assert "does not allow onward sharing" in report
        assert len(refusals) + 1 == len(
            [e for e in await store.list_audit(500) if e.action == "outbox.onward_refused"]
        )
        # Nothing refused was queued: the two answers to ORIGIN and the normal one only.
        counts = await store.state_counts()
        assert sum(n for (peer, _), n in counts.items() if peer == ONWARD) == 1
        assert sum(n for (peer, _), n in counts.items() if peer == ORIGIN) == 2
    finally:
        await store.close()
