"""Partner samples through real gateways: in by the local API (or a drop folder) in the
sender's format, out at the peer by its inbox API, webhook and drop folder in the peer's
format, with the same content as far as the peer's format can hold it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from adapters import Adapter, adapter_for, registry
from gateway.policy import PeerRoute, RoutePolicy
from gateway.wire import canonical
from tests.delivery.conftest import Webhook
from tests.federation.harness import (
    Federation,
    local_client,
    upload_named_attachments,
    without_attachment_ids,
)

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners"
HMAC_SECRET = "a-shared-secret-of-at-least-32-characters"
VN_SAMPLES = ["truy_na.json", "ban_giao.json", "tin_bao_111.json"]
KH_SAMPLES = ["wanted.xml", "handover.xml", "alert.xml"]


@dataclass
class Setup:
    police_token: str
    rtk_token: str
    drop_folder: Path
    hotline_folder: Path


async def _federation(federation: Federation, webhook: Webhook, tmp_path: Path) -> Setup:
    police_token, police_client = local_client("case-system", ["vn-police-json"])
    police_client["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{webhook.port}/blg-inbox",
        "hmac_secret": HMAC_SECRET,
    }
    hotline_token, hotline_client = local_client(
        "hotline-111", ["hotline-111-csv"], ["hotline_alert"]
    )
    del hotline_token  # the hotline only drops files
    hotline_folder = tmp_path / "hotline-out"
    hotline_client["outgoing_folder"] = {
        "path": str(hotline_folder),
        "format": "hotline-111-csv",
        "to": [RATANAKIRI],
        "poll_interval": "200ms",
    }
    rtk_token, rtk_client = local_client("police-records", ["kh-police-xml"])
    drop_folder = tmp_path / "rtk-in"
    rtk_client["delivery"] = {"type": "drop_folder", "path": str(drop_folder)}
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [police_client, hotline_client]}
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    return Setup(police_token, rtk_token, drop_folder, hotline_folder)


async def _post(
    federation: Federation, node: str, token: str, media_type: str, to: str, body: bytes
) -> dict[str, Any]:
    api_url = f"http://127.0.0.1:{federation.nodes[node].api_port}"
    format_id = next(a.format_id for a in registry().values() if a.media_type == media_type)
    await upload_named_attachments(api_url, token, format_id, body)
    url = f"{api_url}/api/v1/messages"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data=body,
            params={"to": to},
            headers={"Authorization": f"Bearer {token}", "Content-Type": media_type},
        ) as response,
    ):
        answer: dict[str, Any] = await response.json()
        assert response.status == 202, answer
        return answer


async def _inbox(federation: Federation, node: str, token: str, count: int) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{federation.nodes[node].api_port}/api/v1/inbox"
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                page: dict[str, Any] = await response.json()
            if len(page["messages"]) >= count:
                return list(page["messages"])
            await asyncio.sleep(0.2)
    raise AssertionError(f"{node} inbox has {len(page['messages'])} of {count}")


async def _wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _outbox_size(federation: Federation, node: str) -> int:
    """Envelopes node ever queued, in any state."""
    store = await federation.store(node)
    try:
        return sum((await store.state_counts()).values())
    finally:
        await store.close()


def _what_the_peer_can_hold(
    source: Adapter, target: Adapter, document: bytes, peer_country: str
) -> canonical.Message:
    """The canonical content the peer should see: policy applied, through its format."""
    [decoded] = source.decode(document).messages
    policy = RoutePolicy({"peer": PeerRoute(peer_country)})
    sent = policy.apply(decoded.message, "peer").message
    [held] = target.decode(target.encode(sent).data).messages
    return held.message


def _same_content(received: bytes, expected: canonical.Message, target: Adapter) -> None:
    [decoded] = target.decode(received).messages
    got = without_attachment_ids(decoded.message)
    expected = without_attachment_ids(expected)
    # The case id is the gateway's; the native formats do not carry it.
    got.case_id = expected.case_id = ""
    assert got == expected


async def test_vn_samples_reach_ratanakiri_in_its_format_by_api_and_drop_folder(
    federation: Federation, webhook: Webhook, tmp_path: Path
) -> None:
    setup = await _federation(federation, webhook, tmp_path)
    vn, kh = adapter_for("vn-police-json"), adapter_for("kh-police-xml")
    documents = {
        name: (SAMPLES / "vn-police-json" / "samples" / name).read_bytes() for name in VN_SAMPLES
    }
    for document in documents.values():
        await _post(federation, POLICE, setup.police_token, vn.media_type, RATANAKIRI, document)

    items = await _inbox(federation, RATANAKIRI, setup.rtk_token, 3)
    await _wait_for(lambda: len(list(setup.drop_folder.glob("*.xml"))) == 3, "3 files")
    by_reference: dict[str, bytes] = {}
    for item in items:
        assert item["format"] == "kh-police-xml"
        data = item["document"].encode()
        [decoded] = kh.decode(data).messages
        by_reference[decoded.message.sender_reference] = data
    files = {path.read_bytes() for path in setup.drop_folder.glob("*.xml")}
    assert files == set(by_reference.values())
    assert not list(setup.drop_folder.glob(".*"))
    for document in documents.values():
        expected = _what_the_peer_can_hold(vn, kh, document, "KH")
        _same_content(by_reference[expected.sender_reference], expected, kh)

    alert = by_reference["TB-2026-1102"].decode()
    for secret in ("Rah Lan Thị Hoa", "0987 654 321", "0987654321", "Rah Lan Thi Hoa"):
        assert secret not in alert
        assert all(secret not in path.read_text() for path in setup.drop_folder.glob("*.xml"))


async def test_kh_samples_reach_the_vn_case_system_by_signed_webhook(
    federation: Federation, webhook: Webhook, tmp_path: Path
) -> None:
    setup = await _federation(federation, webhook, tmp_path)
    vn, kh = adapter_for("vn-police-json"), adapter_for("kh-police-xml")
    documents = {
        name: (SAMPLES / "kh-police-xml" / "samples" / name).read_bytes() for name in KH_SAMPLES
    }
    for document in documents.values():
        await _post(federation, RATANAKIRI, setup.rtk_token, kh.media_type, POLICE, document)
    await _wait_for(lambda: len(webhook.received) >= 3, "3 webhook calls")
    assert len(webhook.received) == 3
    by_reference: dict[str, bytes] = {}
    for headers, body in webhook.received:
        timestamp, mac = headers["BLG-Signature"].split(",")
        key = headers["Idempotency-Key"]
        expected_mac = hmac.new(
            HMAC_SECRET.encode(), f"{timestamp[2:]}.{key}.".encode() + body, hashlib.sha256
        ).hexdigest()
        assert mac == f"v1={expected_mac}"
        assert headers["Content-Type"].startswith(vn.media_type)
        assert key == f"{RATANAKIRI}:{headers['BLG-Message-Id']}"
        [decoded] = vn.decode(body).messages
        by_reference[decoded.message.sender_reference] = body
    for document in documents.values():
        expected = _what_the_peer_can_hold(kh, vn, document, "VN")
        _same_content(by_reference[expected.sender_reference], expected, vn)
    items = await _inbox(federation, POLICE, setup.police_token, 3)
    assert {json.loads(item["document"])["so_hieu"] for item in items} == set(by_reference)


async def test_hotline_exports_dropped_in_a_folder_reach_ratanakiri_without_callers(
    federation: Federation, webhook: Webhook, tmp_path: Path
) -> None:
    setup = await _federation(federation, webhook, tmp_path)
    export = (SAMPLES / "hotline-111-csv" / "samples" / "calls.csv").read_bytes()
    # A second export with one broken row (an impossible time) between two good ones.
    # Records end in CRLF; the first record's quoted field holds a bare LF, so it spans
    # physical lines 2 and 3, and the second record is on line 4.
    header, first, second, third, _ = export.decode("utf-8-sig").split("\r\n")
    broken_lines = [
        header,
        first.replace("111-20261121-0457", "111-X-1"),
        second.replace("22/11/2026 06:10", "31/02/2026 06:10"),
        third,
        "",
    ]
    broken = "\r\n".join(broken_lines).encode("utf-8-sig")
    setup.hotline_folder.mkdir(parents=True, exist_ok=True)
    (setup.hotline_folder / "calls.csv").write_bytes(export)
    (setup.hotline_folder / "calls-2.csv").write_bytes(broken)

    await _wait_for(
        lambda: len(list(setup.drop_folder.glob("hotline_alert-*.xml"))) == 5, "5 alerts"
    )
    assert sorted(p.name for p in (setup.hotline_folder / "done").iterdir()) == [
        "calls-2.csv",
        "calls.csv",
    ]
    errors = (setup.hotline_folder / "calls-2.csv.errors").read_text().splitlines()
    assert len(errors) >= 1
    assert all(line.startswith("line 4") for line in errors), errors
    assert not (setup.hotline_folder / "calls.csv.errors").exists()
    for path in setup.drop_folder.glob("hotline_alert-*.xml"):
        text = path.read_text()
        for secret in ("Rah Lan Thị Hoa", "0987 654 321", "Nguyễn Thị Thu", "0905 111 222"):
            assert secret not in text
    references = [
        adapter_for("kh-police-xml").decode(p.read_bytes()).messages[0].message.sender_reference
        for p in setup.drop_folder.glob("hotline_alert-*.xml")
    ]
    assert sorted(references) == sorted(
        [
            *("111-20261121-0457", "111-20261122-0012", "111-20261122-0031"),
            *("111-X-1", "111-20261122-0031"),
        ]
    )
    # Dropping the same export again queues nothing twice. A file reaches done/ only after
    # what it queued is committed, so the sender's outbox is final at that point: no waiting
    # for deliveries that might still come.
    shutil.copy(setup.hotline_folder / "done" / "calls.csv", setup.hotline_folder / "again.csv")
    await _wait_for((setup.hotline_folder / "done" / "again.csv").exists, "again.csv done")
    assert await _outbox_size(federation, POLICE) == 5
    await federation.wait_delivered(POLICE, 5)
    assert len(list(setup.drop_folder.glob("hotline_alert-*.xml"))) == 5
