"""An attachment upload reserves only what it holds of its body against the listener's budget
(GuardedListener.streamed), so that a large upload in progress leaves room for envelope
batches. A real GuardedListener and a real database; the upload stalls mid-body."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web

from gateway.config import ListenerLimits
from gateway.federation.attachments import (
    ATTACHMENTS_PATH,
    HELD_BODY_BYTES,
    AttachmentEndpoint,
)
from gateway.federation.server import SENDER_HEADER, PeerAdmission
from gateway.ops.listener import GuardedListener
from gateway.ops.metrics import GatewayMetrics
from gateway.store import Store
from gateway.store.attachments import CHUNK_BYTES
from tests.federation.harness import free_port

BLO = "vn-gialai-blo"
BATCH_LIMIT = 16 * CHUNK_BYTES
BUDGET = 20 * CHUNK_BYTES


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"read": len(await request.read())})


async def _serve(store: Store, streamed: bool) -> AsyncIterator[tuple[int, GatewayMetrics]]:
    metrics = GatewayMetrics()
    listener = GuardedListener(
        "federation",
        ListenerLimits(max_body_bytes_in_flight=BUDGET),
        metrics,
        streamed={ATTACHMENTS_PATH: HELD_BODY_BYTES} if streamed else None,
    )
    endpoint = AttachmentEndpoint(
        store=store,
        # Plain HTTP on loopback: what is under test is the body budget, not the identity.
        peers={BLO: PeerAdmission(1000.0, 1000, False, 1000.0, 1000)},
        max_attachment_bytes=100 * CHUNK_BYTES,
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
    )
    app = web.Application(client_max_size=BATCH_LIMIT, middlewares=[listener.middleware])
    app.add_routes([*endpoint.routes(), web.post("/echo", _echo)])
    port = free_port()
    await listener.start(app, "127.0.0.1", port)
    try:
        yield port, metrics
    finally:
        await listener.stop()


@pytest.mark.parametrize(("streamed", "batch_status"), [(True, 200), (False, 503)])
async def test_a_stalled_upload_reserves_what_it_holds_not_its_length(
    store: Store, streamed: bool, batch_status: int
) -> None:
    async for port, metrics in _serve(store, streamed):
        size = 30 * CHUNK_BYTES
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                "PUT /federation/v1/attachments/big HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"{SENDER_HEADER}: {BLO}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Range: bytes 0-{size - 1}/{size}\r\nContent-Length: {size}\r\n\r\n"
            ).encode()
            + b"x" * 1000
        )
        await writer.drain()
        held = HELD_BODY_BYTES if streamed else BATCH_LIMIT
        for _ in range(200):
            value = metrics.registry.get_sample_value(
                "blg_listener_body_bytes_in_flight", {"listener": "federation"}
            )
            if value == held:
                break
            await asyncio.sleep(0.02)
        assert value == held
        # A batch of 15 MiB while the upload waits for its next bytes.
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{port}/echo", data=io.BytesIO(b"y" * (15 * CHUNK_BYTES))
            ) as answer,
        ):
            assert answer.status == batch_status
        writer.transport.abort()
