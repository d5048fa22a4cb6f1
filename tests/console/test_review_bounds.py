"""An attacker's form posts against the console as a node serves it: bounded, 4xx, nothing
written.

The console is mounted as gateway/app.py mounts it, under an app whose body bound is the
local API's 10 MiB document, so a test proves the console's own bounds, not the test
client's default. Each hostile post is answered quickly with a 4xx page (never a 500, never
seconds of parsing) and leaves drafts, outbox and audit log as they were.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.api.routes import MAX_DOCUMENT_BYTES
from gateway.console import Role, build_console
from gateway.console.form_limits import MAX_FORM_BYTES, MAX_FORM_FIELDS
from tests.console.conftest import ConsoleHarness

FORM = "application/x-www-form-urlencoded"
# Generous for a loaded 2-core machine; unbounded parsing of these bodies takes longer.
QUICK_SECONDS = 2.0


@dataclass
class Node:
    """The console behind a node's local listener, with the harness's signed-in cookies."""

    client: TestClient[web.Request, web.Application]
    harness: ConsoleHarness

    async def written(self) -> tuple[int, int, int]:
        """How much the store holds of what a post could write: audit, drafts, outbox."""
        store = self.harness.store
        audit = len(await store.list_audit(100_000))
        drafts = len(await store.drafts_awaiting())
        outbox = len(await store.list_outbox(state="queued", limit=1000))
        return audit, drafts, outbox


@pytest.fixture
async def node(console: ConsoleHarness) -> AsyncIterator[Node]:
    app = web.Application(client_max_size=MAX_DOCUMENT_BYTES)  # as gateway/app.py's ops app
    app.add_subapp("/console/", build_console(console.ctx))
    client = TestClient(TestServer(app), cookie_jar=console.client.session.cookie_jar)
    await client.start_server()
    try:
        yield Node(client, console)
    finally:
        await client.close()


def _fields(token: str, *pairs: str) -> bytes:
    return "&".join([f"csrf_token={token}", *pairs]).encode()


# name -> (path, body from the CSRF token, content type, status, data-reason or None for a
# form page with its errors)
Body = Callable[[str], bytes]
HOSTILE_POSTS: dict[str, tuple[str, Body, str, int, str | None]] = {
    "100,000 fields": (
        "/console/compose/handover",
        lambda t: _fields(t, *(["a="] * 100_000)),
        FORM,
        413,
        "request_entity_too_large",
    ),
    "one field past the field bound": (
        "/console/compose/handover",
        lambda t: _fields(t, *(["to=x"] * MAX_FORM_FIELDS)),
        FORM,
        413,
        "request_entity_too_large",
    ),
    "a 9 MB note": (
        "/console/compose/handover",
        lambda t: _fields(t, "note=" + "a" * 9_000_000),
        FORM,
        413,
        "request_entity_too_large",
    ),
    "a 9 MB reason on an answer": (
        "/console/cases/0190b4a4-0000-7000-8000-000000000000/answer",
        lambda t: _fields(t, "action=reject", "reason=" + "a" * 9_000_000),
        FORM,
        413,
        "request_entity_too_large",
    ),
    "a body just over the console's bound": (
        "/console/compose/notice",
        lambda t: _fields(t, "note=" + "a" * MAX_FORM_BYTES),
        FORM,
        413,
        "request_entity_too_large",
    ),
    "bytes that are not UTF-8": (
        "/console/compose/handover",
        lambda t: _fields(t).replace(b"csrf", b"\xff\xfecsrf"),
        FORM,
        400,
        "bad_request",
    ),
    # Only the compose forms with file fields take multipart (gateway/console/uploads.py).
    "a multipart body": (
        "/console/compose/alert",
        lambda t: (
            f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{t}\r\n'
            '--b\r\nContent-Disposition: form-data; name="note"; filename="a.txt"\r\n\r\n'
            "x\r\n--b--\r\n"
        ).encode(),
        "multipart/form-data; boundary=b",
        415,
        "unsupported_media_type",
    ),
    "a file in a text field of a form that takes files": (
        "/console/compose/handover",
        lambda t: (
            f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{t}\r\n'
            '--b\r\nContent-Disposition: form-data; name="note"; filename="a.txt"\r\n\r\n'
            "x\r\n--b--\r\n"
        ).encode(),
        "multipart/form-data; boundary=b",
        400,
        "bad_request",
    ),
    "an unknown charset": (
        "/console/compose/handover",
        _fields,
        f"{FORM}; charset=x-no-such-charset",
        415,
        "unsupported_media_type",
    ),
    "a victim slot numbered with 5,000 digits": (
        "/console/compose/handover",
        lambda t: _fields(t, f"victims-{'9' * 5000}-name=x"),
        FORM,
        400,
        None,
    ),
    "a victim slot numbered with a superscript": (
        "/console/compose/handover",
        lambda t: _fields(t, "victims-%C2%B2-name=x"),
        FORM,
        400,
        None,
    ),
    "a deep victim slot": (
        "/console/compose/handover",
        lambda t: _fields(t, "victims-999999-name=x", "victims-999999-child-999999-name=x"),
        FORM,
        400,
        None,
    ),
    "an escort slot numbered with a superscript": (
        "/console/compose/handover",
        lambda t: _fields(t, "escort-%C2%B2-name=x"),
        FORM,
        400,
        None,
    ),
    "a person slot of an alert numbered with 5,000 digits": (
        "/console/compose/alert",
        lambda t: _fields(t, f"persons-{'9' * 5000}-name=x"),
        FORM,
        400,
        None,
    ),
    "the same recipient 900 times": (
        "/console/compose/handover",
        lambda t: _fields(t, *(["to=kh-ratanakiri-police"] * 900)),
        FORM,
        400,
        None,
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_POSTS))
async def test_a_hostile_form_post_is_refused_quickly_and_writes_nothing(
    node: Node, case: str
) -> None:
    path, body, content_type, status, reason = HOSTILE_POSTS[case]
    await node.harness.sign_in(Role.OFFICER)
    token = await node.harness.csrf()
    before = await node.written()
    started = time.monotonic()
    answer = await node.client.post(
        path,
        data=io.BytesIO(body(token)),
        headers={"Content-Type": content_type},
        allow_redirects=False,
    )
    page = await answer.text()
    elapsed = time.monotonic() - started
    assert (answer.status, elapsed < QUICK_SECONDS) == (status, True), page[:300]
    if reason is None:
        assert 'class="field-error"' in page
    else:
        assert f'data-reason="{reason}"' in page
    assert await node.written() == before


async def test_a_chunked_body_is_bounded_while_it_is_read(node: Node) -> None:
    """No Content-Length to refuse on: the reading stops at the console's bound."""
    await node.harness.sign_in(Role.OFFICER)
    token = await node.harness.csrf()
    before = await node.written()

    async def chunks() -> AsyncIterator[bytes]:
        yield f"csrf_token={token}&note=".encode()
        for _ in range(9):
            yield b"a" * 1_000_000

    answer = await node.client.post(
        "/console/compose/handover",
        data=chunks(),
        headers={"Content-Type": FORM},
        allow_redirects=False,
    )
    assert answer.status == 413
    assert await node.written() == before


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (Role.OFFICER, "/console/compose/handover?victims=%C2%B2"),
        (Role.OFFICER, "/console/compose/handover?victims=1000000"),
        (Role.OFFICER, f"/console/cases?page={'9' * 5000}"),
        (Role.OFFICER, "/console/compose/notice?case=%C2%B2"),
    ],
)
async def test_hostile_query_values_are_not_a_server_error(
    node: Node, role: Role, path: str
) -> None:
    await node.harness.sign_in(role)
    answer = await node.client.get(path, allow_redirects=False)
    assert answer.status in {200, 400, 404}, await answer.text()


async def test_a_draft_number_in_other_digits_is_not_found(node: Node) -> None:
    await node.harness.sign_in(Role.SUPERVISOR)
    token = await node.harness.csrf()
    for action in ("approve", "withdraw"):
        answer = await node.client.post(
            f"/console/approvals/%C2%B2/{action}",
            data={"csrf_token": token},
            allow_redirects=False,
        )
        assert answer.status == 404, await answer.text()


async def test_an_ordinary_form_still_passes_the_bounds(node: Node) -> None:
    """The bounds refuse nothing a console page posts: sign-out goes through."""
    await node.harness.sign_in(Role.OFFICER)
    token = await node.harness.csrf()
    answer = await node.client.post(
        "/console/sign-out", data=aiohttp.FormData({"csrf_token": token}), allow_redirects=False
    )
    assert answer.status == 303
    assert answer.headers["Location"] == "/console/sign-in"
