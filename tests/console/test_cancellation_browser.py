"""A cancelled case in real Chromium (docs/PROTOCOL.md section 14), in vi, km and en: at the
recipient the case page shows a "cancelled" banner with who cancelled it, when, and how
many local deliveries it withdrew; at the sender it shows per recipient whether the
cancellation was confirmed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.console import Role
from gateway.console.context import ConsoleLanguage
from gateway.crypto import seal
from gateway.store import IncomingEnvelope
from gateway.store.cancellations import IncomingConfirmation
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.console.browser import NewPage, console_messages, screenshot, sign_in
from tests.console.cases_support import receive, send
from tests.console.conftest import NODE, PEER, ConsoleHarness
from tests.federation.harness import alert
from tests.store.outbox_support import queue_outgoing

# What the banner says, in each language (the catalogues' words, not the English ids).
BANNER = {"vi": "Đã rút lại 1 lần chuyển", "km": "ត្រូវបានដកវិញ", "en": "1 delivery to a local"}


@pytest.mark.parametrize("language", ["vi", "km", "en"])
async def test_the_recipient_sees_the_case_cancelled(
    console: ConsoleHarness, new_page: NewPage, language: ConsoleLanguage
) -> None:
    case = uuid.uuid4()
    await receive(console, alert("KH-9", str(case)), case, handling="normal")
    # The peer's notice is still waiting for a local system (queued by hand here: the
    # console harness has no delivery clients), so the cancellation withdraws it.
    connection = await asyncpg.connect(console.federation.nodes[NODE].dsn)
    try:
        await connection.execute(
            "INSERT INTO local_deliveries (client, inbox_id) SELECT 'records', id FROM inbox"
        )
    finally:
        await connection.close()
    cancel = alert("KH-9", str(case))
    cancel.action = canonical.ACTION_CANCEL
    now = datetime.now(UTC)
    sealed = seal(
        console.federation.keyring(PEER),
        recipient=NODE,
        kind=Kind.HOTLINE_ALERT,
        case_id=case,
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=cancel.SerializeToString()),
        created_at=now - timedelta(seconds=1),
        expires_at=now + timedelta(days=1),
    )
    await console.store.store_incoming(
        [
            IncomingEnvelope(
                sender=PEER,
                message_id=sealed.header.message_id,
                case_id=case,
                kind="hotline_alert",
                envelope=sealed.data,
                envelope_sha256=sealed.sha256,
                receipt=b"receipt",
                created_at=sealed.header.created_at,
                received_at=now + timedelta(seconds=1),
                handling="normal",
                cancels=True,
            )
        ]
    )
    name, password = await console.add_user(Role.OFFICER, language=language)
    page = await new_page()
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    messages = console_messages(page)
    await page.goto(str(console.client.make_url(f"/console/cases/{case}")))
    banner = page.locator("p.case-cancelled")
    assert await banner.count() == 1
    assert await banner.get_attribute("data-case-state") == "cancelled"
    text = await banner.inner_text()
    assert BANNER[language] in text
    assert await page.locator("article.message").count() == 2
    assert await page.locator("article.message").nth(1).get_attribute("data-action") == "cancel"
    assert await page.locator("section.cancellation-status").count() == 0
    await screenshot(page, f"case-cancelled-{language}")
    assert [m.text for m in messages if m.type == "error"] == []


async def test_the_sender_sees_each_recipient_confirm(
    console: ConsoleHarness, new_page: NewPage
) -> None:
    notice = alert("VN-7")
    notice.handling = canonical.HANDLING_NORMAL
    _, case = await send(console, notice)
    cancel = alert("VN-7", str(case))
    cancel.handling = canonical.HANDLING_NORMAL
    cancel.action = canonical.ACTION_CANCEL
    [queued] = await console.ctx.dispatcher.submit(cancel, [], actor="test")
    name, password = await console.add_user(Role.OFFICER, language="vi")
    page = await new_page()
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    url = str(console.client.make_url(f"/console/cases/{case}"))
    await page.goto(url)
    row = page.locator(f'section.cancellation-status tr[data-recipient="{PEER}"]')
    assert await row.get_attribute("data-progress") == "sent"
    assert await row.locator("span.not-yet").count() == 1

    now = datetime.now(UTC)
    kept = await console.store.record_cancellation_confirmation(
        IncomingConfirmation(
            sender=PEER,
            message_id=uuid7(),
            envelope_sha256=b"\0" * 32,
            receipt=b"receipt",
            cancellation_message_id=queued.message_id,
            confirmed_at=now,
            withdrawn=1,
            received_at=now,
        )
    )
    assert kept is not None
    await page.goto(url)
    assert await row.get_attribute("data-progress") == "confirmed"
    assert await row.locator("td.progress").inner_text() == "Đã xác nhận"
    assert await row.locator("td.withdrawn").inner_text() == "1"
    assert await row.locator("time.confirmed-at").count() == 1
    assert await page.locator("p.case-cancelled").count() == 0
    await screenshot(page, "case-cancellation-confirmed-vi")


async def test_a_confirmation_sent_back_is_no_message_of_the_case(
    console: ConsoleHarness,
) -> None:
    """At the recipient the case list and page show the peer's messages, not the
    confirmation this node queued back (a control envelope, section 14)."""
    case = uuid.uuid4()
    await receive(console, alert("KH-3", str(case)), case, handling="normal")
    await queue_outgoing(
        console.store,
        PEER,
        case,
        kind="cancellation_confirmation",
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    await console.sign_in(Role.OFFICER)
    listed = await console.client.get("/console/cases")
    assert listed.status == 200
    assert "Cancellation confirmation" not in await listed.text()
    page = await console.client.get(f"/console/cases/{case}")
    assert page.status == 200
    assert (await page.text()).count('<article class="message"') == 1
