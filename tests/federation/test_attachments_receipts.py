"""The sender counts a message with attachments as delivered only when its receipt covers
the streams it pushed (docs/PROTOCOL.md 7.4, "Delivered"), against a real `gateway run`.

The peer is a small aiohttp server with the receiver's real certificate and keys. It claims
to hold every stream (HEAD: complete) and signs honest acceptances, but without field 10
(attachment_sha256) for the message marked `short`: the sender must not mark that message
delivered, must audit each such answer, and gives it up (dead) like any message whose
receipts never verify; a message whose receipt names the streams is delivered.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from gateway.crypto import EnvelopeLimits, Keyring, open_envelope, sign_receipt
from gateway.federation.attachments import ATTACHMENTS_PATH, OFFSET_HEADER, STATE_HEADER
from gateway.federation.sender import RetryPolicy
from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from gateway.wire import canonical, envelope
from tests.federation.harness import Federation, local_client
from tests.federation.test_attachments_e2e import handover, post_message, upload

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


class ForgetfulPeer:
    """Holds every stream, it says; leaves field 10 out of the receipts of `short` ones."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.short: set[str] = set()
        self.sent: Counter[uuid.UUID] = Counter()

    async def head(self, request: web.Request) -> web.Response:
        return web.Response(headers={OFFSET_HEADER: "1", STATE_HEADER: "complete"})

    async def post(self, request: web.Request) -> web.Response:
        batch = envelope.EnvelopeBatch.FromString(await request.read())
        now = datetime.now(UTC)
        receipts = []
        for data in batch.envelopes:
            opened = open_envelope(self.keyring, data, now=now, limits=EnvelopeLimits())
            message = canonical.Message.FromString(opened.payload.message)
            self.sent[opened.header.message_id] += 1
            hashes = [key.ciphertext_sha256 for key in opened.payload.attachments]
            receipts.append(
                envelope.Receipt.FromString(
                    sign_receipt(
                        self.keyring,
                        envelope_data=data,
                        message_id=opened.header.message_id,
                        sender=request.headers[SENDER_HEADER],
                        received_at=now,
                        attachment_sha256=[] if message.sender_reference in self.short else hashes,
                    )
                )
            )
        answer = envelope.ReceiptBatch(receipts=receipts).SerializeToString()
        return web.Response(body=answer, content_type=PROTOBUF)


@asynccontextmanager
async def serving(federation: Federation, peer: ForgetfulPeer) -> AsyncIterator[None]:
    folder = federation.root / RATANAKIRI
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(folder / "cert.pem"), str(folder / "cert.key"))
    app = web.Application()
    app.add_routes([web.post(ENVELOPES_PATH, peer.post), web.head(ATTACHMENTS_PATH, peer.head)])
    runner = web.AppRunner(app)
    await runner.setup()
    port = federation.nodes[RATANAKIRI].federation_port
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def test_a_receipt_that_does_not_cover_the_attachments_is_not_delivery(
    federation: Federation, tmp_path: Path
) -> None:
    federation.retry = {"initial_backoff": "50ms", "max_backoff": "200ms"}
    token, client = local_client("records", ["canonical-json"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [client]}
    federation.write_config(POLICE)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(os.urandom(50_000))
    peer = ForgetfulPeer(federation.keyring(RATANAKIRI))
    peer.short.add("short")
    async with serving(federation, peer):
        federation.start(POLICE)
        await federation.wait_ready(POLICE)
        assert (await upload(federation, POLICE, token, "p-1", "image/jpeg", photo))[0] == 201
        ids = []
        for reference in ("short", "whole"):
            message = handover(["p-1"], [])
            message.sender_reference = reference
            status, answer = await post_message(federation, POLICE, token, message, RATANAKIRI)
            assert status == 202, answer
            ids.append(uuid.UUID(answer["messages"][0]["id"]))
        short, whole = ids
        store = await federation.store(POLICE)
        try:
            deadline = time.monotonic() + 60
            while True:
                states = {
                    row.message_id: (row.state, row.last_error) for row in await store.list_outbox()
                }
                if states[short][0] == "dead" and states[whole][0] == "delivered":
                    break
                assert time.monotonic() < deadline, states
                await asyncio.sleep(0.1)
            assert states[short] == ("dead", "invalid_receipt: receipt_attachments_mismatch")
            assert peer.sent[short] == RetryPolicy().max_invalid_receipts
            assert peer.sent[whole] == 1
            entries = await store.list_audit(limit=1000)
            mismatches = [e.subject for e in entries if e.action == "outbox.attachments_mismatch"]
            assert mismatches == [str(short)] * peer.sent[short]
        finally:
            await store.close()
