"""Files attached on the compose forms, over real HTTP and real PostgreSQL (the `console`
fixture): a photo travels with its notice as one AttachmentKey whose stream is complete; a
handover draft keeps its files until approval, and the approver sees them; refusals are
shown beside their field and leave nothing behind; the CSRF token guards the post."""

from __future__ import annotations

import hashlib
import io
import re
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import trustme

from gateway.console import Role
from gateway.console.uploads import CONSOLE_OWNER
from gateway.crypto import reopen_stored
from gateway.crypto.attachment import decrypt_attachment
from gateway.store import EmbeddedPostgres, Store
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import canonical
from tests.console.attachments_support import png
from tests.console.conftest import NODE, PEER, ConsoleHarness, running_console
from tests.console.test_compose import field_errors, handover_fields, session_for
from tests.federation.harness import Federation

PHOTO = png(64, 48)
NOTICE = [
    ("to", PEER),
    ("action", "issue"),
    ("subject-name", "Lê Văn Tám"),
    ("request", "arrest"),
    ("offence-legal_basis", "VN-PC2015-150"),
]
SMALL_LIMIT = 4096


def multipart(
    token: str | None, fields: list[tuple[str, str]], files: list[tuple[str, str, bytes, str]]
) -> aiohttp.FormData:
    """A browser's post: the CSRF token first, then the text fields, then the files
    (field, file name, content, type)."""
    data = aiohttp.FormData()
    if token is not None:
        data.add_field("csrf_token", token)
    for name, value in fields:
        data.add_field(name, value)
    for name, filename, content, media_type in files:
        data.add_field(name, io.BytesIO(content), filename=filename, content_type=media_type)
    return data


async def post_files(
    console: ConsoleHarness,
    path: str,
    fields: list[tuple[str, str]],
    files: list[tuple[str, str, bytes, str]],
    *,
    token: str | None = "",
    client: aiohttp.ClientSession | None = None,
) -> aiohttp.ClientResponse:
    if token == "":
        token = await console.csrf(path)
    data = multipart(token, fields, files)
    if client is None:
        return await console.client.post(path, data=data, allow_redirects=False)
    return await client.post(console.client.make_url(path), data=data, allow_redirects=False)


async def staged_count(store: Store) -> int:
    """The console's staged files still kept."""
    rows = await store._pool.fetchval(
        "SELECT count(*) FROM attachments WHERE owner = $1", CONSOLE_OWNER
    )
    return int(rows)


async def stream_bytes(store: Store, recipient: str, attachment_id: str) -> bytes:
    key = AttachmentKeyRef(recipient, "outgoing", attachment_id)
    return b"".join([piece async for piece in store.read_attachment(key)])


async def test_a_notice_carries_its_photo_to_the_peer(console: ConsoleHarness) -> None:
    officer = await console.sign_in(Role.OFFICER)
    page = await (await console.client.get("/console/compose/notice")).text()
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input type="file" id="subject-photos" name="subject-photos" multiple', page)
    assert "100 MB" in page  # the limit, shown to the user

    answer = await post_files(
        console,
        "/console/compose/notice",
        NOTICE,
        [("subject-photos", "le-van-tam.png", PHOTO, "image/png")],
    )

    assert answer.status == 303, await answer.text()
    [row] = await console.store.list_outbox()
    found = await console.store.get_outbox(row.message_id)
    assert found is not None
    assert found[1] is not None
    opened = reopen_stored(console.federation.keyring(PEER), found[1])
    sent = canonical.Message.FromString(opened.payload.message)
    [key] = opened.payload.attachments
    assert list(sent.wanted_person_notice.subject.attachment_ids) == [key.attachment_id]
    assert (key.media_type, key.plaintext_size) == ("image/png", len(PHOTO))
    # The per-recipient stream is complete: its hash is the key's, and it opens to the photo.
    stream = await stream_bytes(console.store, PEER, key.attachment_id)
    assert hashlib.sha256(stream).digest() == key.ciphertext_sha256
    out = io.BytesIO()
    decrypt_attachment(io.BytesIO(stream), out, key)
    assert out.getvalue() == PHOTO
    links = await console.store._pool.fetch(
        "SELECT attachment_id FROM outbox_attachments WHERE recipient = $1", PEER
    )
    assert [link["attachment_id"] for link in links] == [key.attachment_id]
    # The staged copy is gone once each recipient has its own.
    assert await staged_count(console.store) == 0
    audit = await console.store.list_audit()
    [uploaded] = [e for e in audit if e.action == "attachment.uploaded"]
    assert uploaded.actor == officer.actor
    assert uploaded.detail == {
        "client": CONSOLE_OWNER,
        "size": len(PHOTO),
        "media_type": "image/png",
    }
    # The file's name goes nowhere.
    assert all("le-van-tam" not in repr(e) for e in audit)


