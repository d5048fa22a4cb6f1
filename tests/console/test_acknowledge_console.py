"""Acknowledgements in the console (docs/PROTOCOL.md section 13), through the real console
app over a real node config and PostgreSQL: the button on a received message (officers and
supervisors; once, however often it is pressed), the state of a sent message per recipient,
and the overdue list on the case list and the operator page; then the button in Chromium."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

from adapters import adapter_for
from gateway.console import Role
from gateway.wire import canonical
from tests.console.browser import NewPage, console_messages, screenshot, sign_in
from tests.console.cases_support import handover_from_ratanakiri, receive, send
from tests.console.conftest import PEER, ConsoleHarness

SAMPLE = Path(__file__).resolve().parents[2] / "gateway" / "demo" / "samples" / "truy_na.json"


def _arrest_notice() -> canonical.Message:
    [decoded] = adapter_for("vn-police-json").decode(SAMPLE.read_bytes()).messages
    assert decoded.message.wanted_person_notice.request == canonical.REQUEST_ARREST
    return decoded.message


def _acknowledgement(page: str) -> dict[str, str]:
    found = re.search(r'<dd class="acknowledgement" data-status="([a-z_]+)">(.*?)</dd>', page, re.S)
    assert found is not None, "no acknowledgement on the page"
    return {"status": found.group(1), "html": found.group(2)}


async def _acknowledgements_queued(console: ConsoleHarness) -> int:
    rows = await console.store.list_outbox(limit=50)
    return sum(1 for row in rows if row.kind == "acknowledgement")


async def test_an_officer_acknowledges_a_received_message_once(console: ConsoleHarness) -> None:
    case = uuid.uuid4()
    message_id = await receive(console, handover_from_ratanakiri(), case)
    user = await console.sign_in(Role.OFFICER)
    page = await (await console.client.get(f"/console/cases/{case}")).text()
    assert _acknowledgement(page)["status"] == "not_acknowledged"
    action = f"/console/messages/{message_id}/acknowledge"
    assert f'action="{action}"' in page

    for _ in range(2):  # a second press (a stale page) changes nothing
        answer = await console.client.post(
            action, data={"csrf_token": await console.csrf()}, allow_redirects=False
        )
        assert answer.status == 303
        assert answer.headers["Location"] == f"/console/cases/{case}#message-{message_id}"
    page = await (await console.client.get(f"/console/cases/{case}")).text()
    shown = _acknowledgement(page)
    assert shown["status"] == "acknowledged"
    assert f'<span class="acknowledged-by">{user.name}</span>' in shown["html"]
    assert 'data-how="console"' in shown["html"]
    assert f'action="{action}"' not in page
    assert await _acknowledgements_queued(console) == 1
    [queued] = [r for r in await console.store.list_outbox(limit=50) if r.kind == "acknowledgement"]
    assert (queued.recipient, queued.case_id) == (PEER, case)
    audit = [row for row in await console.store.list_audit() if row.action == "inbox.acknowledged"]
    assert [(row.actor, row.subject) for row in audit] == [(user.actor, str(message_id))]


async def test_operators_get_no_button_and_are_refused(console: ConsoleHarness) -> None:
    case = uuid.uuid4()
    message_id = await receive(console, handover_from_ratanakiri(), case)
    await console.sign_in(Role.OPERATOR)
    page = await (await console.client.get(f"/console/cases/{case}")).text()
    assert "/acknowledge" not in page
    answer = await console.client.post(
        f"/console/messages/{message_id}/acknowledge",
        data={"csrf_token": await console.csrf()},
        allow_redirects=False,
    )
    assert answer.status == 403
    assert await _acknowledgements_queued(console) == 0


async def test_without_its_csrf_token_or_for_an_unknown_message_nothing_is_sent(
    console: ConsoleHarness,
) -> None:
    case = uuid.uuid4()
    message_id = await receive(console, handover_from_ratanakiri(), case)
    await console.sign_in(Role.SUPERVISOR)
    refused = await console.client.post(
        f"/console/messages/{message_id}/acknowledge", allow_redirects=False
    )
    assert refused.status == 403
    unknown = await console.client.post(
        f"/console/messages/{uuid.uuid4()}/acknowledge",
        data={"csrf_token": await console.csrf()},
        allow_redirects=False,
    )
    assert unknown.status == 404
    assert await _acknowledgements_queued(console) == 0


async def test_a_sent_notice_awaits_then_shows_overdue_in_both_lists(
    console: ConsoleHarness,
) -> None:
    sent_id, case = await send(console, _arrest_notice())
    await console.sign_in(Role.OFFICER)
    page = await (await console.client.get(f"/console/cases/{case}")).text()
    assert _acknowledgement(page)["status"] == "awaiting"
    listing = await (await console.client.get("/console/cases")).text()
    assert "overdue-acknowledgement" not in listing

    # The default rule: a wanted notice requesting arrest, 12 hours.
    console.clock.advance(timedelta(hours=12, seconds=1))
    # The first session has ended meanwhile: a new one, as a browser would start it.
    console.client.session.cookie_jar.clear()
    await console.sign_in(Role.OFFICER)
    page = await (await console.client.get(f"/console/cases/{case}")).text()
    assert _acknowledgement(page)["status"] == "overdue"
    listing = await (await console.client.get("/console/cases")).text()
    row = f'<tr class="overdue-acknowledgement" data-message-id="{sent_id}" data-peer="{PEER}"'
    assert row in listing
    assert f'href="/console/cases/{case}#message-{sent_id}"' in listing

    console.client.session.cookie_jar.clear()
    await console.sign_in(Role.OPERATOR)
    operator = await (await console.client.get("/console/operator")).text()
    assert row in operator
    # Metadata only: the notice's person is not on the operator's page.
    assert "Rơ Châm" not in operator


async def test_an_officer_presses_acknowledge_in_chromium(
    console: ConsoleHarness, new_page: NewPage
) -> None:
    case = uuid.uuid4()
    message_id = await receive(console, handover_from_ratanakiri(), case)
    name, password = await console.add_user(Role.OFFICER, language="vi")
    page = await new_page()
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    messages = console_messages(page)
    await page.goto(str(console.client.make_url(f"/console/cases/{case}")))
    article = page.locator(f'article[data-message-id="{message_id}"]')
    button = article.locator("form.acknowledge button.acknowledge")
    assert await button.inner_text() == "Xác nhận đã nhận"
    await button.click()
    await page.wait_for_url(re.compile(rf".*/console/cases/{case}#message-{message_id}$"))
    shown = page.locator(f'article[data-message-id="{message_id}"] dd.acknowledgement')
    assert await shown.get_attribute("data-status") == "acknowledged"
    assert await shown.locator(".acknowledged-by").inner_text() == name
    assert await article.locator("form.acknowledge").count() == 0
    await screenshot(page, "case-acknowledged-vi")
    assert [m.text for m in messages if m.type == "error"] == []
    assert await _acknowledgements_queued(console) == 1
