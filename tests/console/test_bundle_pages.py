"""The offline bundle pages (gateway/console/bundles.py) through the real console app, a real
store and real sign-in: roles, CSRF, the size bound, refusals that store nothing, and a
round trip with the peer's own courier (export here, import there, receipts back here)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import ClientResponse

from gateway.components import offline_courier_for
from gateway.console import Role
from gateway.crypto import seal
from gateway.crypto.bundle import BundleKind, seal_bundle
from gateway.ops.metrics import GatewayMetrics
from gateway.store import EmbeddedPostgres
from gateway.wire import Kind, envelope, uuid7
from tests.console.conftest import NODE, PEER, ConsoleHarness, running_console
from tests.federation.harness import Federation, alert

# A bound small enough to pass in a test.
SMALL_LIMIT = 256 * 1024

_REFUSED = re.compile(r'class="notice error bundle-refused" role="alert" data-reason="([a-z_]+)"')
_COUNT = re.compile(r'<li class="([a-z]+)"(?: data-reason="[a-z_]+")? data-count="(\d+)"')


def _now() -> datetime:
    return datetime.now(UTC)


async def _import(console: ConsoleHarness, data: bytes, token: str | None) -> ClientResponse:
    form = aiohttp.FormData()
    if token is not None:
        form.add_field("csrf_token", token)
    form.add_field("bundle", data, filename="x.blgb", content_type="application/octet-stream")
    return await console.client.post("/console/operator/bundles/import", data=form)


@pytest.fixture
async def small_console(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleHarness]:
    federation = Federation(tmp_path, postgres, ca)
    federation.sections[NODE] = {"limits": {"max_bundle_bytes": SMALL_LIMIT}}
    async with running_console(federation) as harness:
        yield harness


def _refused(page: str) -> str | None:
    found = _REFUSED.search(page)
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.OPERATOR, 200), (Role.ADMIN, 200), (Role.OFFICER, 403), (Role.SUPERVISOR, 403)],
)
async def test_only_operators_and_admins_see_the_page(
    console: ConsoleHarness, role: Role, status: int
) -> None:
    await console.sign_in(role)
    page = await console.client.get("/console/operator/bundles")
    assert page.status == status
    if status == 200:
        assert 'action="/console/operator/bundles/export"' in await page.text()


async def test_an_officer_cannot_export(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER)
    token = await console.csrf()
    answer = await console.client.post(
        "/console/operator/bundles/export", data={"peer": PEER, "csrf_token": token}
    )
    assert answer.status == 403


@pytest.mark.parametrize("token", [None, "forged"])
async def test_an_import_without_the_session_token_is_refused(
    console: ConsoleHarness, token: str | None
) -> None:
    await console.sign_in(Role.OPERATOR)
    answer = await _import(console, b"anything", token)
    assert answer.status == 403


async def test_an_export_without_the_session_token_is_refused(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OPERATOR)
    answer = await console.client.post("/console/operator/bundles/export", data={"peer": PEER})
    assert answer.status == 403


@pytest.mark.parametrize("chunked", [False, True])
async def test_an_oversized_upload_is_refused_before_it_is_held(
    small_console: ConsoleHarness, chunked: bool
) -> None:
    """Declared past the bound: refused on its Content-Length; chunked (no length): refused
    once read past the bound. Either way a 413 page naming bundle_too_large."""
    console = small_console
    await console.sign_in(Role.OPERATOR)
    token = await console.csrf("/console/operator/bundles")
    assert console.ctx.max_bundle_bytes == SMALL_LIMIT
    too_big = SMALL_LIMIT + 1
    form = aiohttp.MultipartWriter("form-data")
    form.append(token).set_content_disposition("form-data", name="csrf_token")
    form.append(b"\0" * too_big).set_content_disposition(
        "form-data", name="bundle", filename="x.blgb"
    )
    answer = await console.client.post(
        "/console/operator/bundles/import", data=form, chunked=chunked or None
    )
    assert answer.status == 413
    assert _refused(await answer.text()) == "bundle_too_large"


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"not a bundle at all", "bundle_malformed"), (b"", None)],
)
async def test_a_file_that_is_not_a_bundle_is_refused_with_its_code(
    console: ConsoleHarness, data: bytes, code: str | None
) -> None:
    await console.sign_in(Role.OPERATOR, "vi")
    token = await console.csrf("/console/operator/bundles")
    answer = await _import(console, data, token)
    page = await answer.text()
    if code is None:
        assert answer.status == 400
    else:
        assert answer.status == 422
        assert _refused(page) == code
        assert "Gói đã bị từ chối" in page


async def test_export_import_at_the_peer_and_receipts_back(console: ConsoleHarness) -> None:
    user = await console.sign_in(Role.OPERATOR)
    (queued,) = await console.ctx.dispatcher.submit(alert("TB-1"), [PEER], actor="test")
    token = await console.csrf("/console/operator/bundles")
    answer = await console.client.post(
        "/console/operator/bundles/export", data={"peer": PEER, "csrf_token": token}
    )
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    disposition = answer.headers["Content-Disposition"]
    assert re.fullmatch(rf'attachment; filename="{NODE}-to-{PEER}-[0-9a-f-]+\.blgb"', disposition)
    bundle = await answer.read()
    actions = {(row.actor, row.action) for row in await console.store.list_audit(limit=100)}
    assert (user.actor, "console.bundle_exported") in actions
    assert any(
        actor == user.actor and action != "console.bundle_exported" for actor, action in actions
    )
    # A second export has nothing new for the peer.
    again = await console.client.post(
        "/console/operator/bundles/export", data={"peer": PEER, "csrf_token": token}
    )
    assert 'class="notice success nothing-pending"' in await again.text()

    # The peer imports it with its own courier and answers with receipts.
    peer_store = await console.federation.store(PEER)
    try:
        outcome = await offline_courier_for(
            console.federation.config(PEER),
            peer_store,
            console.federation.keyring(PEER),
            _now,
            GatewayMetrics(),
        ).import_bundle(bundle)
    finally:
        await peer_store.close()
    assert outcome.accepted == 1
    assert outcome.receipts_bundle is not None

    answer = await _import(console, outcome.receipts_bundle, token)
    page = await answer.text()
    assert answer.status == 200, page
    assert ("receipted", "1") in _COUNT.findall(page)
    row = await console.store.get_outbox(queued.message_id)
    assert row is not None
    assert row[0].state == "delivered"
    # The same file again: refused as replayed, nothing changes.
    answer = await _import(console, outcome.receipts_bundle, token)
    assert answer.status == 422
    assert _refused(await answer.text()) == "bundle_replayed"


async def test_an_envelopes_bundle_gives_its_receipts_once(console: ConsoleHarness) -> None:
    await console.sign_in(Role.ADMIN)
    data = seal_bundle(
        console.federation.keyring(PEER),
        recipient=NODE,
        kind=BundleKind.ENVELOPES,
        items=[b"\x00garbage"],
        bundle_id=uuid7(),
        created_at=_now(),
    )
    token = await console.csrf("/console/operator/bundles")
    answer = await _import(console, data, token)
    page = await answer.text()
    assert answer.status == 200, page
    assert 'data-kind="envelopes"' in page
    bundle_id = re.search(r'name="bundle_id" value="([0-9a-f-]+)"', page)
    assert bundle_id is not None
    form = {"bundle_id": bundle_id.group(1), "csrf_token": token}
    receipts = await console.client.post("/console/operator/bundles/receipts", data=form)
    assert receipts.status == 200
    assert receipts.headers["Cache-Control"] == "no-store"
    assert receipts.headers["Content-Disposition"].endswith('.receipts.blgb"')
    assert await receipts.read()
    # One download only.
    again = await console.client.post("/console/operator/bundles/receipts", data=form)
    assert again.status == 410
    assert "bundle-error" in await again.text()


def _peer_bundle(console: ConsoleHarness) -> tuple[bytes, uuid.UUID]:
    """A bundle from PEER to NODE carrying one alert sealed by PEER."""
    keyring = console.federation.keyring(PEER)
    now = _now()
    case = uuid.uuid4()
    sealed = seal(
        keyring,
        recipient=NODE,
        kind=Kind.HOTLINE_ALERT,
        case_id=case,
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=alert("KH-7", str(case)).SerializeToString()),
        created_at=now - timedelta(seconds=1),
        expires_at=now + timedelta(days=1),
    )
    bundle_id = uuid7()
    data = seal_bundle(
        keyring,
        recipient=NODE,
        kind=BundleKind.ENVELOPES,
        items=[sealed.data],
        bundle_id=bundle_id,
        created_at=now,
    )
    return data, bundle_id


async def test_a_tampered_bundle_stores_nothing_and_the_intact_one_is_taken(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OPERATOR, "km")
    token = await console.csrf("/console/operator/bundles")
    data, bundle_id = _peer_bundle(console)
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    answer = await _import(console, tampered, token)
    assert answer.status == 422
    assert _refused(await answer.text()) == "bundle_signature_invalid"
    assert await console.store.list_inbox(sender=PEER) == []
    assert not await console.store.bundle_imported(PEER, bundle_id)
    # The same bundle intact: taken, so the refusal was the tampering's.
    answer = await _import(console, data, token)
    page = await answer.text()
    assert answer.status == 200, page
    assert _COUNT.findall(page) == [("accepted", "1"), ("duplicates", "0")]
    assert len(await console.store.list_inbox(sender=PEER)) == 1
    assert await console.store.bundle_imported(PEER, bundle_id)


async def test_an_export_to_a_node_that_is_not_a_peer_is_refused(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OPERATOR)
    token = await console.csrf("/console/operator/bundles")
    answer = await console.client.post(
        "/console/operator/bundles/export", data={"peer": "xx-nowhere", "csrf_token": token}
    )
    assert answer.status == 400
    assert "Content-Disposition" not in answer.headers


async def test_a_declared_length_past_the_bound_is_refused_unread(
    small_console: ConsoleHarness,
) -> None:
    """Only the headers are sent: the answer comes before any of the body."""
    console = small_console
    await console.sign_in(Role.OPERATOR)
    url = console.client.make_url("/console/operator/bundles/import")
    cookie = f"blg_session={console.session_cookie()}"
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(
            (
                f"POST {url.path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
                f"Cookie: {cookie}\r\n"
                "Content-Type: multipart/form-data; boundary=b0undary\r\n"
                f"Content-Length: {SMALL_LIMIT * 4}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
    assert status_line.split()[1] == b"413"