async def test_a_handover_draft_keeps_its_files_until_a_supervisor_approves(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OFFICER)
    scan = b"%PDF-1.4\n" + bytes(range(256)) * 40
    answer = await post_files(
        console,
        "/console/compose/handover",
        handover_fields(console.clock.now),
        [
            ("documents", "scan.pdf", scan, "application/pdf"),
            ("victims-1-photos", "victim.png", PHOTO, "image/png"),
        ],
    )
    assert answer.status == 303, await answer.text()
    assert await console.store.list_outbox() == []
    assert await staged_count(console.store) == 2

    supervisor = await session_for(console, Role.SUPERVISOR)
    try:
        page = await (await supervisor.get(console.client.make_url("/console/approvals"))).text()
        shown = re.findall(
            r'<li class="draft-attachment" data-attachment-id="([^"]+)"><code>[^<]+</code> · '
            r'<span class="media-type">([^<]+)</span> · <span class="size">([^<]+)</span>',
            page,
        )
        # In the order the message names them: the victims come before the documents.
        assert [media for _, media, _ in shown] == ["image/png", "application/pdf"]
        assert all(size.endswith(" KB") for _, _, size in shown)
        [draft] = await console.store.drafts_awaiting()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        approved = await supervisor.post(
            console.client.make_url(f"/console/approvals/{draft.id}/approve"),
            data={"csrf_token": token.group(1)},
            allow_redirects=False,
        )
        assert approved.status == 303, await approved.text()
    finally:
        await supervisor.close()

    [row] = await console.store.list_outbox()
    found = await console.store.get_outbox(row.message_id)
    assert found is not None
    assert found[1] is not None
    opened = reopen_stored(console.federation.keyring(PEER), found[1])
    sent = canonical.Message.FromString(opened.payload.message)
    photo, documents = opened.payload.attachments
    assert list(sent.victim_handover.attachment_ids) == [documents.attachment_id]
    assert list(sent.victim_handover.victims[1].person.attachment_ids) == [photo.attachment_id]
    assert (documents.plaintext_size, photo.plaintext_size) == (len(scan), len(PHOTO))
    for key in (documents, photo):
        stream = await stream_bytes(console.store, PEER, key.attachment_id)
        assert hashlib.sha256(stream).digest() == key.ciphertext_sha256
    assert await staged_count(console.store) == 0


@pytest.fixture
async def small_console(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleHarness]:
    """A console whose limits.max_attachment_bytes is SMALL_LIMIT."""
    federation = Federation(tmp_path, postgres, ca)
    federation.sections[NODE] = {"limits": {"max_attachment_bytes": SMALL_LIMIT}}
    async with running_console(federation) as harness:
        yield harness


REFUSALS = [
    # (what, files, language, field, message)
    (
        "wrong type",
        [("subject-photos", "notes.txt", b"hello", "text/plain")],
        "en",
        "Attach photos (JPEG, PNG, WebP, TIFF) or PDF scans only",
    ),
    (
        "too large",
        [("subject-photos", "big.png", b"\x89PNG" + bytes(SMALL_LIMIT), "image/png")],
        "vi",
        "Tệp này lớn hơn giới hạn đã nêu",
    ),
    (
        "too large, after a good one",
        [
            ("subject-photos", "a.png", PHOTO[:SMALL_LIMIT], "image/png"),
            ("subject-photos", "big.png", bytes(SMALL_LIMIT + 1), "image/png"),
        ],
        "km",
        "ឯកសារនេះធំជាងដែនកំណត់ដែលបានបង្ហាញ",
    ),
]


@pytest.mark.parametrize(("what", "files", "language", "message"), REFUSALS)
async def test_a_refused_file_is_shown_beside_its_field_and_nothing_is_kept(
    small_console: ConsoleHarness,
    what: str,
    files: list[tuple[str, str, bytes, str]],
    language: str,
    message: str,
) -> None:
    console = small_console
    await console.sign_in(Role.OFFICER, language=language)  # type: ignore[arg-type]
    audit_before = len(await console.store.list_audit())

    answer = await post_files(console, "/console/compose/notice", NOTICE, files)

    page = await answer.text()
    assert answer.status == 400, what
    assert field_errors(page) == {"subject-photos": message}
    assert 'value="Lê Văn Tám"' in page  # the rest of the form comes back as typed
    assert await console.store.list_outbox() == []
    assert await staged_count(console.store) == 0
    # A good file staged before the refused one was audited, then discarded.
    assert all(
        e.action == "attachment.uploaded" for e in (await console.store.list_audit())[audit_before:]
    )


