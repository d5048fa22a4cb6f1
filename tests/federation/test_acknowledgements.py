"""THE PROOF of issue 11 item 2 with real gateway processes: a wanted notice with an arrest
request goes overdue at its sender (the gauge shows it), the receiving node acknowledges it
through its local API, the signed acknowledgement crosses back, the sender shows who
acknowledged and when, and the gauge returns to 0.

The deadline is configured short (2 s) rather than faked: the notice goes overdue on its
own, and the test waits for what the sender reports, never for a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.federation.harness import Federation, local_client, upload_named_attachments

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SAMPLE = Path(__file__).resolve().parents[2] / "gateway" / "demo" / "samples" / "truy_na.json"
OVERDUE = "blg_acknowledgements_overdue"
LABELS = f'kind="wanted_person_notice",peer="{RATANAKIRI}"'


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _call(method: str, url: str, token: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs
        ) as response,
    ):
        return response.status, await response.json()


async def test_an_overdue_wanted_notice_is_acknowledged_and_clears(
    federation: Federation,
) -> None:
    police_token, police_client = local_client("case-system", ["vn-police-json"])
    rtk_token, rtk_client = local_client("police-records", ["kh-police-xml"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {
        "local_clients": [police_client],
        "acknowledgements": [
            {"kind": "wanted_person_notice", "request": "arrest", "within": "2s"},
        ],
    }
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    police_api, rtk_api = federation.api_url(POLICE), federation.api_url(RATANAKIRI)

    status, queued = await post_notice(police_api, police_token)
    assert status == 202, queued
    [sent] = queued["messages"]
    message_url = f"{police_api}/api/v1/messages/{sent['id']}"

    async def overdue() -> float | None:
        value = federation.metric_value(await federation.metrics_text(POLICE), OVERDUE, LABELS)
        return value if value == 1 else None

    # Receipted by the peer's gateway, but no person has acknowledged it: overdue.
    await federation.wait_delivered(POLICE, 1)
    assert await _until(overdue, "the notice to go overdue") == 1
    status, shown = await _call("GET", message_url, police_token)
    assert status == 200
    assert shown["state"] == "delivered"
    assert shown["acknowledgement"]["status"] == "overdue"
    assert shown["acknowledgement"]["due_at"] is not None

    # A person at the receiving node acknowledges it through the local API.
    status, given = await _call(
        "POST",
        f"{rtk_api}/api/v1/inbox/{sent['id']}/acknowledge",
        rtk_token,
        json={"by": "officer-0042"},
    )
    assert status == 202, given
    assert given["acknowledgement"]["how"] == "local_api"
    # Idempotent: the same acknowledgement, nothing queued again.
    status, again = await _call("POST", f"{rtk_api}/api/v1/inbox/{sent['id']}/handled", rtk_token)
    assert (status, again) == (200, given)

    async def acknowledged() -> dict[str, Any] | None:
        _, body = await _call("GET", message_url, police_token)
        ack: dict[str, Any] = body["acknowledgement"]
        return ack if ack["status"] == "acknowledged" else None

    ack = await _until(acknowledged, "the acknowledgement to cross back")
    assert ack["acknowledged_by"] == "officer-0042"
    assert ack["how"] == "local_api"
    assert ack["acknowledged_at"] == given["acknowledgement"]["acknowledged_at"]

    text = await federation.metrics_text(POLICE)
    assert federation.metric_value(text, OVERDUE, LABELS) == 0
    # One acknowledgement went back: the receiving node's outbox holds it, delivered.
    await federation.wait_delivered(RATANAKIRI, 1)


async def post_notice(api: str, token: str) -> tuple[int, dict[str, Any]]:
    """POST the sample wanted notice (arrest requested) to RATANAKIRI by api's local API,
    with the photo it names uploaded first (a message may name only uploaded attachments)."""
    await upload_named_attachments(api, token, "vn-police-json", SAMPLE.read_bytes())
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{api}/api/v1/messages",
            data=SAMPLE.read_bytes(),
            params={"to": RATANAKIRI},
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/vnd.vn-police+json",
            },
        ) as response,
    ):
        return response.status, await response.json()
