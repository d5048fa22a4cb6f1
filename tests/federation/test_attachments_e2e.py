"""Attachments end to end between real `gateway run` processes (issue 11 item 1).

The proof the issue asks for: a victim handover from vn-gialai-blo to kh-ratanakiri-police
with two photos and a 100 MiB scan, uploaded by a local system through a streaming client.
The receiver is killed (SIGKILL) while the scan is being pushed, when its HEAD shows part of
it held, and started again; the sender resumes from the offset, the envelope is accepted only
once every stream is held whole and verified, and the sender's receipt covers the three
streams (field 10). Each gateway process's peak RSS, sampled by psutil in a thread, stays
under its idle RSS + 64 MiB: neither side ever holds a stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from google.protobuf import json_format

from gateway.crypto import EnvelopeLimits, open_envelope, verify_receipt
from gateway.federation.attachments import ATTACHMENTS_PATH, OFFSET_HEADER
from gateway.federation.server import SENDER_HEADER
from gateway.federation.streams import decrypted
from gateway.store import Store
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import canonical
from tests.federation.harness import Federation, local_client

BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"
MIB = 1024 * 1024
SCAN_BYTES = int(os.environ.get("BLG_TEST_SCAN_MIB", "100")) * MIB
RSS_HEADROOM = 64 * MIB
CANONICAL_JSON = "application/vnd.blg.canonical+json"


class RssSampler:
    """Peak RSS of a process since start, sampled in a background thread."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.idle = self._process.memory_info().rss
        self.peak = self.idle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _random_file(path: Path, size: int) -> str:
    """Random bytes written to path one MiB at a time; returns their SHA-256 (hex)."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            piece = os.urandom(min(MIB, left))
            digest.update(piece)
            out.write(piece)
            left -= len(piece)
    return digest.hexdigest()


async def _file_body(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while piece := source.read(256 * 1024):
            yield piece


async def upload(
    federation: Federation, node: str, token: str, attachment_id: str, media_type: str, path: Path
) -> tuple[int, dict[str, Any]]:
    """PUT a file to the node's local API as a streamed body (never read whole here)."""
    url = f"{federation.api_url(node)}/api/v1/attachments/{attachment_id}"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": media_type,
        "Content-Length": str(path.stat().st_size),
    }
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, data=_file_body(path), headers=headers) as response,
    ):
        return response.status, await response.json()


def handover(photos: list[str], scans: list[str]) -> canonical.Message:
    message = canonical.Message(
        sender_reference="BLO-HO-2026-7",
        action=canonical.ACTION_PROPOSE,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        victim_handover=canonical.VictimHandover(
            border_gate="VN-LETHANH", note="Hai anh em", attachment_ids=scans
        ),
    )
    victim = message.victim_handover.victims.add()
    victim.person.name = "Rơ Mah H"
    victim.person.attachment_ids.extend(photos)
    message.issued_at.GetCurrentTime()
    return message


async def post_message(
    federation: Federation, node: str, token: str, message: canonical.Message, to: str
) -> tuple[int, dict[str, Any]]:
    url = f"{federation.api_url(node)}/api/v1/messages?to={to}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": CANONICAL_JSON}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=json_format.MessageToJson(message).encode(), headers=headers
        ) as response,
    ):
        return response.status, await response.json()


async def head_offset(federation: Federation, sender: str, receiver: str, wire_id: str) -> int:
    """What the receiver's HEAD says it holds of sender's stream wire_id (0 when down)."""
    url = (
        f"https://127.0.0.1:{federation.nodes[receiver].federation_port}"
        + ATTACHMENTS_PATH.format(attachment_id=wire_id)
    )
    connector = aiohttp.TCPConnector(ssl=federation.client_ssl(as_node=sender))
    try:
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.head(url, headers={SENDER_HEADER: sender}) as response,
        ):
            return int(response.headers.get(OFFSET_HEADER, "0"))
    except aiohttp.ClientError:
        return 0


async def _plaintext_sha256(store: Store, ref: AttachmentKeyRef, key: Any) -> str:
    digest = hashlib.sha256()
    async for piece in decrypted(store, ref, key):
        digest.update(piece)
    return digest.hexdigest()


