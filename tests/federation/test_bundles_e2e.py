"""Offline bundles between two real gateways whose link is cut (docs/PROTOCOL.md section 15).

vn-gialai-police dials kh-ratanakiri-police through a TCP relay on loopback that the test
holds down, so nothing goes over the link (TLS passes through the relay untouched when it
is up). The case system posts 500 wanted notices through the local API; an operator
exports them into a bundle with `gateway bundle export` while the node runs, Ratanakiri's
operator imports it (its node running too), and the receipts bundle comes back: every
message is delivered with a signed receipt that verifies, and Ratanakiri's records system
gets each notice once. Then a second batch travels both ways at once (a bundle imported at
Ratanakiri, and the link back up before its receipts come home): nothing is stored or
delivered twice. Damaged, replayed and misaddressed bundles are refused with their codes,
and nothing is stored. A notice with photos completes offline too: its streams travel in
the bundle, are verified at Ratanakiri, and the receipt that comes back covers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from gateway.crypto import verify_receipt
from tests.federation.harness import (
    Federation,
    free_port,
    local_client,
    serving_webhook,
    upload_named_attachments,
)

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "partners" / "vn-police-json"
NOTICE: dict[str, Any] = json.loads((SAMPLE / "samples" / "truy_na.json").read_text())
NOTICE.pop("anh", None)
NOTICE["doi_tuong"].pop("anh", None)  # a bundle carries no attachment streams (15.4)
FIRST, SECOND = 500, 50


@dataclass
class Relay:
    """A loopback TCP relay to a node's federation port, stopped and started by the test.
    Stopping closes the listener and every connection through it: the link is cut."""

    target: int
    port: int = field(default_factory=free_port)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target
            )
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            self._writers -= {writer, upstream_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


@dataclass
class RecordsSystem:
    """Ratanakiri's records system: takes every webhook call, remembers each message id."""

    port: int = field(default_factory=free_port)
    calls: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls.append(request.headers["BLG-Message-Id"])
        return web.Response(status=204)


@pytest.fixture
async def records() -> AsyncIterator[RecordsSystem]:
    system = RecordsSystem()
    async with serving_webhook(system.port, system.handle):
        yield system


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATEWAY, *args], check=False, capture_output=True, text=True, timeout=300
    )


def _error(run: subprocess.CompletedProcess[str]) -> str:
    return run.stderr.strip().splitlines()[-1]


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout}s"
        await asyncio.sleep(0.25)