async def test_a_form_with_errors_drops_its_files_and_asks_for_them_again(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OFFICER)
    fields = [(name, value) for name, value in NOTICE if name != "request"]
    answer = await post_files(
        console,
        "/console/compose/notice",
        fields,
        [("subject-photos", "p.png", PHOTO, "image/png")],
    )
    assert answer.status == 400
    errors = field_errors(await answer.text())
    assert errors["subject-photos"] == "The message was not sent: choose the files again"
    assert "request" in errors
    assert await staged_count(console.store) == 0
    assert await console.store.list_outbox() == []


@pytest.mark.parametrize(
    ("what", "token", "files_first"),
    [("no token", None, False), ("another token", "forged", False), ("file first", "", True)],
)
async def test_the_csrf_token_guards_a_post_with_files(
    console: ConsoleHarness, what: str, token: str | None, files_first: bool
) -> None:
    await console.sign_in(Role.OFFICER)
    if files_first:
        real = await console.csrf("/console/compose/notice")
        data = aiohttp.FormData()
        data.add_field(
            "subject-photos", io.BytesIO(PHOTO), filename="p.png", content_type="image/png"
        )
        data.add_field("csrf_token", real)
        for name, value in NOTICE:
            data.add_field(name, value)
        answer = await console.client.post(
            "/console/compose/notice", data=data, allow_redirects=False
        )
    else:
        answer = await post_files(
            console,
            "/console/compose/notice",
            NOTICE,
            [("subject-photos", "p.png", PHOTO, "image/png")],
            token=token,
        )
    assert answer.status == 403, what
    assert 'data-reason="csrf_failed"' in await answer.text()
    assert await staged_count(console.store) == 0
    assert await console.store.list_outbox() == []


async def test_only_the_forms_file_fields_are_taken(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER)
    answer = await post_files(
        console,
        "/console/compose/notice",
        NOTICE,
        [("documents", "p.png", PHOTO, "image/png")],  # a handover's field, not a notice's
    )
    assert answer.status == 400
    assert await staged_count(console.store) == 0


async def test_a_withdrawn_draft_drops_its_files(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER)
    answer = await post_files(
        console,
        "/console/compose/handover",
        handover_fields(console.clock.now),
        [("victims-0-photos", "v.png", PHOTO, "image/png")],
    )
    assert answer.status == 303, await answer.text()
    assert await staged_count(console.store) == 1
    [draft] = await console.store.drafts_awaiting()
    token = await console.csrf(answer.headers["Location"])
    withdrawn = await console.client.post(
        f"/console/approvals/{draft.id}/withdraw",
        data={"csrf_token": token},
        allow_redirects=False,
    )
    assert withdrawn.status == 303, await withdrawn.text()
    assert await staged_count(console.store) == 0
    assert await console.store.list_outbox() == []


async def test_the_approver_sees_a_file_that_is_no_longer_kept(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER)
    answer = await post_files(
        console,
        "/console/compose/handover",
        handover_fields(console.clock.now),
        [("documents", "scan.pdf", b"%PDF-1.4\n", "application/pdf")],
    )
    assert answer.status == 303, await answer.text()
    # As the unreferenced-attachment sweep would, after retention.unreferenced_attachments.
    await console.store._pool.execute("DELETE FROM attachments WHERE owner = $1", CONSOLE_OWNER)
    supervisor = await session_for(console, Role.SUPERVISOR)
    try:
        page = await (await supervisor.get(console.client.make_url("/console/approvals"))).text()
    finally:
        await supervisor.close()
    assert re.search(
        r'<li class="draft-attachment"[^>]*><code>[^<]+</code> · <span class="missing">', page
    )


BIG = 48 * 1024 * 1024


async def _generated(size: int) -> AsyncIterator[bytes]:
    """A file's bytes made as they are sent: the client holds no copy either."""
    piece = b"\x89PNG" + bytes(64 * 1024 - 4)
    sent = 0
    while sent < size:
        yield piece[: size - sent]
        sent += len(piece)


async def test_a_48_mib_photo_is_staged_with_bounded_memory(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER)
    token = await console.csrf("/console/compose/notice")
    data = multipart(token, NOTICE, [])
    data.add_field("subject-photos", _generated(BIG), filename="big.png", content_type="image/png")
    tracemalloc.start()
    try:
        answer = await console.client.post(
            "/console/compose/notice", data=data, allow_redirects=False
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status == 303, await answer.text()
    # Rows of 1 MiB and pieces of 256 KiB, once for the upload and once per recipient: the
    # peak does not follow the file's size (measured about 10-11 MiB for 8 and 48 MiB files).
    assert peak < 16 * 1024 * 1024, peak
    [row] = await console.store.list_outbox()
    found = await console.store.get_outbox(row.message_id)
    assert found is not None
    assert found[1] is not None
    opened = reopen_stored(console.federation.keyring(PEER), found[1])
    [key] = opened.payload.attachments
    assert key.plaintext_size == BIG