async def test_a_handover_with_photos_and_a_100_mib_scan_survives_a_kill_9_of_the_receiver(
    federation: Federation, tmp_path: Path
) -> None:
    token, client = local_client("records", ["canonical-json"])
    await federation.add(BLO, RATANAKIRI)
    federation.sections[BLO] = {"local_clients": [client]}
    for node in (BLO, RATANAKIRI):
        federation.write_config(node)
    sender_process = federation.start(BLO)
    await federation.wait_ready(BLO)
    sender_rss = RssSampler(sender_process.pid)

    files = {
        "photo-1": (tmp_path / "photo-1.jpg", 300 * 1024, "image/jpeg"),
        "photo-2": (tmp_path / "photo-2.png", 700 * 1024, "image/png"),
        "scan-1": (tmp_path / "scan-1.pdf", SCAN_BYTES, "application/pdf"),
    }
    sha = {aid: _random_file(path, size) for aid, (path, size, _) in files.items()}
    for aid, (path, size, media_type) in files.items():
        status, answer = await upload(federation, BLO, token, aid, media_type, path)
        assert status == 201, answer
        assert answer == {
            "attachment_id": aid,
            "size": size,
            "sha256": sha[aid],
            "media_type": media_type,
        }
    # The same content again is the same upload; other content under the id is refused.
    status, answer = await upload(
        federation, BLO, token, "photo-1", "image/jpeg", files["photo-1"][0]
    )
    assert status == 200, answer
    status, answer = await upload(
        federation, BLO, token, "photo-1", "image/jpeg", files["photo-2"][0]
    )
    assert (status, answer["error"]["code"]) == (409, "attachment_exists")

    # The receiver is down while the message is queued: the push starts when it comes up.
    status, answer = await post_message(
        federation, BLO, token, handover(["photo-1", "photo-2"], ["scan-1"]), RATANAKIRI
    )
    assert status == 202, answer
    [queued] = answer["messages"]

    sender_store = await federation.store(BLO)
    receiver_store = await federation.store(RATANAKIRI)
    try:
        outbox_id = await _outbox_id(sender_store, queued["id"])
        streams = await sender_store.outbox_streams([outbox_id])
        assert len(streams) == 3
        scan = max(streams, key=lambda s: s.length)
        assert scan.length > SCAN_BYTES

        receiver_process = federation.start(RATANAKIRI)
        await federation.wait_ready(RATANAKIRI)
        receiver_rss = RssSampler(receiver_process.pid)
        deadline = time.monotonic() + 120
        while True:
            held = await head_offset(federation, BLO, RATANAKIRI, scan.attachment_id)
            if 0 < held < scan.length:
                break
            assert held < scan.length, "the scan was pushed whole before the kill"
            assert time.monotonic() < deadline, "the scan's push never started"
            await asyncio.sleep(0.005)
        federation.kill(RATANAKIRI)
        receiver_rss.stop()
        progress = await receiver_store.attachment_progress(
            AttachmentKeyRef(BLO, "incoming", scan.attachment_id)
        )
        assert progress is not None
        assert 0 < progress.received < scan.length
        assert await receiver_store.list_inbox() == []

        restarted = federation.start(RATANAKIRI)
        await federation.wait_ready(RATANAKIRI)
        restarted_rss = RssSampler(restarted.pid)
        await federation.wait_delivered(BLO, 1, timeout=300)
        restarted_rss.stop()
        sender_rss.stop()

        found = await sender_store.get_outbox(uuid.UUID(queued["id"]))
        assert found is not None
        outbox_row, envelope_data, receipt = found
        assert outbox_row.state == "delivered"
        assert receipt is not None
        facts = verify_receipt(
            receipt,
            receiver=RATANAKIRI,
            receiver_keys=federation.keyring(BLO).peer_keys(RATANAKIRI),
            envelope_data=envelope_data,
        )
        assert facts.accepted
        assert list(facts.attachment_sha256) == [s.ciphertext_sha256 for s in streams]

        [inbox_row] = await receiver_store.list_inbox()
        links = await receiver_store.inbox_attachments(inbox_row.id)
        assert [link.attachment_id for link in links] == [s.attachment_id for s in streams]
        stored = await receiver_store.get_inbox(inbox_row.message_id)
        assert stored is not None
        assert stored[1] is not None
        envelope_opened = open_envelope(
            federation.keyring(RATANAKIRI),
            stored[1],
            now=datetime.now(UTC),
            limits=EnvelopeLimits(),
        )
        message = canonical.Message.FromString(envelope_opened.payload.message)
        keys = list(envelope_opened.payload.attachments)
        # The recipient's copy names the wire ids, never the client's own ids.
        assert list(message.victim_handover.victims[0].person.attachment_ids) == [
            keys[0].attachment_id,
            keys[1].attachment_id,
        ]
        assert list(message.victim_handover.attachment_ids) == [keys[2].attachment_id]
        by_position = dict(zip(["photo-1", "photo-2", "scan-1"], keys, strict=True))
        for aid, key in by_position.items():
            ref = AttachmentKeyRef(BLO, "incoming", key.attachment_id)
            progress = await receiver_store.attachment_progress(ref)
            assert progress is not None
            assert progress.state == "verified"
            assert key.media_type == files[aid][2]
            assert await _plaintext_sha256(receiver_store, ref, key) == sha[aid]
    finally:
        await sender_store.close()
        await receiver_store.close()

    for name, sampler in (
        ("sender", sender_rss),
        ("receiver", receiver_rss),
        ("restarted receiver", restarted_rss),
    ):
        assert sampler.peak - sampler.idle < RSS_HEADROOM, (name, sampler.idle, sampler.peak)


