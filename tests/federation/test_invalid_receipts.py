"""A peer that answers with receipts that do not verify, against a real `gateway run` sender.

The hostile peer is a small aiohttp server on 127.0.0.1 holding the peer's real TLS
certificate and keys: it signs honest receipts for every message but one, and for that one a
receipt signed by a key the sender does not know. The sender must count those answers, give
the message up (dead) after RetryPolicy.max_invalid_receipts of them, and keep delivering the
rest of the peer's queue without pausing.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aiohttp import web

from gateway.crypto import EnvelopeRejected, Keyring, OwnKeyPair, parse_header, sign_receipt
from gateway.federation.sender import RetryPolicy
from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from gateway.wire import envelope
from tests.federation.harness import KEY_VALIDITY, Federation, alert

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
GIVE_UP_AFTER = RetryPolicy().max_invalid_receipts


class HostilePeer:
    """Answers every batch with one receipt per envelope; `poisoned` ones are forged."""

    def __init__(self, honest: Keyring, forger: Keyring) -> None:
        self.honest = honest
        self.forger = forger
        self.poisoned: set[uuid.UUID] = set()
        self.seen: Counter[uuid.UUID] = Counter()

    async def post(self, request: web.Request) -> web.Response:
        batch = envelope.EnvelopeBatch.FromString(await request.read())
        now = datetime.now(UTC)
        receipts = []
        for data in batch.envelopes:
            try:
                _, header = parse_header(data)
            except EnvelopeRejected:
                raise web.HTTPBadRequest() from None
            self.seen[header.message_id] += 1
            signer = self.forger if header.message_id in self.poisoned else self.honest
            receipts.append(
                envelope.Receipt.FromString(
                    sign_receipt(
                        signer,
                        envelope_data=data,
                        message_id=header.message_id,
                        sender=request.headers[SENDER_HEADER],
                        received_at=now,
                    )
                )
            )
        answer = envelope.ReceiptBatch(receipts=receipts).SerializeToString()
        return web.Response(body=answer, content_type=PROTOBUF)


@asynccontextmanager
async def serving(federation: Federation, peer: HostilePeer) -> AsyncIterator[None]:
    folder = federation.root / RATANAKIRI
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(folder / "cert.pem"), str(folder / "cert.key"))
    app = web.Application(client_max_size=16 * 1024**2)
    app.add_routes([web.post(ENVELOPES_PATH, peer.post)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(
        runner, "127.0.0.1", federation.nodes[RATANAKIRI].federation_port, ssl_context=context
    )
    await site.start()
    try:
        yield
    finally:
        await runner.cleanup()


async def _states(federation: Federation) -> dict[uuid.UUID, tuple[str, str | None]]:
    store = await federation.store(POLICE)
    try:
        return {row.message_id: (row.state, row.last_error) for row in await store.list_outbox()}
    finally:
        await store.close()


async def _wait_final(federation: Federation, ids: list[uuid.UUID], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = await _states(federation)
        if all(states[i][0] in ("delivered", "dead") for i in ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not final in {timeout}s: {await _states(federation)}")


async def test_a_message_whose_receipts_never_verify_dies_and_the_feed_flows_on(
    federation: Federation,
) -> None:
    federation.retry = {"initial_backoff": "50ms", "max_backoff": "200ms", "batch_size": 100}
    await federation.add(POLICE, RATANAKIRI)
    # Ratanakiri is never started: the hostile server takes its port, certificate and keys,
    # except for the poisoned message, which it "signs" with a key the police do not know.
    peer = HostilePeer(
        federation.keyring(RATANAKIRI),
        Keyring(RATANAKIRI, [OwnKeyPair.generate("k1", KEY_VALIDITY)], {}),
    )
    async with serving(federation, peer):
        [poisoned] = await federation.send(POLICE, RATANAKIRI, [alert("TB-0")])
        peer.poisoned.add(poisoned.message_id)
        behind = await federation.send(POLICE, RATANAKIRI, [alert("TB-1"), alert("TB-2")])
        federation.start(POLICE)
        await federation.wait_ready(POLICE)
        await _wait_final(federation, [poisoned.message_id, *(q.message_id for q in behind)])
        # Messages queued after the poisoned one died still go at once: no pause, no backoff
        # left over (the last answer was a success).
        later = await federation.send(POLICE, RATANAKIRI, [alert("TB-3")])
        await _wait_final(federation, [later[0].message_id], timeout=10)

    states = await _states(federation)
    assert states[poisoned.message_id] == ("dead", "invalid_receipt: bad_signature")
    assert {states[q.message_id][0] for q in [*behind, *later]} == {"delivered"}
    # Sent exactly as often as the policy allows, then never again.
    assert peer.seen[poisoned.message_id] == GIVE_UP_AFTER
    assert '"event": "worker_paused"' not in federation.log_tail(POLICE)
    store = await federation.store(POLICE)
    try:
        assert (await store.verify_audit()).intact
        actions = [entry.action for entry in await store.list_audit(limit=1000)]
        assert actions.count("outbox.dead") == 1
    finally:
        await store.close()
