"""Hostile documents against a real `gateway run`: refused with a reason code and the place,
decoded off the event loop (so /healthz keeps answering meanwhile), and in an outgoing drop
folder reported beside the file while the files after it go on."""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

from adapters.common.limits import EXPORT_LIMITS
from tests import fuzz_seeds
from tests.federation.harness import Federation, local_client, upload_named_attachments

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
MEDIA_TYPES = {
    "kh-police-xml": "application/vnd.kh-police+xml",
    "vn-police-json": "application/vnd.vn-police+json",
    "canonical-json": "application/vnd.blg.canonical+json",
    "hotline-111-csv": "text/csv",
}
HEALTHZ_BOUND = 1.0
ROUNDS = 2


def _slow_export() -> bytes:
    """A hotline export at its row bound whose every row is bad (an unknown channel): the most
    decoding work a document within bounds can ask for, and nothing gets queued."""
    sample = fuzz_seeds.samples("hotline-111-csv")[0].decode("utf-8-sig")
    head = sample.split("\r\n", 1)[0]
    rows = (
        f"111-{index};01/12/2026 08:15;Bồ câu;Mất tích;Cao;Làng Mơ Nang;VN-30;"
        f"Hai anh em mất liên lạc;;;Ksor Y Bhin;1999;Nam"
        for index in range(EXPORT_LIMITS.max_nodes - 1)
    )
    return ("\ufeff" + head + "\r\n" + "\r\n".join(rows) + "\r\n").encode()


# (format, document, status, reason code)
def _attacks() -> list[tuple[str, bytes, int, str]]:
    xml = fuzz_seeds.edge_inputs("kh-police-xml")
    vn = fuzz_seeds.edge_inputs("vn-police-json")
    canonical = fuzz_seeds.edge_inputs("canonical-json")
    return [
        ("kh-police-xml", xml["ten_mb_empty_elements"], 413, "document_too_complex"),
        ("kh-police-xml", xml["elements_past_bound_under_size"], 422, "document_too_complex"),
        ("vn-police-json", vn["deep_arrays"], 422, "document_too_complex"),
        ("vn-police-json", vn["long_integer"], 422, "document_too_complex"),
        ("canonical-json", canonical["deep_objects"], 422, "document_too_complex"),
        ("canonical-json", canonical["long_integer"], 422, "document_too_complex"),
        ("hotline-111-csv", _slow_export(), 422, "invalid_records"),
    ]


async def _start(federation: Federation, tmp_path: Path) -> tuple[str, Path]:
    token, client = local_client("case-system", list(MEDIA_TYPES))
    folder = tmp_path / "case-system-out"
    client["outgoing_folder"] = {
        "path": str(folder),
        "format": "vn-police-json",
        "to": [RATANAKIRI],
        "poll_interval": "100ms",
    }
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [client]}
    federation.write_config(POLICE)
    federation.start(POLICE)
    await federation.wait_ready(POLICE)
    return token, folder


async def _post(
    session: aiohttp.ClientSession, url: str, token: str, format_id: str, body: bytes
) -> tuple[int, dict[str, Any]]:
    async with session.post(
        url,
        data=io.BytesIO(body),
        params={"to": RATANAKIRI},
        headers={"Authorization": f"Bearer {token}", "Content-Type": MEDIA_TYPES[format_id]},
    ) as response:
        answer: dict[str, Any] = await response.json()
        return response.status, answer


async def test_hostile_documents_are_refused_while_healthz_keeps_answering(
    federation: Federation, tmp_path: Path
) -> None:
    token, _ = await _start(federation, tmp_path)
    port = federation.nodes[POLICE].api_port
    messages_url = f"http://127.0.0.1:{port}/api/v1/messages"
    healthz_url = f"http://127.0.0.1:{port}/healthz"
    attacks = _attacks()
    latencies: list[float] = []
    answers: list[tuple[str, int, dict[str, Any], int, str]] = []
    done = asyncio.Event()

    async def attack(session: aiohttp.ClientSession) -> None:
        try:
            for _ in range(ROUNDS):
                for format_id, body, status, code in attacks:
                    got, answer = await _post(session, messages_url, token, format_id, body)
                    answers.append((format_id, got, answer, status, code))
        finally:
            done.set()

    async def watch(session: aiohttp.ClientSession) -> None:
        while not done.is_set():
            started = time.monotonic()
            async with session.get(healthz_url) as response:
                assert response.status == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.05)

    timeout = aiohttp.ClientTimeout(total=120)
    async with (
        aiohttp.ClientSession(timeout=timeout) as attacker,
        aiohttp.ClientSession(timeout=timeout) as watcher,
    ):
        await asyncio.gather(attack(attacker), watch(watcher))

    assert len(latencies) >= 10
    assert max(latencies) < HEALTHZ_BOUND, sorted(latencies)[-5:]
    assert len(answers) == ROUNDS * len(attacks)
    for format_id, got, answer, status, code in answers:
        assert (got, answer["error"]["code"]) == (status, code), (format_id, answer)
        assert answer["error"]["problems"], answer
    store = await federation.store(POLICE)
    try:
        assert await store.list_outbox(limit=10) == []
    finally:
        await store.close()


def _settled(path: Path, data: bytes) -> None:
    """Written with an mtime in the past, so the watcher does not wait for it to settle."""
    path.write_bytes(data)
    past = time.time() - 60
    os.utime(path, (past, past))


async def test_a_number_past_python_s_limit_in_a_drop_folder_is_reported_and_the_rest_go_on(
    federation: Federation, tmp_path: Path
) -> None:
    token, folder = await _start(federation, tmp_path)
    vn = fuzz_seeds.edge_inputs("vn-police-json")
    good = fuzz_seeds.samples("vn-police-json")[0]
    # The sample names a photo: uploaded first, as the client's system would.
    await upload_named_attachments(federation.api_url(POLICE), token, "vn-police-json", good)
    # Sorted before the good file: today it is retried forever and the good one never goes.
    _settled(folder / "a-long-number.json", vn["long_integer"])
    _settled(folder / "b-deep.json", vn["deep_objects"])
    _settled(folder / "c-good.json", good)
    done = folder / "done"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (done / "c-good.json").exists():
        await asyncio.sleep(0.1)
    assert sorted(p.name for p in done.iterdir()) == [
        "a-long-number.json",
        "b-deep.json",
        "c-good.json",
    ], federation.log_tail(POLICE)
    errors = (folder / "a-long-number.json.errors").read_text()
    assert errors == "line 1, column 14: expected numbers of at most 40 characters\n"
    assert "expected nesting at most" in (folder / "b-deep.json.errors").read_text()
    assert not (folder / "c-good.json.errors").exists()
    store = await federation.store(POLICE)
    try:
        queued = await store.list_outbox(limit=10)
    finally:
        await store.close()
    assert len(queued) == 1
