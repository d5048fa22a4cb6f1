"""The running federation the search end-to-end tests query (tests/search/test_search_e2e.py).

Two real gateways, vn-gialai-police (searched) and kh-ratanakiri-police:
- the partner samples, posted to each side's local API in its own format;
- the held cases (HELD: people whose every written form the table searches for) and
  OVER_HTTP generated cases, posted as canonical JSON to the local API of the side that
  writes them and carried between the gateways over real HTTPS; the time they take is
  measured and extrapolated to the bulk (printed);
- the bulk (BULK generated cases, 10,000 by default): sealed by kh-ratanakiri-police's real
  keys (its own Dispatcher, into a scratch database) and put into vn-gialai-police's
  database through the real EnvelopeReceiver, the receive path a bundle import uses, while
  vn-gialai-police runs: 10,000 through the API between two gateways on this shared 2-core
  machine takes longer than the suite can afford (see the printed extrapolation).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from google.protobuf import json_format

from adapters import registry
from gateway.components import dispatcher_for, envelope_receiver_for, keyring_from_config
from gateway.ops.metrics import GatewayMetrics
from gateway.store import Store
from tests.federation.harness import Federation, local_client, upload_named_attachments
from tests.search.corpus import Case, Person, cases

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners"
BULK = int(os.environ.get("BLG_SEARCH_E2E_BULK", "10000"))
OVER_HTTP = 300
CHUNK = 500

# People the table searches for: names no generated person has (the syllables are only in
# the held part of corpus.KHMER_SPELLING), in each origin and each writer's hands.
HELD = [
    Person("Nguyễn", ("Thị", "Thu", "Hằng"), "kinh", "F", 2004, "064304001111"),
    Person("Trần", ("Thị", "Khánh", "Vy"), "kinh", "F", 2007, "064307002222"),
    Person("Lê", ("Văn", "Bảo"), "kinh", "M", 1991, "064091003333"),
    Person("Phạm", ("Thị", "Thúy", "Ngân"), "kinh", "F", 1999, "064199004444"),
    Person("Dương", ("Thị", "Hiền"), "kinh", "F", 2001, "064201005555"),
    Person("Bùi", ("Thị", "Oanh"), "kinh", "F", 1995, "064195006666"),
    Person("Siu", ("H'Nhung",), "highland", "F", 2006, "064306007777"),
    Person("Ksor", ("H'Sương",), "highland", "F", 2003, "064303008888"),
    Person("Nay", ("H'Quỳnh",), "highland", "F", 2008, "064308009999"),
    Person("Kông", ("Y", "Khánh"), "highland", "M", 1998, "064198001212"),
    Person("Sok", ("Samnang",), "khmer", "M", 1988, "010456701"),
    Person("Chea", ("Sothea",), "khmer", "F", 2002, "010456702"),
    Person("Meas", ("Samnang", "Sothea"), "khmer", "M", 1993, "010456703"),
]
KINDS = ("victim_handover", "wanted_person_notice", "hotline_alert")


def held_cases() -> list[Case]:
    return [
        Case(900_000 + i, KINDS[i % 3], "vn" if i % 2 else "kh", (person,), "VN-LETHANH")
        for i, person in enumerate(HELD)
    ]


@dataclass
class Running:
    federation: Federation
    api: str  # vn-gialai-police's local API
    token: str
    samples: dict[str, set[str]] = field(default_factory=dict)  # sample file -> case ids
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    async def search(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{self.api}/api/v1/search",
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
            ) as response,
        ):
            return response.status, await response.json()


async def _post(api: str, token: str, media_type: str, to: str, body: bytes) -> dict[str, Any]:
    format_id = next(a.format_id for a in registry().values() if a.media_type == media_type)
    await upload_named_attachments(api, token, format_id, body)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{api}/api/v1/messages",
            data=body,
            params={"to": to},
            headers={"Authorization": f"Bearer {token}", "Content-Type": media_type},
        ) as response,
    ):
        answer: dict[str, Any] = await response.json()
        assert response.status == 202, answer
        return answer


async def _canonical(api: str, token: str, to: str, case: Case) -> None:
    body = json_format.MessageToJson(case.message()).encode()
    await _post(api, token, "application/vnd.blg.canonical+json", to, body)


async def _wait_inbox(store: Store, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = await store.list_inbox(limit=count + 1000)
        if sum(row.kind in KINDS for row in rows) >= count:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"fewer than {count} messages arrived in {timeout}s")


async def _bulk(federation: Federation, made: list[Case]) -> float:
    """made sealed by kh-ratanakiri-police's keys, received by vn-gialai-police's receiver."""
    started = time.monotonic()
    scratch_dsn = await federation.postgres.ensure_database(f"scratch_{uuid.uuid4().hex[:8]}")
    scratch = await Store.connect(scratch_dsn)
    await scratch.migrate()
    sender_config = federation.config(RATANAKIRI)
    dispatcher = dispatcher_for(sender_config, scratch, lambda: datetime.now(UTC))
    for start in range(0, len(made), CHUNK):
        messages = [case.message() for case in made[start : start + CHUNK]]
        await dispatcher.submit_all(messages, [POLICE], actor="bulk")
    await scratch.close()
    connection = await asyncpg.connect(scratch_dsn)
    try:
        envelopes = [
            bytes(r[0]) for r in await connection.fetch("SELECT envelope FROM outbox ORDER BY id")
        ]
    finally:
        await connection.close()
    config = federation.config(POLICE)
    store = await federation.store(POLICE)
    try:
        receiver = envelope_receiver_for(
            config, store, keyring_from_config(config), lambda: datetime.now(UTC), GatewayMetrics()
        )
        for start in range(0, len(envelopes), 100):
            await receiver.receive(RATANAKIRI, envelopes[start : start + 100])
    finally:
        await store.close()
    return time.monotonic() - started


async def start(federation: Federation) -> Running:
    token, client = local_client(
        "case-system", ["canonical-json", "vn-police-json", "hotline-111-csv"]
    )
    rtk_token, rtk_client = local_client("police-records", ["canonical-json", "kh-police-xml"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [client]}
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    api, rtk_api = federation.api_url(POLICE), federation.api_url(RATANAKIRI)
    running = Running(federation, api, token)
    samples = [
        (api, token, "vn-police-json/samples/truy_na.json", "application/vnd.vn-police+json"),
        (api, token, "vn-police-json/samples/ban_giao.json", "application/vnd.vn-police+json"),
        (api, token, "vn-police-json/samples/tin_bao_111.json", "application/vnd.vn-police+json"),
        (api, token, "hotline-111-csv/samples/calls.csv", "text/csv"),
        (rtk_api, rtk_token, "kh-police-xml/samples/wanted.xml", "application/vnd.kh-police+xml"),
        (rtk_api, rtk_token, "kh-police-xml/samples/handover.xml", "application/vnd.kh-police+xml"),
        (rtk_api, rtk_token, "kh-police-xml/samples/alert.xml", "application/vnd.kh-police+xml"),
    ]
    for url, bearer, path, media_type in samples:
        to = RATANAKIRI if url == api else POLICE
        answer = await _post(url, bearer, media_type, to, (SAMPLES / path).read_bytes())
        running.samples[Path(path).name] = {item["case_id"] for item in answer["messages"]}
    # Held and generated cases over real HTTP: each from the side that writes it.
    over_http = [replace(case, number=case.number + 500_000) for case in cases(OVER_HTTP, seed=2)]
    started = time.monotonic()
    incoming = 3  # kh-police-xml samples
    for case in [*held_cases(), *over_http]:
        if case.writer == "kh":
            await _canonical(rtk_api, rtk_token, POLICE, case)
            incoming += 1
        else:
            await _canonical(api, token, RATANAKIRI, case)
    store = await federation.store(POLICE)
    try:
        await _wait_inbox(store, incoming, 300)
    finally:
        await store.close()
    over = time.monotonic() - started
    sent = len(HELD) + OVER_HTTP
    running.timings["over_http_seconds"] = over
    running.timings["over_http_per_message_ms"] = 1000 * over / sent
    running.timings["api_10000_estimate_seconds"] = over / sent * 10_000
    bulk = cases(BULK, seed=13)
    running.timings["bulk_receive_seconds"] = await _bulk(federation, bulk)
    running.counts = {
        "samples": len(samples),
        "held": len(HELD),
        "over_http": OVER_HTTP,
        "bulk": BULK,
    }
    # Everything indexed (the indexer runs in the node), within a bound.
    store = await federation.store(POLICE)
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            progress = await store.search_progress()
            if progress.indexed >= progress.messages:
                break
            await asyncio.sleep(1)
        else:
            raise AssertionError(f"not indexed in time: {progress}")
        running.counts["entries"] = progress.entries
    finally:
        await store.close()
    running.timings["indexed_after_seconds"] = time.monotonic() - started
    print(json.dumps({"timings": running.timings, "counts": running.counts}, indent=1))
    return running
