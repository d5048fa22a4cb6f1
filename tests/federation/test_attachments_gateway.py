"""The attachment transport as mounted by `gateway run`: a real receiving process, killed
(SIGKILL) between two pieces of a stream, restarted, and resumed from what HEAD reports."""

from __future__ import annotations

import hashlib
import io
import os

import aiohttp

from gateway.federation.attachments import OFFSET_HEADER
from gateway.federation.server import SENDER_HEADER
from gateway.store.attachments import CHUNK_BYTES, AttachmentKeyRef
from tests.federation.harness import Federation

BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"
STREAM = os.urandom(2 * CHUNK_BYTES + 777)


async def _request(
    federation: Federation, method: str, first: int = 0, data: bytes = b""
) -> tuple[int, dict[str, str]]:
    port = federation.nodes[RATANAKIRI].federation_port
    url = f"https://127.0.0.1:{port}/federation/v1/attachments/scan-1"
    headers = {SENDER_HEADER: BLO}
    if method == "PUT":
        headers |= {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {first}-{first + len(data) - 1}/{len(STREAM)}",
            "Content-Length": str(len(data)),
        }
    connector = aiohttp.TCPConnector(ssl=federation.client_ssl(as_node=BLO))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.request(
            method, url, headers=headers, data=io.BytesIO(data) if data else None
        ) as response,
    ):
        return response.status, dict(response.headers)


async def test_a_stream_resumes_across_a_kill_of_the_receiver(federation: Federation) -> None:
    await federation.add(BLO, RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    assert (await _request(federation, "HEAD"))[0] == 404

    first_piece = CHUNK_BYTES + 100
    status, headers = await _request(federation, "PUT", 0, STREAM[:first_piece])
    assert (status, headers[OFFSET_HEADER]) == (200, str(first_piece))
    federation.kill(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)

    status, headers = await _request(federation, "HEAD")
    assert (status, headers[OFFSET_HEADER]) == (200, str(first_piece))
    status, headers = await _request(federation, "PUT", first_piece, STREAM[first_piece:])
    assert (status, headers[OFFSET_HEADER]) == (200, str(len(STREAM)))

    store = await federation.store(RATANAKIRI)
    try:
        key = AttachmentKeyRef(BLO, "incoming", "scan-1")
        progress = await store.attachment_progress(key)
        assert progress is not None
        assert progress.state == "complete"
        assert progress.stream_sha256 == hashlib.sha256(STREAM).digest()
        assert b"".join([piece async for piece in store.read_attachment(key)]) == STREAM
    finally:
        await store.close()
