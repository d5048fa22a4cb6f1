"""Attachment refusals through real gateway processes (issue 11 item 1), one table each.

Local API: an unknown attachment id (or another client's), an upload over the limit (by its
Content-Length, and a chunked one while reading), a media type not allowed, a bad id: each
refused with its reason code naming the field, and nothing stored or queued.

Receiver (docs/PROTOCOL.md 8.2 step 8), with envelopes sealed here as vn-gialai-blo: a
stream never pushed, or pushed in part, is `attachment_incomplete` (retryable: once pushed,
the same envelope is accepted and its receipt names the stream); a stream whose bytes are
not the key's, or that does not decrypt under the key, is `attachment_mismatch`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from gateway.crypto import encrypt_attachment, seal, verify_receipt
from gateway.federation.attachments import ATTACHMENTS_PATH, OCTET_STREAM
from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import Kind, envelope, uuid7
from tests.federation.harness import Federation, local_client, upload_named_attachments
from tests.federation.test_attachments_e2e import handover, post_message

BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"
LIMIT = 1024 * 1024
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners" / "vn-police-json" / "samples"


async def _put(
    federation: Federation,
    token: str,
    attachment_id: str,
    media_type: str,
    body: bytes,
    *,
    chunked: bool = False,
) -> tuple[int, str]:
    url = f"{federation.api_url(BLO)}/api/v1/attachments/{attachment_id}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": media_type}

    async def pieces() -> AsyncIterator[bytes]:
        for at in range(0, len(body), 64 * 1024):
            yield body[at : at + 64 * 1024]

    async with (
        aiohttp.ClientSession() as session,
        session.put(
            url, data=pieces() if chunked else io.BytesIO(body), headers=headers
        ) as response,
    ):
        answer = await response.json()
        code = answer["error"]["code"] if "error" in answer else ""
        return response.status, code


async def test_the_local_api_refuses_what_it_cannot_send(federation: Federation) -> None:
    token, client = local_client("records", ["canonical-json"])
    other_token, other = local_client("clerk", ["canonical-json"])
    await federation.add(BLO, RATANAKIRI)
    federation.sections[BLO] = {
        "local_clients": [client, other],
        "limits": {"max_attachment_bytes": "1MiB"},
    }
    federation.write_config(BLO)
    federation.start(BLO)
    await federation.wait_ready(BLO)

    assert await _put(federation, other_token, "theirs", "image/jpeg", b"\xff\xd8 photo") == (
        201,
        "",
    )
    uploads: list[tuple[str, str, str, bytes, bool, int, str]] = [
        # (case, id, media type, body, chunked, status, code)
        (
            "over_limit_declared",
            "big-1",
            "image/jpeg",
            os.urandom(LIMIT + 1),
            False,
            413,
            "attachment_too_large",
        ),
        (
            "over_limit_chunked",
            "big-2",
            "image/jpeg",
            os.urandom(LIMIT + 1),
            True,
            413,
            "attachment_too_large",
        ),
        ("media_type", "doc-1", "text/html", b"<html>", False, 415, "unsupported_media_type"),
        ("bad_id", "a%2Fb", "image/png", b"png", False, 400, "attachment_id_invalid"),
        ("at_limit", "edge-1", "application/pdf", os.urandom(LIMIT), True, 201, ""),
    ]
    for case, aid, media_type, body, chunked, status, code in uploads:
        assert await _put(federation, token, aid, media_type, body, chunked=chunked) == (
            status,
            code,
        ), case
    messages = {
        "unknown_id": (handover([], ["never-uploaded"]), "victim_handover.attachment_ids[0]"),
        "another_clients_upload": (
            handover(["theirs"], []),
            "victim_handover.victims[0].person.attachment_ids[0]",
        ),
        "refused_upload": (handover([], ["edge-1", "big-2"]), "victim_handover.attachment_ids[1]"),
    }
    for case, (message, field) in messages.items():
        status, answer = await post_message(federation, BLO, token, message, RATANAKIRI)
        assert (status, answer["error"]["code"]) == (422, "attachment_unknown"), case
        assert answer["error"]["message"].startswith(f"{field}:"), (case, answer)

    store = await federation.store(BLO)
    try:
        for aid in ("big-1", "big-2", "doc-1"):
            assert await store.staged_attachment("records", aid) is None
        assert await store.list_outbox(limit=10) == []
        staged = await store.staged_attachment("records", "edge-1")
        assert staged is not None
        assert staged.complete
    finally:
        await store.close()


def _stream(attachment_id: str, size: int = 300_000) -> tuple[bytes, envelope.AttachmentKey]:
    out = io.BytesIO()
    key = encrypt_attachment(
        io.BytesIO(os.urandom(size)), out, attachment_id=attachment_id, media_type="image/jpeg"
    )
    return out.getvalue(), key


async def _push(federation: Federation, attachment_id: str, data: bytes, end: int) -> int:
    url = f"https://127.0.0.1:{federation.nodes[RATANAKIRI].federation_port}" + (
        ATTACHMENTS_PATH.format(attachment_id=attachment_id)
    )
    headers = {
        SENDER_HEADER: BLO,
        "Content-Type": OCTET_STREAM,
        "Content-Range": f"bytes 0-{end - 1}/{len(data)}",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, data=data[:end], headers=headers, ssl=federation.client_ssl(BLO)) as r,
    ):
        return r.status


async def _post(federation: Federation, data: bytes) -> envelope.Receipt:
    url = f"https://127.0.0.1:{federation.nodes[RATANAKIRI].federation_port}{ENVELOPES_PATH}"
    body = envelope.EnvelopeBatch(envelopes=[data]).SerializeToString()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data=io.BytesIO(body),
            headers={"Content-Type": PROTOBUF, SENDER_HEADER: BLO},
            ssl=federation.client_ssl(BLO),
        ) as response,
    ):
        assert response.status == 200, await response.text()
        [receipt] = envelope.ReceiptBatch.FromString(await response.read()).receipts
        return receipt


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def _other_key(key: envelope.AttachmentKey) -> envelope.AttachmentKey:
    return envelope.AttachmentKey(
        attachment_id=key.attachment_id,
        key=bytes(32),
        ciphertext_sha256=key.ciphertext_sha256,
        plaintext_size=key.plaintext_size,
        media_type=key.media_type,
    )


# (what is pushed of the stream, the key the envelope carries) -> the receipt's verdict.
Case = tuple[
    Callable[[bytes], tuple[bytes, int]],
    Callable[[envelope.AttachmentKey], envelope.AttachmentKey],
    str,
]
CASES: dict[str, Case] = {
    "never_pushed": (lambda d: (d, 0), lambda k: k, "attachment_incomplete"),
    "pushed_in_part": (lambda d: (d, len(d) // 2), lambda k: k, "attachment_incomplete"),
    "tampered": (lambda d: (_flip_last(d), len(d)), lambda k: k, "attachment_mismatch"),
    "other_key": (lambda d: (d, len(d)), _other_key, "attachment_mismatch"),
    "whole": (lambda d: (d, len(d)), lambda k: k, ""),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_the_receiver_takes_an_envelope_only_with_its_streams_whole_and_verified(
    federation: Federation, case: Case
) -> None:
    pushed, keyed, verdict = case
    await federation.add(BLO, RATANAKIRI)
    federation.write_config(RATANAKIRI)
    federation.write_config(BLO)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)

    wire_id = str(uuid7())
    data, key = _stream(wire_id)
    sent, end = pushed(data)
    if end:
        assert await _push(federation, wire_id, sent, end) == 200
    message = handover([wire_id], [])
    case_id = uuid.uuid4()
    message.case_id = str(case_id)
    now = datetime.now(UTC)
    sealed = seal(
        federation.keyring(BLO),
        recipient=RATANAKIRI,
        kind=Kind.VICTIM_HANDOVER,
        case_id=case_id,
        message_id=uuid7(),
        payload=envelope.SealedPayload(
            message=message.SerializeToString(), attachments=[keyed(key)]
        ),
        created_at=now,
        expires_at=now + timedelta(days=1),
    ).data
    receipt = await _post(federation, sealed)
    facts = verify_receipt(
        receipt.SerializeToString(),
        receiver=RATANAKIRI,
        receiver_keys=federation.keyring(BLO).peer_keys(RATANAKIRI),
        envelope_data=sealed,
    )
    assert facts.reason_code == verdict
    store = await federation.store(RATANAKIRI)
    try:
        ref = AttachmentKeyRef(BLO, "incoming", wire_id)
        if verdict:
            assert not facts.accepted
            assert await store.list_inbox() == []
        if verdict == "attachment_incomplete":
            # Retryable: once the stream is whole, the same envelope is taken.
            assert await _push(federation, wire_id, data, len(data)) == 200
            receipt = await _post(federation, sealed)
            facts = verify_receipt(
                receipt.SerializeToString(),
                receiver=RATANAKIRI,
                receiver_keys=federation.keyring(BLO).peer_keys(RATANAKIRI),
                envelope_data=sealed,
            )
        if verdict in ("", "attachment_incomplete"):
            assert facts.accepted
            assert facts.attachment_sha256 == (hashlib.sha256(data).digest(),)
            [row] = await store.list_inbox()
            [link] = await store.inbox_attachments(row.id)
            assert (link.attachment_id, link.media_type) == (wire_id, "image/jpeg")
            progress = await store.attachment_progress(ref)
            assert progress is not None
            assert progress.state == "verified"
        else:
            progress = await store.attachment_progress(ref)
            assert progress is not None
            assert progress.state == "complete"
    finally:
        await store.close()


async def test_a_dropped_record_naming_an_unknown_attachment_goes_to_errors(
    federation: Federation, tmp_path: Path
) -> None:
    """A drop folder judges attachments per record: the record naming an id its client did
    not upload is refused into the file's .errors (field path given), the others go."""
    token, client = local_client("records", ["vn-police-json"])
    folder = tmp_path / "records-out"
    client["outgoing_folder"] = {
        "path": str(folder),
        "format": "vn-police-json",
        "to": [RATANAKIRI],
        "poll_interval": "100ms",
    }
    await federation.add(BLO, RATANAKIRI)
    federation.sections[BLO] = {"local_clients": [client]}
    federation.write_config(BLO)
    federation.start(BLO)
    await federation.wait_ready(BLO)
    sample = json.loads((SAMPLES / "truy_na.json").read_text())
    uploaded = json.dumps(sample).encode()
    await upload_named_attachments(federation.api_url(BLO), token, "vn-police-json", uploaded)
    sample["so_hieu"] += "-B"
    sample["doi_tuong"]["anh"] = ["never-uploaded"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (("a-unknown.json", json.dumps(sample).encode()), ("b-ok.json", uploaded)):
        (folder / f".{name}").write_bytes(data)
        (folder / f".{name}").rename(folder / name)
    done = folder / "done"
    deadline = time.monotonic() + 60
    while not ((done / "a-unknown.json").exists() and (done / "b-ok.json").exists()):
        assert time.monotonic() < deadline, federation.log_tail(BLO)
        await asyncio.sleep(0.1)
    errors = (folder / "a-unknown.json.errors").read_text()
    assert "attachment_ids[0]" in errors, errors
    assert not (folder / "b-ok.json.errors").exists()
    store = await federation.store(BLO)
    try:
        [queued] = await store.list_outbox(limit=10)
        assert queued.sender_reference == json.loads(uploaded)["so_hieu"]
    finally:
        await store.close()
