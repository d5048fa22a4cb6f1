"""The attachment transport (docs/PROTOCOL.md 7.4) over a real mutual-TLS listener and a real
database: uploads in pieces, resume after a dropped connection, the size limit, senders kept
apart, and memory bounded while a stream far larger than the bound goes through."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import os
import re
import ssl
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from gateway.federation.attachments import (
    OFFSET_HEADER,
    REASON_CODES,
    STATE_HEADER,
    AttachmentEndpoint,
)
from gateway.federation.server import SENDER_HEADER, PeerAdmission, server_ssl_context
from gateway.ops.metrics import GatewayMetrics
from gateway.store import Store
from gateway.store.attachments import CHUNK_BYTES, AttachmentKeyRef

BLO, RATANAKIRI, STRANGER = "vn-gialai-blo", "kh-ratanakiri-police", "kh-stungtreng-police"
LIMIT = 40 * CHUNK_BYTES
# A peer's streams not yet named by an envelope: one stream at the limit, and a little more.
QUOTA = LIMIT + CHUNK_BYTES
STREAM = os.urandom(3 * CHUNK_BYTES + 4321)
PIECE = 64 * 1024


@dataclass
class Node:
    """A receiving node's attachment endpoint on a real TLS listener, and its store."""

    url: str
    store: Store
    client_ssl: dict[str, ssl.SSLContext]
    metrics: GatewayMetrics

    def path(self, attachment_id: str) -> str:
        return f"{self.url}/federation/v1/attachments/{attachment_id}"


