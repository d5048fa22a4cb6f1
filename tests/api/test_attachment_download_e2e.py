"""Upload at one node, download at the other, through two real `gateway run` processes: the
records system of vn-gialai-blo uploads a photo and a scan and sends a victim handover naming
them; at kh-ratanakiri-police the case system finds the attachment ids in its inbox document
(the wire ids its copy carries) and downloads each, byte for byte; a desk not allowed victims'
data gets 404 for the same URLs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.federation.harness import Federation, local_client
from tests.federation.test_attachments_e2e import handover, post_message, upload

BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"


async def _get(url: str, token: str) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def _inbox(federation: Federation, token: str) -> list[dict[str, Any]]:
    url = f"{federation.api_url(RATANAKIRI)}/api/v1/inbox?format=canonical-json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _, body = await _get(url, token)
        assert status == 200, body
        messages: list[dict[str, Any]] = json.loads(body)["messages"]
        if messages:
            return messages
        await asyncio.sleep(0.2)
    raise AssertionError("nothing reached the case system's inbox")


async def test_what_one_node_uploads_the_other_downloads(
    federation: Federation, tmp_path: Path
) -> None:
    sender_token, sender_client = local_client("records", ["canonical-json"])
    case_token, case_system = local_client("case-system", ["canonical-json"])
    desk_token, desk = local_client("desk", ["canonical-json"], victim_protected=False)
    await federation.add(BLO, RATANAKIRI)
    federation.sections[BLO] = {"local_clients": [sender_client]}
    federation.sections[RATANAKIRI] = {"local_clients": [case_system, desk]}
    for node in (BLO, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)

    files = {
        "anh-1": (b"\xff\xd8\xff\xe0 photo " * 20_000, "image/jpeg"),
        "ho-so-1": (bytes(range(256)) * 9_000, "application/pdf"),
    }
    for aid, (data, media_type) in files.items():
        (tmp_path / aid).write_bytes(data)
        status, answer = await upload(
            federation, BLO, sender_token, aid, media_type, tmp_path / aid
        )
        assert status == 201, answer
    status, answer = await post_message(
        federation, BLO, sender_token, handover(["anh-1"], ["ho-so-1"]), RATANAKIRI
    )
    assert status == 202, answer
    await federation.wait_delivered(BLO, 1)

    [item] = await _inbox(federation, case_token)
    document = json.loads(item["document"])
    photo_id = document["victimHandover"]["victims"][0]["person"]["attachmentIds"][0]
    scan_id = document["victimHandover"]["attachmentIds"][0]
    assert {photo_id, scan_id}.isdisjoint(files)  # the copy names the wire ids
    base = f"{federation.api_url(RATANAKIRI)}/api/v1/inbox/{item['id']}/attachments"
    for wire_id, (data, media_type) in ((photo_id, files["anh-1"]), (scan_id, files["ho-so-1"])):
        status, headers, body = await _get(f"{base}/{wire_id}", case_token)
        assert status == 200, body[:200]
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
        assert headers["Content-Type"] == media_type
        status, _, body = await _get(f"{base}/{wire_id}", desk_token)
        assert (status, json.loads(body)["error"]["code"]) == (404, "attachment_not_found")
