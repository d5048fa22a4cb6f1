"""Reading received attachments through the local API of a real `gateway run` receiver.

kh-ratanakiri-police runs; vn-gialai-blo is a peer that pushes each encrypted stream through
the receiver's real federation endpoint, then posts a hotline alert sealed with the streams'
AttachmentKeys. Local clients then download: a case system allowed victims' data, a clerk's
desk that is not, and a notices desk that takes no hotline alerts. Every refusal answers with
its code and no byte of plaintext.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import canonical
from tests.api.attachment_support import encrypted, post_with_attachments, push
from tests.federation.harness import Federation, alert, local_client

BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"
PHOTO = os.urandom(300_000)
SCAN = os.urandom(3 * 1024 * 1024 + 12_345)


@dataclass
class Receiver:
    federation: Federation
    tokens: dict[str, str]

    async def get(self, client: str, path: str) -> tuple[int, dict[str, str], bytes]:
        url = f"{self.federation.api_url(RATANAKIRI)}/api/v1{path}"
        headers = {"Authorization": f"Bearer {self.tokens[client]}"} if client else {}
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers=headers) as response,
        ):
            return response.status, dict(response.headers), await response.read()


@pytest.fixture
async def receiver(federation: Federation) -> Receiver:
    tokens: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    for client, kinds, protected in (
        ("case-system", None, True),
        ("clerk-desk", ["hotline_alert"], False),
        ("notices-desk", ["wanted_person_notice"], True),
    ):
        tokens[client], entry = local_client(
            client, ["canonical-json"], kinds, victim_protected=protected
        )
        entries.append(entry)
    await federation.add(BLO, RATANAKIRI)
    federation.sections[RATANAKIRI] = {"local_clients": entries}
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    return Receiver(federation, tokens)


def _alert(marking: canonical.Handling.ValueType) -> canonical.Message:
    message = alert(f"KH-{uuid.uuid4().hex[:6]}")
    message.handling = marking
    return message


async def test_a_pushed_photo_and_scan_come_out_whole_with_safe_headers(
    receiver: Receiver,
) -> None:
    federation = receiver.federation
    photo_stream, photo_key = encrypted(PHOTO, "image/jpeg")
    scan_stream, scan_key = encrypted(SCAN, "application/pdf")
    for stream, key in ((photo_stream, photo_key), (scan_stream, scan_key)):
        await push(federation, BLO, RATANAKIRI, key.attachment_id, stream)
    message_id = await post_with_attachments(
        federation, BLO, RATANAKIRI, _alert(canonical.HANDLING_RESTRICTED), [photo_key, scan_key]
    )

    for key, plaintext, media_type, extension in (
        (photo_key, PHOTO, "image/jpeg", ".jpg"),
        (scan_key, SCAN, "application/pdf", ".pdf"),
    ):
        path = f"/inbox/{message_id}/attachments/{key.attachment_id}"
        status, headers, body = await receiver.get("case-system", path)
        assert status == 200, body[:300]
        assert hashlib.sha256(body).digest() == hashlib.sha256(plaintext).digest()
        assert headers["Content-Type"] == media_type
        assert headers["Content-Length"] == str(len(plaintext))
        assert headers["Content-Disposition"] == (
            f'attachment; filename="{key.attachment_id}{extension}"'
        )
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-store"
        # The clerk's desk takes hotline alerts, and this one is only restricted.
        assert (await receiver.get("clerk-desk", path))[0] == 200

    store = await federation.store(RATANAKIRI)
    try:
        reads = [
            row
            for row in await store.list_audit(50)
            if row.action == "local.attachment_read" and row.subject == str(message_id)
        ]
    finally:
        await store.close()
    assert len(reads) == 4
    assert {row.detail["attachment"] for row in reads} == {
        photo_key.attachment_id,
        scan_key.attachment_id,
    }
    assert {row.actor for row in reads} == {"api:case-system", "api:clerk-desk"}


async def test_refusals_name_their_reason_and_serve_no_plaintext(receiver: Receiver) -> None:
    federation = receiver.federation
    plaintext = os.urandom(2 * 1024 * 1024 + 500)
    good_stream, good = encrypted(plaintext, "image/png")
    await push(federation, BLO, RATANAKIRI, good.attachment_id, good_stream)
    # A stream never or partly pushed, or not its key's, keeps its envelope out of the inbox
    # (the receiver's check, tests/federation/test_attachments_refusals.py); what can still
    # go wrong after acceptance is damage at rest: stored whole, verified, then a late row
    # changed. The first two MiB authenticate and decrypt before the third fails, and none
    # of it may go out. (Every other state: tests/api/test_attachment_reader.py.)
    tampered_stream, tampered = encrypted(plaintext, "image/png")
    await push(federation, BLO, RATANAKIRI, tampered.attachment_id, tampered_stream)

    restricted = await post_with_attachments(
        federation,
        BLO,
        RATANAKIRI,
        _alert(canonical.HANDLING_RESTRICTED),
        [good, tampered],
    )
    await _flip_stored_byte(federation, tampered.attachment_id, row=2)
    protected = await post_with_attachments(
        federation, BLO, RATANAKIRI, _alert(canonical.HANDLING_VICTIM_PROTECTED), [good]
    )

    def path(message: uuid.UUID | str, attachment: str) -> str:
        return f"/inbox/{message}/attachments/{attachment}"

    cases = [
        # (client, path, status, code)
        ("case-system", path(restricted, "no-such-attachment"), 404, "attachment_not_found"),
        ("case-system", path(uuid.uuid4(), good.attachment_id), 404, "attachment_not_found"),
        ("notices-desk", path(restricted, good.attachment_id), 404, "attachment_not_found"),
        ("clerk-desk", path(protected, good.attachment_id), 404, "attachment_not_found"),
        ("case-system", path(restricted, tampered.attachment_id), 502, "attachment_corrupt"),
        ("case-system", path("not-a-uuid", good.attachment_id), 400, "invalid_parameter"),
        ("", path(restricted, good.attachment_id), 401, "unauthorized"),
    ]
    for client, url, status, code in cases:
        answer, headers, body = await receiver.get(client, url)
        assert (answer, json.loads(body)["error"]["code"]) == (status, code), (client, url)
        assert headers["Content-Type"].startswith("application/json")
        assert plaintext[:64] not in body
        assert len(body) < 1000
    # The same stream is served where the caller may see it.
    assert (await receiver.get("case-system", path(protected, good.attachment_id)))[0] == 200
    assert (await receiver.get("case-system", path(restricted, good.attachment_id)))[0] == 200
    log = federation.log_tail(RATANAKIRI)
    assert "Traceback" not in log
    assert "attachment_refused" in log


async def _flip_stored_byte(federation: Federation, attachment_id: str, *, row: int) -> None:
    """Change one byte of a complete stream's stored row, as damage at rest would (the
    stream's recorded hash stays the one it was received with)."""
    store = await federation.store(RATANAKIRI)
    try:
        key = AttachmentKeyRef(BLO, "incoming", attachment_id)
        progress = await store.attachment_progress(key)
        assert progress is not None
        assert progress.state == "verified"  # by the receiver, when it accepted the envelope
        async with store._pool.acquire() as connection:
            status = await connection.execute(
                "UPDATE attachment_chunks "
                "SET bytes = set_byte(bytes, 100, get_byte(bytes, 100) # 1) "
                "WHERE owner = $1 AND direction = 'incoming' AND attachment_id = $2 AND n = $3",
                *key.args()[::2],
                row,
            )
        assert status == "UPDATE 1"
    finally:
        await store.close()