def _client_context(ca: trustme.CA, peer: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    ca.issue_cert(peer).configure_cert(context)
    return context


@pytest.fixture
async def node(store: Store, ca: trustme.CA, tmp_path: Path) -> AsyncIterator[Node]:
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    server_cert.private_key_pem.write_to_path(str(tmp_path / "cert.key"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    metrics = GatewayMetrics()
    endpoint = AttachmentEndpoint(
        store=store,
        peers={peer: PeerAdmission(1000.0, 1000, True, 1000.0, 1000) for peer in (BLO, RATANAKIRI)},
        max_attachment_bytes=LIMIT,
        metrics=metrics,
        clock=lambda: datetime.now(UTC),
        max_pending_bytes_per_peer=QUOTA,
    )
    app = web.Application()
    app.add_routes(endpoint.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(
        runner,
        "127.0.0.1",
        0,
        ssl_context=server_ssl_context(
            str(tmp_path / "cert.pem"), str(tmp_path / "cert.key"), str(tmp_path / "ca.pem")
        ),
    )
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    contexts = {peer: _client_context(ca, peer) for peer in (BLO, RATANAKIRI, STRANGER)}
    yield Node(f"https://127.0.0.1:{port}", store, contexts, metrics)
    await runner.cleanup()


async def _put(
    node: Node,
    attachment_id: str,
    first: int,
    data: bytes,
    total: int | str,
    *,
    sender: str = BLO,
    cert: str | None = None,
) -> tuple[int, dict[str, str], dict[str, object]]:
    """One PUT of data at first; (status, headers, JSON body or {})."""
    headers = {
        SENDER_HEADER: sender,
        "Content-Type": "application/octet-stream",
        "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}",
        "Content-Length": str(len(data)),
    }
    connector = aiohttp.TCPConnector(ssl=node.client_ssl[cert or sender])
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.put(node.path(attachment_id), data=io.BytesIO(data), headers=headers) as response,
    ):
        body = await response.json() if response.content_type == "application/json" else {}
        return response.status, dict(response.headers), body


async def _head(node: Node, attachment_id: str, sender: str = BLO) -> tuple[int, int]:
    connector = aiohttp.TCPConnector(ssl=node.client_ssl[sender])
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.head(node.path(attachment_id), headers={SENDER_HEADER: sender}) as response,
    ):
        return response.status, int(response.headers[OFFSET_HEADER])


async def _offset_reaching(node: Node, attachment_id: str, at_least: int) -> int:
    for _ in range(300):
        status, offset = await _head(node, attachment_id)
        if status == 200 and offset >= at_least:
            return offset
        await asyncio.sleep(0.05)
    raise AssertionError(f"offset of {attachment_id} never reached {at_least}")


async def _stored(node: Node, attachment_id: str, owner: str = BLO) -> bytes:
    key = AttachmentKeyRef(owner, "incoming", attachment_id)
    return b"".join([piece async for piece in node.store.read_attachment(key)])


async def test_a_stream_uploaded_in_pieces_is_stored_whole_and_completes(node: Node) -> None:
    assert await _head(node, "att-1") == (404, 0)
    cuts = [0, 1000, CHUNK_BYTES + 5, 2 * CHUNK_BYTES, len(STREAM)]
    for first, end in itertools.pairwise(cuts):
        status, headers, body = await _put(node, "att-1", first, STREAM[first:end], len(STREAM))
        assert status == 200, body
        assert body["offset"] == int(headers[OFFSET_HEADER]) == end
        assert await _head(node, "att-1") == (200, end)
    assert body["state"] == headers[STATE_HEADER] == "complete"
    assert await _stored(node, "att-1") == STREAM
    progress = await node.store.attachment_progress(AttachmentKeyRef(BLO, "incoming", "att-1"))
    assert progress is not None
    assert progress.stream_sha256 == hashlib.sha256(STREAM).digest()
    # A resend of a piece whose answer was lost changes nothing.
    status, _, body = await _put(node, "att-1", 0, STREAM[:1000], len(STREAM))
    assert (status, body["offset"], body["state"]) == (200, len(STREAM), "complete")


async def test_an_upload_cut_off_midway_resumes_from_the_offset(node: Node) -> None:
    sent = CHUNK_BYTES + CHUNK_BYTES // 2
    host, port = node.url.removeprefix("https://").split(":")
    _reader, writer = await asyncio.open_connection(
        host, int(port), ssl=node.client_ssl[BLO], server_hostname=host
    )
    writer.write(
        (
            "PUT /federation/v1/attachments/att-2 HTTP/1.1\r\n"
            f"Host: {host}\r\n{SENDER_HEADER}: {BLO}\r\n"
            "Content-Type: application/octet-stream\r\n"
            f"Content-Range: bytes 0-{len(STREAM) - 1}/{len(STREAM)}\r\n"
            f"Content-Length: {len(STREAM)}\r\n\r\n"
        ).encode()
        + STREAM[:sent]
    )
    await writer.drain()
    # The first row is committed as soon as it is read, while the request still runs.
    offset = await _offset_reaching(node, "att-2", CHUNK_BYTES)
    writer.transport.abort()  # the sender's process dies: no FIN, no rest of the body
    # What was read after that row is kept too, once the server sees the loss; the resume
    # below starts wherever HEAD says (an overlap with a late write is skipped, not doubled).
    status, offset = await _head(node, "att-2")
    assert status == 200
    assert CHUNK_BYTES <= offset <= sent
    status, _, body = await _put(node, "att-2", offset, STREAM[offset:], len(STREAM))
    assert (status, body["offset"], body["state"]) == (200, len(STREAM), "complete")
    assert await _stored(node, "att-2") == STREAM


# (Content-Range total, first byte, body length) -> the refusal, before any byte is stored.
REFUSALS = {
    "declared_total_over_limit": (LIMIT + 1, 0, 10, 413, "attachment_too_large"),
    "unknown_total_range_past_limit": ("*", LIMIT - 5, 10, 413, "attachment_too_large"),
    "gap_after_offset": (len(STREAM), 100, 10, 409, "attachment_offset_mismatch"),
    "range_past_total": (5, 0, 10, 400, "content_range_invalid"),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
async def test_refusals_name_their_reason_and_store_nothing(
    node: Node, case: tuple[int | str, int, int, int, str]
) -> None:
    total, first, length, expected_status, code = case
    status, headers, body = await _put(node, "att-3", first, b"x" * length, total)
    assert (status, body["error"]["code"]) == (expected_status, code)  # type: ignore[index]
    if code == "attachment_offset_mismatch":
        assert headers[OFFSET_HEADER] == "0"
    assert await _stored(node, "att-3") == b""


async def test_a_total_contradicting_the_declared_one_is_refused(node: Node) -> None:
    assert (await _put(node, "att-4", 0, STREAM[:100], len(STREAM)))[0] == 200
    status, headers, body = await _put(node, "att-4", 100, STREAM[100:200], len(STREAM) + 1)
    assert (status, body["error"]["code"]) == (409, "attachment_size_mismatch")  # type: ignore[index]
    assert headers[OFFSET_HEADER] == "100"


async def test_a_sender_reaches_only_its_own_streams(node: Node) -> None:
    assert (await _put(node, "att-5", 0, STREAM[:100], len(STREAM)))[0] == 200
    # Ratanakiri's certificate claiming to be the BLO: refused before the body is read.
    status, _, body = await _put(
        node, "att-5", 100, STREAM[100:200], len(STREAM), sender=BLO, cert=RATANAKIRI
    )
    assert (status, body["error"]["code"]) == (403, "client_certificate_required")  # type: ignore[index]
    # A node that is no peer at all.
    status, _, body = await _put(node, "att-5", 0, b"x", 1, sender=STRANGER)
    assert (status, body["error"]["code"]) == (403, "unknown_peer")  # type: ignore[index]
    # Ratanakiri as itself: the same id is its own, empty stream; the BLO's is untouched.
    assert await _head(node, "att-5", sender=RATANAKIRI) == (404, 0)
    status, _, body = await _put(node, "att-5", 0, b"other", 5, sender=RATANAKIRI)
    assert (status, body["state"]) == (200, "complete")
    assert await _stored(node, "att-5") == STREAM[:100]
    assert await _stored(node, "att-5", owner=RATANAKIRI) == b"other"


async def test_a_peer_holds_no_more_unnamed_streams_than_its_quota(node: Node) -> None:
    # Declared, not yet received, counts: a peer cannot reserve the disk by promising.
    assert (await _put(node, "big", 0, STREAM[:10], LIMIT))[0] == 200
    status, _, body = await _put(node, "more", 0, b"x" * 10, CHUNK_BYTES + 1)
    assert (status, body["error"]["code"]) == (413, "attachment_quota_exceeded")  # type: ignore[index]
    assert await node.store.attachment_progress(AttachmentKeyRef(BLO, "incoming", "more")) is None
    # Another peer's quota is its own; a stream in progress goes on.
    assert (await _put(node, "more", 0, b"x" * 10, 10, sender=RATANAKIRI))[0] == 200
    assert (await _put(node, "big", 10, STREAM[10:20], LIMIT))[0] == 200
    # Once an accepted envelope names the big stream, it no longer counts.
    async with node.store._pool.acquire() as connection:
        inbox_id = await connection.fetchval(
            "INSERT INTO inbox (sender, message_id, case_id, kind, envelope, envelope_sha256,"
            " receipt, created_at, received_at) VALUES ($1, gen_random_uuid(),"
            " gen_random_uuid(), 'victim_handover', '\\x00', '\\x00', '\\x00', now(), now())"
            " RETURNING id",
            BLO,
        )
        await connection.execute(
            "INSERT INTO inbox_attachments (inbox_id, position, sender, attachment_id,"
            " media_type, plaintext_size) VALUES ($1, 0, $2, 'big', 'application/pdf', 1)",
            inbox_id,
            BLO,
        )
    assert (await _put(node, "more", 0, b"x" * 10, CHUNK_BYTES + 1))[0] == 200


@pytest.mark.parametrize("attachment_id", ["a%2Fb", "x" * 129, "%C3%A9t%C3%A9"])
async def test_ids_outside_the_alphabet_are_refused(node: Node, attachment_id: str) -> None:
    status, _, body = await _put(node, attachment_id, 0, b"x", 1)
    assert (status, body["error"]["code"]) == (400, "attachment_id_invalid")  # type: ignore[index]


async def test_memory_stays_bounded_while_a_large_stream_goes_through(node: Node) -> None:
    # The client sends from a generator too, so everything traced here is the two sides'
    # working memory: far below the 32 MiB stream if neither holds it.
    size = 32 * CHUNK_BYTES
    block = os.urandom(PIECE)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // PIECE):
            yield block

    headers = {
        SENDER_HEADER: BLO,
        "Content-Type": "application/octet-stream",
        "Content-Range": f"bytes 0-{size - 1}/{size}",
        "Content-Length": str(size),
    }
    tracemalloc.start()
    try:
        connector = aiohttp.TCPConnector(ssl=node.client_ssl[BLO])
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.put(node.path("att-big"), data=body(), headers=headers) as response,
        ):
            answer = await response.json()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (response.status, answer["offset"], answer["state"]) == (200, size, "complete")
    # About 6.5 MiB measured, the same for 16 and 32 MiB streams: a row being read, its
    # copy for the database, asyncpg's encoding of it, the TLS buffers of both ends.
    assert peak < 12 * CHUNK_BYTES, f"peak {peak} bytes traced"
    progress = await node.store.attachment_progress(AttachmentKeyRef(BLO, "incoming", "att-big"))
    assert progress is not None
    assert progress.stream_sha256 == hashlib.sha256(block * (size // PIECE)).digest()


def test_the_protocol_document_lists_exactly_the_endpoints_reason_codes() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text()
    section = doc[doc.index("### 7.4 ") : doc.index("## 8. ")]
    listed = set(re.findall(r"^\| `([a-z_]+)` \| \d{3} \|", section, re.MULTILINE))
    assert listed == REASON_CODES
    source = (Path(__file__).resolve().parents[2] / "gateway/federation/attachments.py").read_text()
    used = set(re.findall(r'"((?:attachment|content_range|unsupported)_[a-z_]+)"', source))
    assert used - {"attachment_id"} == REASON_CODES  # less the path parameter's name
