"""An officer attaches a photo to a wanted notice in real Chromium (the `console` fixture's
server): the browser's own multipart post is streamed and staged, the notice is queued for
the peer with one AttachmentKey whose stream is complete and opens to the photo, and nothing
is blocked by the Content-Security-Policy."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

from gateway.console import Role
from gateway.crypto import reopen_stored
from gateway.crypto.attachment import decrypt_attachment
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import canonical
from tests.console.attachments_support import png
from tests.console.browser import NewPage, console_messages, screenshot, sign_in
from tests.console.conftest import PEER, ConsoleHarness

CASE_URL = re.compile(r".*/console/cases/[0-9a-f-]{36}$")


async def test_an_officer_sends_a_wanted_notice_with_a_photo(
    console: ConsoleHarness, new_page: NewPage, tmp_path: Path
) -> None:
    photo = png(96, 72)
    path = tmp_path / "subject.png"
    path.write_bytes(photo)
    name, password = await console.add_user(Role.OFFICER, language="vi")
    page = await new_page()
    messages = console_messages(page)
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    await page.goto(str(console.client.make_url("/console/compose/notice")))

    await page.select_option("#to", PEER)
    await page.fill("#subject-name", "Lê Văn Tám")
    await page.fill("#subject-name_latin", "LE Van Tam")
    await page.select_option("#request", "arrest")
    await page.set_input_files("#subject-photos", str(path))
    assert await page.locator("#subject-photos").evaluate("e => e.files.length") == 1
    limit = await page.locator(".file-limit").first.inner_text()
    assert "100 MB" in limit
    shot = await screenshot(page, "compose-notice-photo-vi")
    await page.click("#submit")
    await page.wait_for_url(CASE_URL)

    [row] = await console.store.list_outbox()
    assert row.recipient == PEER
    found = await console.store.get_outbox(row.message_id)
    assert found is not None
    assert found[1] is not None
    opened = reopen_stored(console.federation.keyring(PEER), found[1])
    sent = canonical.Message.FromString(opened.payload.message)
    [key] = opened.payload.attachments
    assert list(sent.wanted_person_notice.subject.attachment_ids) == [key.attachment_id]
    stream = b"".join(
        [
            piece
            async for piece in console.store.read_attachment(
                AttachmentKeyRef(PEER, "outgoing", key.attachment_id)
            )
        ]
    )
    assert hashlib.sha256(stream).digest() == key.ciphertext_sha256
    out = io.BytesIO()
    decrypt_attachment(io.BytesIO(stream), out, key)
    assert out.getvalue() == photo
    assert not [m.text for m in messages if "Content Security Policy" in m.text]
    # README's console screenshots show this one (copied to docs/console/).
    assert shot.exists()
