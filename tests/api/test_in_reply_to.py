"""in_reply_to through two real gateways: a local system answers a handover by naming the
message it answers, and the answer joins the original case on both sides, with the link
carried to the other side's local systems (inbox API and webhook header)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.protobuf import json_format

from adapters import registry
from gateway.store import Store
from gateway.wire import canonical, uuid7
from tests.delivery.conftest import Webhook
from tests.federation.harness import (
    Federation,
    local_client,
    serving_webhook,
    upload_named_attachments,
)

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners"
VN_JSON, KH_XML = "application/vnd.vn-police+json", "application/vnd.kh-police+xml"
ACCEPTANCE = b"""<?xml version="1.0" encoding="UTF-8"?>
<Notice xmlns="urn:kh:police:liaison:1" kind="HANDOVER" ref="RTK-HO-2026-001" action="ACCEPT"
        issued="21-11-2026 09:00" classification="PROTECTED">
  <Crossing gate="VN-LETHANH" at="24-11-2026 08:30"/>
</Notice>
"""


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    """The police case system's webhook endpoint (as in tests/delivery)."""
    hook = Webhook()
    async with serving_webhook(hook.port, hook.handle):
        yield hook


async def _post(
    federation: Federation, node: str, token: str, media_type: str, body: bytes, **params: str
) -> tuple[int, dict[str, Any]]:
    format_id = next(a.format_id for a in registry().values() if a.media_type == media_type)
    await upload_named_attachments(federation.api_url(node), token, format_id, body)
    url = f"{federation.api_url(node)}/api/v1/messages"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data=body,
            params=params,
            headers={"Authorization": f"Bearer {token}", "Content-Type": media_type},
        ) as response,
    ):
        answer: dict[str, Any] = await response.json()
        return response.status, answer


async def _inbox(federation: Federation, node: str, token: str) -> list[dict[str, Any]]:
    url = f"{federation.api_url(node)}/api/v1/inbox"
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                page: dict[str, Any] = await response.json()
            if page["messages"]:
                return list(page["messages"])
            await asyncio.sleep(0.2)
    raise AssertionError(f"nothing reached {node}'s inbox")


async def _thread(federation: Federation, node: str, case: uuid.UUID) -> list[tuple[str, str]]:
    store: Store = await federation.store(node)
    try:
        return [(m.direction, str(m.message_id)) for m in await store.case_thread(case)]
    finally:
        await store.close()


async def _thread_when(
    federation: Federation, node: str, case: uuid.UUID, length: int
) -> list[tuple[str, str]]:
    """The case's thread at node once it holds `length` messages (at most 30 s)."""
    deadline = time.monotonic() + 30
    while (thread := await _thread(federation, node, case)) and len(thread) < length:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    return thread


async def test_an_answer_joins_the_original_case_on_both_sides(
    federation: Federation, webhook: Webhook
) -> None:
    police_token, police_client = local_client("case-system", ["vn-police-json"])
    police_client["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{webhook.port}/blg-inbox",
        "hmac_secret": "a-shared-secret-of-at-least-32-characters",
    }
    rtk_token, rtk_client = local_client("police-records", ["kh-police-xml", "canonical-json"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [police_client]}
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)

    proposal_document = (SAMPLES / "vn-police-json" / "samples" / "ban_giao.json").read_bytes()
    status, queued = await _post(
        federation, POLICE, police_token, VN_JSON, proposal_document, to=RATANAKIRI
    )
    assert status == 202, queued
    [proposal] = queued["messages"]
    case = proposal["case_id"]

    [arrived] = await _inbox(federation, RATANAKIRI, rtk_token)
    assert (arrived["id"], arrived["case_id"], arrived["in_reply_to"]) == (
        proposal["id"],
        case,
        None,
    )

    # Refused before anything is queued: a malformed id, an id this node never saw.
    for wrong, expected in [("BG-2026-0031", 400), (str(uuid7()), 422)]:
        status, refused = await _post(
            federation, RATANAKIRI, rtk_token, KH_XML, ACCEPTANCE, to=POLICE, in_reply_to=wrong
        )
        assert status == expected, refused
        assert (
            refused["error"]["code"] == {400: "invalid_parameter", 422: "unknown_message"}[expected]
        )
        assert refused["error"]["message"].startswith("in_reply_to: ")
    status, refused = await _post(
        federation,
        RATANAKIRI,
        rtk_token,
        KH_XML,
        ACCEPTANCE,
        to=POLICE,
        in_reply_to=proposal["id"],
        case_id=str(uuid.uuid4()),
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_parameter")
    assert refused["error"]["message"].startswith("case_id: ")

    # The answer names only the message it answers; the gateway finds the case.
    status, answered = await _post(
        federation,
        RATANAKIRI,
        rtk_token,
        KH_XML,
        ACCEPTANCE,
        to=POLICE,
        in_reply_to=proposal["id"],
    )
    assert status == 202, answered
    [answer] = answered["messages"]
    assert answer["case_id"] == case

    [back] = await _inbox(federation, POLICE, police_token)
    assert (back["id"], back["case_id"], back["in_reply_to"]) == (
        answer["id"],
        case,
        proposal["id"],
    )
    deadline = time.monotonic() + 30
    while not webhook.received and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    [(headers, _body)] = webhook.received
    assert headers["BLG-Message-Id"] == answer["id"]
    assert headers["BLG-Case-Id"] == case
    assert headers["BLG-In-Reply-To"] == proposal["id"]

    # A document that names what it answers itself (canonical JSON can) joins the case too.
    completion = canonical.Message(
        sender_reference="RTK-HO-2026-001",
        action=canonical.ACTION_COMPLETE,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        in_reply_to=proposal["id"],
        victim_handover=canonical.VictimHandover(border_gate="VN-LETHANH"),
    )
    completion.issued_at.GetCurrentTime()
    status, completed = await _post(
        federation,
        RATANAKIRI,
        rtk_token,
        "application/vnd.blg.canonical+json",
        json_format.MessageToJson(completion).encode(),
        to=POLICE,
    )
    assert status == 202, completed
    assert completed["messages"][0]["case_id"] == case

    case_id = uuid.UUID(case)
    # The completion travels on to the police at once: wait for it rather than race it.
    assert await _thread_when(federation, POLICE, case_id, 3) == [
        ("out", proposal["id"]),
        ("in", answer["id"]),
        ("in", completed["messages"][0]["id"]),
    ]
    assert await _thread(federation, RATANAKIRI, case_id) == [
        ("in", proposal["id"]),
        ("out", answer["id"]),
        ("out", completed["messages"][0]["id"]),
    ]
