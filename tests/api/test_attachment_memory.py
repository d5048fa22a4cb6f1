"""A 32 MiB attachment download holds a bounded amount of memory (tracemalloc, every thread):
the stored rows are read one at a time, decrypted on a worker thread into a temporary file,
and the file is streamed out in pieces. The local API here is the real LocalApi over the
node's real config and PostgreSQL database, served by aiohttp over real HTTP."""

from __future__ import annotations

import hashlib
import tempfile
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.api.routes import LocalApi, api_clients, error_middleware
from gateway.components import dispatcher_for
from gateway.crypto import encrypt_attachment, seal
from gateway.documents import DocumentDecoder
from gateway.store import IncomingEnvelope
from gateway.store.attachments import CHUNK_BYTES, AttachmentKeyRef
from gateway.wire import Kind, envelope, uuid7
from tests.federation.harness import Federation, alert, local_client

BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"
SIZE = 32 * 1024 * 1024
# Far below the 32 MiB a download held whole would take; the run measures about 4 MiB.
PEAK_BOUND = 12 * 1024 * 1024


class Noise:
    """Deterministic incompressible plaintext, made as it is read (never held whole)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.counter = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1, /) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        out = bytearray()
        while len(out) < size:
            self.counter += 1
            out += hashlib.sha512(self.counter.to_bytes(8, "big")).digest()
        data = bytes(out[:size])
        self.left -= len(data)
        self.digest.update(data)
        return data


async def test_a_32_mib_download_holds_a_bounded_amount_of_memory(
    federation: Federation, tmp_path: Path
) -> None:
    token, entry = local_client("case-system", ["canonical-json"])
    await federation.add(BLO, RATANAKIRI)
    federation.sections[RATANAKIRI] = {"local_clients": [entry]}
    federation.write_config(RATANAKIRI)
    config = federation.config(RATANAKIRI)
    store = await federation.store(RATANAKIRI)
    source = Noise(SIZE)
    attachment_id = str(uuid.uuid4())
    with tempfile.TemporaryFile(dir=tmp_path) as stream:
        key = encrypt_attachment(
            source, stream, attachment_id=attachment_id, media_type="application/pdf"
        )
        stream.seek(0)
        ref = AttachmentKeyRef(BLO, "incoming", attachment_id)
        total, offset = stream.seek(0, 2), 0
        stream.seek(0)
        while piece := stream.read(CHUNK_BYTES):
            await store.append_attachment(
                ref, offset, piece, declared_size=total, max_bytes=total, now=datetime.now(UTC)
            )
            offset += len(piece)
    assert (await store.complete_attachment(ref, datetime.now(UTC))).state == "complete"
    message = alert("KH-MEM")
    case = uuid.uuid4()
    message.case_id = str(case)
    now = datetime.now(UTC)
    sealed = seal(
        federation.keyring(BLO),
        recipient=RATANAKIRI,
        kind=Kind.HOTLINE_ALERT,
        case_id=case,
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString(), attachments=[key]),
        created_at=now - timedelta(seconds=1),
        expires_at=now + timedelta(days=1),
    )
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender=BLO,
                message_id=sealed.header.message_id,
                case_id=case,
                kind=Kind.HOTLINE_ALERT.value,
                envelope=sealed.data,
                envelope_sha256=sealed.sha256,
                receipt=b"receipt",
                created_at=sealed.header.created_at,
                received_at=now,
                handling="restricted",
            )
        ]
    )
    decoder = DocumentDecoder()
    api = LocalApi(
        clients=api_clients(config.local_clients),
        store=store,
        keyring=federation.keyring(RATANAKIRI),
        dispatcher=dispatcher_for(config, store, lambda: datetime.now(UTC)),
        decoder=decoder,
        attachments=None,
    )
    app = web.Application(middlewares=[error_middleware])
    app.add_routes(api.routes())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        received = hashlib.sha256()
        tracemalloc.start()
        try:
            response = await client.get(
                f"/api/v1/inbox/{sealed.header.message_id}/attachments/{attachment_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status == 200, await response.text()
            length = 0
            async for piece in response.content.iter_chunked(64 * 1024):
                received.update(piece)
                length += len(piece)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert length == SIZE
        assert received.digest() == source.digest.digest()
        assert peak < PEAK_BOUND, f"peak {peak / 2**20:.1f} MiB"
    finally:
        await client.close()
        await store.close()