async def _count(dsn: str, query: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        value: int = await connection.fetchval(query)
    finally:
        await connection.close()
    return value


async def _post_notices(federation: Federation, token: str, first: int, count: int) -> list[str]:
    """count wanted notices through the local API, a few at a time; their status URLs."""
    url = f"{federation.api_url(POLICE)}/api/v1/messages"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.vn-police+json"}
    turns = asyncio.Semaphore(8)

    async def post(session: aiohttp.ClientSession, number: int) -> str:
        body = json.dumps(dict(NOTICE, so_hieu=f"TN-2026-{number:04d}")).encode()
        async with turns, session.post(url, data=body, headers=headers) as response:
            assert response.status == 202, await response.text()
            status_url: str = (await response.json())["messages"][0]["status_url"]
            return status_url

    async with aiohttp.ClientSession() as session:
        return await asyncio.gather(*(post(session, n) for n in range(first, first + count)))


async def _status(federation: Federation, token: str, status_url: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{federation.api_url(POLICE)}{status_url}", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


@dataclass
class Link:
    """Two running nodes whose link the relay cuts, and what the test drives them with."""

    case_token: str
    relay: Relay
    police: str
    ratanakiri: str
    police_dsn: str
    ratanakiri_dsn: str


async def _cut_link(federation: Federation, records: RecordsSystem) -> Link:
    case_token, case_system = local_client("case-system", ["vn-police-json"])
    _, records_client = local_client("records", ["vn-police-json"])
    records_client["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{records.port}/blg-inbox",
        "hmac_secret": "a-shared-secret-of-at-least-32-characters",
    }
    await federation.add(POLICE, RATANAKIRI)
    relay = Relay(target=federation.nodes[RATANAKIRI].federation_port)  # down: link cut
    federation.peer_urls[POLICE, RATANAKIRI] = relay.url
    # The counts below are of this test's notices alone: the 550 submissions must not also
    # queue audit checkpoints for the peer (which would travel in the same bundles).
    quiet_audit = {"checkpoints": {"every": "24h", "after_entries": 4096}}
    federation.sections[POLICE] = {
        "local_clients": [case_system],
        "routing": [{"kinds": ["wanted_person_notice"], "to": [RATANAKIRI]}],
        "audit": quiet_audit,
    }
    federation.sections[RATANAKIRI] = {"local_clients": [records_client], "audit": quiet_audit}
    police, ratanakiri = (str(federation.write_config(n)) for n in (POLICE, RATANAKIRI))
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    return Link(
        case_token,
        relay,
        police,
        ratanakiri,
        federation.nodes[POLICE].dsn,
        federation.nodes[RATANAKIRI].dsn,
    )


async def test_500_messages_travel_by_bundle_and_nothing_is_stored_or_delivered_twice(
    federation: Federation, tmp_path: Path, records: RecordsSystem
) -> None:
    link = await _cut_link(federation, records)
    case_token, relay, police, ratanakiri = (
        link.case_token,
        link.relay,
        link.police,
        link.ratanakiri,
    )
    police_dsn, ratanakiri_dsn = link.police_dsn, link.ratanakiri_dsn
    try:
        status_urls = await _post_notices(federation, case_token, 0, FIRST)
        assert await _count(police_dsn, "SELECT count(*) FROM outbox") == FIRST
        assert await _count(ratanakiri_dsn, "SELECT count(*) FROM inbox") == 0

        # Out by bundle, in at Ratanakiri, receipts back: both nodes running.
        bundle = tmp_path / "to-ratanakiri.blgb"
        exported = _gateway(
            "bundle", "export", "--config", police, "--to", RATANAKIRI, "--out", str(bundle)
        )
        assert exported.returncode == 0, exported.stderr
        assert exported.stdout.startswith(f"exported {FIRST} messages for {RATANAKIRI}")
        queued = await _status(federation, case_token, status_urls[0])
        assert queued["state"] == "queued"
        assert queued["travelling_in_bundle"] in exported.stdout
        await _refusals(police, ratanakiri, bundle, ratanakiri_dsn)
        imported = _gateway("bundle", "import", "--config", ratanakiri, str(bundle))
        assert imported.returncode == 0, imported.stderr
        assert f"{FIRST} accepted, 0 duplicates, refused none" in imported.stdout
        replayed = _gateway("bundle", "import", "--config", ratanakiri, str(bundle))
        assert (replayed.returncode, _error(replayed).split(":")[:2]) == (
            2,
            ["error", " bundle_replayed"],
        )
        answered = _gateway("bundle", "import", "--config", police, f"{bundle}.receipts")
        assert answered.returncode == 0, answered.stderr
        assert f"{FIRST} messages finished" in answered.stdout
        await _receipts_verify(federation, police_dsn, FIRST)
        settled = await _status(federation, case_token, status_urls[0])
        assert (settled["state"], settled["travelling_in_bundle"]) == ("delivered", None)
        await _until("every notice at the records system", lambda: _at_least(records, FIRST))

        # A second batch goes both ways: by bundle (its receipts stay on the desk) and, once
        # the link is back, online.
        await _post_notices(federation, case_token, FIRST, SECOND)
        second = tmp_path / "second.blgb"
        again = _gateway(
            "bundle", "export", "--config", police, "--to", RATANAKIRI, "--out", str(second)
        )
        assert again.stdout.startswith(f"exported {SECOND} messages"), again.stderr
        took = _gateway("bundle", "import", "--config", ratanakiri, str(second))
        assert f"{SECOND} accepted" in took.stdout, took.stderr
        await relay.start()
        await federation.wait_delivered(POLICE, FIRST + SECOND, timeout=120)
        late = _gateway("bundle", "import", "--config", police, f"{second}.receipts")
        assert f"0 messages finished, {SECOND} receipts verified" in late.stdout, late.stderr
        await _receipts_verify(federation, police_dsn, FIRST + SECOND)
        total = FIRST + SECOND
        await _until("the second batch at the records system", lambda: _at_least(records, total))
        # Long enough for a second delivery of anything to have shown up, bounded.
        await asyncio.sleep(2)
        assert await _count(ratanakiri_dsn, "SELECT count(*) FROM inbox") == total
        assert await _count(ratanakiri_dsn, "SELECT count(*) FROM local_deliveries") == total
        assert len(records.calls) == len(set(records.calls)) == total
        states = "SELECT count(*) FROM outbox WHERE state = 'delivered'"
        assert await _count(police_dsn, states) == total
    finally:
        await relay.stop()


async def _at_least(records: RecordsSystem, count: int) -> bool:
    return len(records.calls) >= count


async def _receipts_verify(
    federation: Federation, dsn: str, count: int, *, attachments: int = 0
) -> None:
    """Every message delivered, each with a stored receipt that verifies under the peer's
    published keys for exactly its envelope (and covers that many attachment streams)."""
    keys = federation.keyring(POLICE).peer_keys(RATANAKIRI)
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT o.message_id, o.envelope, o.state::text AS state, r.receipt "
            "FROM outbox o JOIN receipts r USING (message_id)"
        )
    finally:
        await connection.close()
    assert len(rows) == count
    for row in rows:
        facts = verify_receipt(
            bytes(row["receipt"]),
            receiver=RATANAKIRI,
            receiver_keys=keys,
            envelope_data=bytes(row["envelope"]),
        )
        assert (facts.accepted, facts.message_id, row["state"]) == (
            True,
            row["message_id"],
            "delivered",
        )
        assert len(facts.attachment_sha256) == attachments


async def _refusals(police: str, ratanakiri: str, bundle: Path, ratanakiri_dsn: str) -> None:
    """Damaged and misaddressed copies of the bundle: each refused with its code, exit 2,
    and Ratanakiri stores nothing (the real bundle is imported after)."""
    data = bundle.read_bytes()
    cases = [
        (
            "tampered",
            ratanakiri,
            data[:-100] + bytes([data[-100] ^ 1]) + data[-99:],
            "bundle_signature_invalid",
        ),
        ("truncated", ratanakiri, data[: len(data) * 2 // 3], "bundle_truncated"),
        ("misaddressed", police, data, "bundle_misaddressed"),
    ]
    query = "SELECT (SELECT count(*) FROM inbox) + (SELECT count(*) FROM bundles_received)"
    before = await _count(ratanakiri_dsn, query)
    for name, config, damaged, code in cases:
        path = bundle.with_name(name)
        path.write_bytes(damaged)
        refused = _gateway("bundle", "import", "--config", config, str(path))
        assert refused.returncode == 2, (name, refused.stdout, refused.stderr)
        assert _error(refused).startswith(f"error: {code}: "), (name, refused.stderr)
        assert "Traceback" not in refused.stderr
        assert not Path(f"{path}.receipts").exists()
    assert await _count(ratanakiri_dsn, query) == before


async def test_a_notice_with_photos_completes_offline(
    federation: Federation, tmp_path: Path, records: RecordsSystem
) -> None:
    link = await _cut_link(federation, records)
    try:
        with_photos = json.loads((SAMPLE / "samples" / "truy_na.json").read_text())
        body = json.dumps(with_photos).encode()
        await upload_named_attachments(
            federation.api_url(POLICE), link.case_token, "vn-police-json", body
        )
        headers = {
            "Authorization": f"Bearer {link.case_token}",
            "Content-Type": "application/vnd.vn-police+json",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{federation.api_url(POLICE)}/api/v1/messages", data=body, headers=headers
            ) as response,
        ):
            assert response.status == 202, await response.text()
        streams = await _count(link.police_dsn, "SELECT count(*) FROM outbox_attachments")
        assert streams > 0

        bundle = tmp_path / "photos.blgb"
        exported = _gateway(
            "bundle", "export", "--config", link.police, "--to", RATANAKIRI, "--out", str(bundle)
        )
        assert exported.stdout.startswith("exported 1 messages"), exported.stderr
        imported = _gateway("bundle", "import", "--config", link.ratanakiri, str(bundle))
        assert "1 accepted, 0 duplicates, refused none" in imported.stdout, imported.stderr
        held = (
            "SELECT count(*) FROM attachments WHERE direction = 'incoming' AND state = 'verified'"
        )
        assert await _count(link.ratanakiri_dsn, held) == streams
        assert await _count(link.ratanakiri_dsn, "SELECT count(*) FROM inbox_attachments") == (
            streams
        )
        answered = _gateway("bundle", "import", "--config", link.police, f"{bundle}.receipts")
        assert "1 messages finished" in answered.stdout, answered.stderr
        await _receipts_verify(federation, link.police_dsn, 1, attachments=streams)
        await _until("the notice at the records system", lambda: _at_least(records, 1))
    finally:
        await link.relay.stop()