async def test_inbox_items_list_their_attachments_with_download_urls(
    receiver: Receiver,
) -> None:
    federation = receiver.federation
    photo_stream, photo_key = encrypted(PHOTO, "image/jpeg")
    scan_stream, scan_key = encrypted(SCAN, "application/pdf")
    for stream, key in ((photo_stream, photo_key), (scan_stream, scan_key)):
        await push(federation, BLO, RATANAKIRI, key.attachment_id, stream)
    with_both = await post_with_attachments(
        federation, BLO, RATANAKIRI, _alert(canonical.HANDLING_NORMAL), [scan_key, photo_key]
    )
    without = await post_with_attachments(
        federation, BLO, RATANAKIRI, _alert(canonical.HANDLING_NORMAL), []
    )

    status, _, body = await receiver.get("case-system", "/inbox")
    assert status == 200
    listed = {item["id"]: item["attachments"] for item in json.loads(body)["messages"]}
    # In the envelope's order, with what the download route serves.
    assert listed[str(with_both)] == [
        {
            "id": key.attachment_id,
            "media_type": media_type,
            "size": size,
            "url": f"/api/v1/inbox/{with_both}/attachments/{key.attachment_id}",
        }
        for key, media_type, size in (
            (scan_key, "application/pdf", len(SCAN)),
            (photo_key, "image/jpeg", len(PHOTO)),
        )
    ]
    assert listed[str(without)] == []
    for entry in listed[str(with_both)]:
        status, _, data = await receiver.get("case-system", entry["url"].removeprefix("/api/v1"))
        assert status == 200
        assert data in (PHOTO, SCAN)
