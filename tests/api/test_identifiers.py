"""Identifiers and sizes checked at submit, through a real node's API and outgoing folder.

Before: a long or NUL-bearing reference reached the case_references index and PostgreSQL
refused it (a 500, and an outgoing folder that retried one file forever while the files
behind it waited); a zero-width space opened a new case; an upper-case or urn:uuid: case id
and an envelope over the size limit were accepted with 202 and refused by the peer later.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from google.protobuf import json_format

from gateway.wire import canonical
from tests.api.test_local_api import CANONICAL, Client
from tests.federation.harness import Federation, alert, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
CASE = "0193f0c2-7d4e-7abc-8def-0123456789ab"
VN_SAMPLES = (
    Path(__file__).resolve().parents[3] / "shared" / "partners" / "vn-police-json" / "samples"
)


def _document(reference: str, case_id: str = "", summary: str = "") -> bytes:
    message = alert(reference, case_id)
    if summary:
        message.hotline_alert.summary = summary
    return json_format.MessageToJson(message).encode()


ENVELOPE_LIMIT = 32 * 1024


async def _start(federation: Federation, folder: Path) -> Client:
    token, client = local_client("case-system", ["canonical-json", "vn-police-json"])
    client["outgoing_folder"] = {
        "path": str(folder),
        "format": "canonical-json",
        "to": [RATANAKIRI],
        "poll_interval": "100ms",
    }
    await federation.add(POLICE, RATANAKIRI)
    # A small envelope limit, so that a document well inside the decoders' bounds (1 MiB,
    # 65,536 characters a field) still seals too large.
    federation.sections[POLICE] = {
        "local_clients": [client],
        "limits": {"max_envelope_bytes": ENVELOPE_LIMIT},
    }
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    return Client(federation, POLICE, token)


async def _post(police: Client, body: bytes, **params: str) -> tuple[int, dict[str, Any]]:
    if len(body) < 1 << 20:
        return await police.call(
            "POST", "/messages", body=body, params={"to": RATANAKIRI, **params}
        )
    # aiohttp warns (an error here) about large raw bodies; a stream is what it wants.
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            police.base + "/messages",
            data=io.BytesIO(body),
            params={"to": RATANAKIRI, **params},
            headers={"Content-Type": CANONICAL, "Authorization": f"Bearer {police.token}"},
        ) as response,
    ):
        return response.status, json.loads(await response.text())


async def _state(police: Client, message_id: str, wanted: str) -> str:
    deadline = time.monotonic() + 30
    state = ""
    while time.monotonic() < deadline:
        status, body = await police.call("GET", f"/messages/{message_id}")
        assert status == 200, body
        state = str(body["state"])
        if state == wanted or state in ("rejected", "dead", "expired"):
            return state
        await asyncio.sleep(0.1)
    return state


LONG = "TB-" + "7" * 3000


async def test_unusable_identifiers_are_refused_by_the_api_naming_the_field(
    federation: Federation, tmp_path: Path
) -> None:
    police = await _start(federation, tmp_path / "out")
    cases = [
        (_document(LONG), "sender_reference", "at most 128 characters"),
        (_document("TB-\x00-1"), "sender_reference", "without control characters"),
        (_document("\u200b\u200d"), "sender_reference", "visible characters"),
    ]
    long_call = alert("TB-2")
    long_call.hotline_alert.call_id = "1" * 600
    cases.append(
        (json_format.MessageToJson(long_call).encode(), "hotline_alert.call_id", "at most")
    )
    notice = json.loads((VN_SAMPLES / "truy_na.json").read_text())
    notice["so_hieu"] = "12\u0000/TB"
    vn_nul = json.dumps(notice).encode()
    for body, field, expected in [*cases, (vn_nul, "sender_reference", "control characters")]:
        if body is vn_nul:
            status, answer = await police.call(
                "POST",
                "/messages",
                body=body,
                content_type="application/vnd.vn-police+json",
                params={"to": RATANAKIRI},
            )
        else:
            status, answer = await _post(police, body)
        assert (status, answer["error"]["code"]) == (422, "invalid_records"), answer
        [problem] = answer["error"]["problems"]
        assert problem["location"].endswith(field), problem
        assert expected in problem["message"], problem
        assert "777777" not in json.dumps(answer)
        assert "111111" not in json.dumps(answer)
    status, answer = await _post(police, _document("TB-3"))
    assert status == 202, answer


async def test_a_zero_width_character_joins_the_same_case(
    federation: Federation, tmp_path: Path
) -> None:
    police = await _start(federation, tmp_path / "out")
    update = alert("TB-4\u200b")
    update.action = canonical.ACTION_UPDATE
    decomposed = alert("TB-\u0110a\u0300")  # "Đà" decomposed
    cases = [
        (_document("TB-4"), json_format.MessageToJson(update).encode()),
        (_document("TB-\u0110\u00e0"), json_format.MessageToJson(decomposed).encode()),
    ]
    for first, second in cases:
        status, one = await _post(police, first)
        assert status == 202, one
        status, two = await _post(police, second)
        assert status == 202, two
        assert one["messages"][0]["case_id"] == two["messages"][0]["case_id"]
        status, row = await police.call("GET", f"/messages/{two['messages'][0]['id']}")
        assert "\u200b" not in row["sender_reference"]


async def test_case_ids_in_other_spellings_are_sent_in_canonical_form(
    federation: Federation, tmp_path: Path
) -> None:
    police = await _start(federation, tmp_path / "out")
    submissions = [
        (_document("TB-5", CASE.upper()), {}),
        (_document("TB-6", f"urn:uuid:{CASE}"), {}),
        (_document("TB-7"), {"case_id": CASE.upper()}),
    ]
    ids = []
    for body, params in submissions:
        status, answer = await _post(police, body, **params)
        assert status == 202, answer
        assert answer["messages"][0]["case_id"] == CASE
        ids.append(answer["messages"][0]["id"])
    for message_id in ids:
        assert await _state(police, message_id, "delivered") == "delivered"


async def test_a_message_over_the_envelope_limit_is_refused_at_submit(
    federation: Federation, tmp_path: Path
) -> None:
    police = await _start(federation, tmp_path / "out")
    status, answer = await _post(police, _document("TB-8", summary="x" * (ENVELOPE_LIMIT + 1000)))
    assert (status, answer["error"]["code"]) == (422, "message_too_large"), answer
    assert "limits.max_envelope_bytes" in answer["error"]["message"]
    store = await federation.store(POLICE)
    try:
        assert await store.list_outbox() == []
    finally:
        await store.close()
    # Just under the limit still goes, and arrives.
    status, answer = await _post(police, _document("TB-9", summary="x" * (ENVELOPE_LIMIT - 3000)))
    assert status == 202, answer
    assert await _state(police, answer["messages"][0]["id"], "delivered") == "delivered"


async def test_the_outgoing_folder_reports_bad_files_and_keeps_flowing(
    federation: Federation, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    police = await _start(federation, folder)
    del police
    files = {
        "a-long.json": _document(LONG),
        "b-nul.json": _document("TB-\x00-2"),
        "c-large.json": _document("TB-10", summary="x" * (ENVELOPE_LIMIT + 1000)),
        "d-good.json": _document("TB-11"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    done = folder / "done"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(done.glob("*.json"))) < len(files):
        await asyncio.sleep(0.1)
    assert sorted(p.name for p in done.glob("*.json")) == sorted(files)
    errors = {p.name: p.read_text() for p in folder.glob("*.errors")}
    assert sorted(errors) == ["a-long.json.errors", "b-nul.json.errors", "c-large.json.errors"]
    assert "sender_reference: expected at most 128" in errors["a-long.json.errors"]
    assert "sender_reference: expected text without control" in errors["b-nul.json.errors"]
    assert "body: the sealed message" in errors["c-large.json.errors"]
    assert all("7777" not in text for text in errors.values())
    store = await federation.store(POLICE)
    try:
        queued = await store.list_outbox()
    finally:
        await store.close()
    assert [row.sender_reference for row in queued] == ["TB-11"]