async def _outbox_id(store: Store, message_id: str) -> int:
    async with store._pool.acquire() as connection:
        return int(
            await connection.fetchval("SELECT id FROM outbox WHERE message_id = $1", message_id)
        )


async def test_a_sender_killed_mid_push_resumes_from_the_receivers_offset(
    federation: Federation, tmp_path: Path
) -> None:
    """The other side of "resumable after a kill -9 of either side": the sender dies while
    pushing; restarted, it asks HEAD and goes on from there, and nothing arrives twice."""
    token, client = local_client("records", ["canonical-json"])
    await federation.add(BLO, RATANAKIRI)
    federation.sections[BLO] = {"local_clients": [client]}
    for node in (BLO, RATANAKIRI):
        federation.write_config(node)
    federation.start(RATANAKIRI)
    federation.start(BLO)
    await federation.wait_ready(RATANAKIRI)
    await federation.wait_ready(BLO)
    scan = tmp_path / "scan.pdf"
    digest = _random_file(scan, 48 * MIB)
    status, answer = await upload(federation, BLO, token, "scan-9", "application/pdf", scan)
    assert status == 201, answer
    status, answer = await post_message(
        federation, BLO, token, handover([], ["scan-9"]), RATANAKIRI
    )
    assert status == 202, answer
    [queued] = answer["messages"]
    sender_store = await federation.store(BLO)
    receiver_store = await federation.store(RATANAKIRI)
    try:
        [stream] = await sender_store.outbox_streams([await _outbox_id(sender_store, queued["id"])])
        deadline = time.monotonic() + 120
        while True:
            held = await head_offset(federation, BLO, RATANAKIRI, stream.attachment_id)
            if 0 < held < stream.length:
                break
            assert held < stream.length, "the scan was pushed whole before the kill"
            assert time.monotonic() < deadline, "the scan's push never started"
            await asyncio.sleep(0.005)
        federation.kill(BLO)
        federation.start(BLO)
        await federation.wait_ready(BLO)
        await federation.wait_delivered(BLO, 1, timeout=300)
        [row] = await receiver_store.list_inbox()
        stored = await receiver_store.get_inbox(row.message_id)
        assert stored is not None
        assert stored[1] is not None
        [key] = open_envelope(
            federation.keyring(RATANAKIRI),
            stored[1],
            now=datetime.now(UTC),
            limits=EnvelopeLimits(),
        ).payload.attachments
        ref = AttachmentKeyRef(BLO, "incoming", key.attachment_id)
        assert await _plaintext_sha256(receiver_store, ref, key) == digest
    finally:
        await sender_store.close()
        await receiver_store.close()
