"""The local API of real gateway processes: refusals, submission, status, inbox."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from google.protobuf import json_format

from gateway.wire import canonical
from tests.federation.harness import Federation, alert, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
CANONICAL = "application/vnd.blg.canonical+json"


def _alert_with_caller(reference: str, province: str = "KH-16") -> bytes:
    message = alert(reference)
    message.hotline_alert.province = province
    message.hotline_alert.caller.name = "Rah Lan Thị Hoa"
    message.hotline_alert.caller.phone = "0987 654 321"
    return json_format.MessageToJson(message).encode()


class Client:
    def __init__(self, federation: Federation, node: str, token: str) -> None:
        self.base = f"http://127.0.0.1:{federation.nodes[node].api_port}/api/v1"
        self.token = token

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = CANONICAL,
        token: str | None = None,
        params: Any = None,
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": content_type}
        if token is None:
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, self.base + path, data=body, headers=headers, params=params
            ) as response,
        ):
            return response.status, json.loads(await response.text())


async def _start(federation: Federation) -> tuple[Client, Client]:
    police_token, police_client = local_client("case-system", ["canonical-json"])
    rtk_token, rtk_client = local_client("records", ["canonical-json"], ["hotline_alert"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {
        "local_clients": [police_client],
    }
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    return Client(federation, POLICE, police_token), Client(federation, RATANAKIRI, rtk_token)


async def test_refusals_name_a_reason_and_queue_nothing(federation: Federation) -> None:
    police, _ = await _start(federation)
    good = _alert_with_caller("TB-1")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"token": ""}, 401, "unauthorized"),
        ({"token": "not-a-token"}, 401, "unauthorized"),
        ({"content_type": "application/pdf"}, 415, "unsupported_format"),
        ({"params": {"format": "nope"}}, 415, "unsupported_format"),
        ({"body": b"{not json"}, 422, "invalid_document"),
        ({"body": b'{"hotlineAlert": {"urgency": "SOON"}}'}, 422, "invalid_document"),
        ({"params": {"to": "xx-nobody"}}, 422, "unknown_peer"),
        ({}, 422, "no_route"),
    ]
    for options, status, code in cases:
        kwargs: dict[str, Any] = {"body": good, **options}
        got_status, body = await police.call("POST", "/messages", **kwargs)
        assert (got_status, body["error"]["code"]) == (status, code), (options, body)
        assert "Rah Lan" not in json.dumps(body, ensure_ascii=False)
    store = await federation.store(POLICE)
    try:
        assert await store.list_outbox() == []
    finally:
        await store.close()


async def test_submit_follow_and_pull_with_the_caller_removed_at_the_border(
    federation: Federation,
) -> None:
    police, ratanakiri = await _start(federation)
    status, body = await police.call(
        "POST", "/messages", body=_alert_with_caller("TB-2"), params={"to": RATANAKIRI}
    )
    assert status == 202, body
    [queued] = body["messages"]
    assert queued["to"] == RATANAKIRI
    assert queued["redacted"] == ["hotline_alert.caller"]
    for _ in range(100):
        status, state = await police.call("GET", queued["status_url"].removeprefix("/api/v1"))
        assert status == 200
        if state["state"] == "delivered":
            break
        await asyncio.sleep(0.1)
    assert state["state"] == "delivered"
    assert state["receipt_received_at"]

    status, page = await ratanakiri.call("GET", "/inbox", params={"format": "canonical-json"})
    assert status == 200, page
    [item] = page["messages"]
    assert item["id"] == queued["id"]
    assert item["case_id"] == queued["case_id"]
    assert "Rah Lan Thị Hoa" not in item["document"]
    assert "0987" not in item["document"]
    assert json.loads(item["document"])["senderReference"] == "TB-2"
    status, empty = await ratanakiri.call("GET", "/inbox", params={"after": page["next_cursor"]})
    assert (status, empty["messages"]) == (200, [])

    status, other = await ratanakiri.call("GET", queued["status_url"].removeprefix("/api/v1"))
    assert (status, other["error"]["code"]) == (404, "not_found")


async def test_an_update_under_the_same_reference_joins_the_original_case(
    federation: Federation,
) -> None:
    police, _ = await _start(federation)
    first = alert("TB-30")
    first.hotline_alert.province = "KH-16"
    update = alert("TB-30")
    update.action = canonical.ACTION_UPDATE
    other = alert("TB-31")
    answers = []
    for message in (first, update, other):
        status, body = await police.call(
            "POST",
            "/messages",
            body=json_format.MessageToJson(message).encode(),
            params={"to": RATANAKIRI},
        )
        assert status == 202, body
        answers.append(body["messages"][0]["case_id"])
    assert answers[0] == answers[1]
    assert answers[2] != answers[0]
