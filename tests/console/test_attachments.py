"""Received attachments on the console: listed on the case page where the content is shown,
served by role from the verified route, refused with a reason page, audited."""

from __future__ import annotations

import re
import uuid

import pytest

from gateway.console import Role
from gateway.console.attachments import ATTACHMENT_CSP
from gateway.console.rendering import _filesize_filter, reading_in
from gateway.wire import canonical
from tests.console.attachments_support import png, receive_with_attachments
from tests.console.cases_support import handover_from_ratanakiri
from tests.console.conftest import ConsoleHarness
from tests.federation.harness import alert

PHOTO = png(40, 30)
SCAN = b"%PDF-1.4 scanned record " * 500


async def test_attachments_by_role_with_safe_headers_and_reason_pages(
    console: ConsoleHarness,
) -> None:
    protected, protected_case, (photo, scan) = await receive_with_attachments(
        console,
        handover_from_ratanakiri(),
        [(PHOTO, "image/png"), (SCAN, "application/pdf")],
        handling="victim_protected",
    )
    normal_alert = alert("KH-N")
    normal_alert.handling = canonical.HANDLING_NORMAL
    normal, _, (normal_photo,) = await receive_with_attachments(
        console, normal_alert, [(PHOTO, "image/png")], handling="normal"
    )
    arriving, _, (partial,) = await receive_with_attachments(
        console,
        handover_from_ratanakiri(),
        [(PHOTO, "image/png")],
        handling="restricted",
        stored=99,
    )

    def url(message: uuid.UUID | str, attachment: str) -> str:
        return f"/console/messages/{message}/attachments/{attachment}"

    officer = await console.sign_in(Role.OFFICER)
    page = await (await console.client.get(f"/console/cases/{protected_case}")).text()
    assert page.count('class="attachment"') == 2
    assert f'<img class="attachment-image" src="{url(protected, photo)}"' in page
    assert f'download="{scan}.pdf"' in page

    answer = await console.client.get(url(protected, photo))
    assert answer.status == 200
    assert await answer.read() == PHOTO
    assert answer.headers["Content-Type"] == "image/png"
    assert answer.headers["Content-Disposition"] == f'inline; filename="{photo}.png"'
    assert answer.headers["Content-Security-Policy"] == ATTACHMENT_CSP
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Cache-Control"] == "no-store"
    answer = await console.client.get(url(protected, scan))
    assert (answer.status, await answer.read()) == (200, SCAN)
    assert answer.headers["Content-Disposition"].startswith("attachment;")

    for path, status, reason in (
        (url(protected, "no-such-id"), 404, "not_found"),
        (url(uuid.uuid4(), photo), 404, "not_found"),
        (url("not-a-uuid", photo), 404, "not_found"),
        (url(arriving, partial), 409, "attachment_unavailable"),
    ):
        answer = await console.client.get(path)
        text = await answer.text()
        assert answer.status == status, path
        assert re.search(rf'data-reason="{reason}"', text), path
        assert answer.headers["Content-Type"].startswith("text/html")

    console.client.session.cookie_jar.clear()  # signed out: another person at the console
    operator = await console.sign_in(Role.OPERATOR)
    page = await (await console.client.get(f"/console/cases/{protected_case}")).text()
    assert 'class="attachments"' not in page
    assert photo not in page
    for path in (url(protected, photo), url(protected, scan)):
        answer = await console.client.get(path)
        assert answer.status == 403
        assert PHOTO[:16] not in await answer.read()
    # Normal content that names no victim is every role's to read, with its attachments.
    answer = await console.client.get(url(normal, normal_photo))
    assert (answer.status, await answer.read()) == (200, PHOTO)

    viewed = [
        (row.actor, row.subject, row.detail["attachment"])
        for row in await console.store.list_audit(50)
        if row.action == "console.attachment_viewed"
    ]
    assert sorted(viewed) == sorted(
        [
            (officer.actor, str(protected), photo),
            (officer.actor, str(protected), scan),
            (operator.actor, str(normal), normal_photo),
        ]
    )


@pytest.mark.parametrize(
    ("language", "sizes"),
    [
        ("vi", ("1,5 KB", "3,3 MB", "2 KB")),
        ("km", ("១.៥ KB", "៣.៣ MB", "២ KB")),
        ("en", ("1.5 KB", "3.3 MB", "2 KB")),
    ],
)
def test_sizes_follow_the_reader(language: str, sizes: tuple[str, str, str]) -> None:
    with reading_in(language):
        shown = tuple(
            _filesize_filter(None, size)  # type: ignore[arg-type]
            for size in (1536, 3 * 1024 * 1024 + 300_000, 2048)
        )
    assert shown == sizes
