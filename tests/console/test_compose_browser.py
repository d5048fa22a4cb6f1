"""The handover form and the approvals page in real Chromium (the `console` fixture's server):
errors shown beside their fields in Khmer, nothing blocked by the Content-Security-Policy,
and a supervisor's click that queues the proposal."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.async_api import Page

from gateway.console import Role
from gateway.console.context import ConsoleLanguage
from tests.console.browser import (
    NewPage,
    console_messages,
    khmer_font_loaded,
    screenshot,
    sign_in,
)
from tests.console.conftest import PEER, ConsoleHarness
from tests.console.test_compose import CHILD, local

CASE_URL = re.compile(r".*/console/cases/[0-9a-f-]{36}$")


async def _signed_in(
    console: ConsoleHarness, new_page: NewPage, role: Role, lang: ConsoleLanguage
) -> Page:
    name, password = await console.add_user(role, language=lang)
    page = await new_page()
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    return page


async def test_a_handover_composed_in_khmer_and_approved_in_vietnamese(
    console: ConsoleHarness, new_page: NewPage
) -> None:
    officer = await _signed_in(console, new_page, Role.OFFICER, "km")
    messages = console_messages(officer)
    await officer.goto(str(console.client.make_url("/console/compose/handover")))
    assert await officer.get_attribute("html", "lang") == "km"
    await officer.select_option("#border_gate", "KH-OYADAV")
    await officer.fill("#planned_at", local(console.clock.now - timedelta(hours=1)))
    await officer.fill("#victims-0-name", CHILD)  # Khmer script, and no Latin form yet
    await officer.check('input[name="victims-0-minor"]')
    await officer.check('input[name="victims-0-needs"][value="psychological"]')
    await officer.click("#submit")

    error = officer.locator('.field-error[data-field="victims-0-name_latin"]')
    assert await error.inner_text() == "បញ្ចូលឈ្មោះជាអក្សរឡាតាំង នាមត្រកូលមុន (ឧទាហរណ៍ SOK Dara)"
    assert await officer.locator('.field-error[data-field="planned_at"]').count() == 1
    # The form keeps what was typed and checked.
    assert await officer.input_value("#victims-0-name") == CHILD
    assert await officer.is_checked('input[name="victims-0-needs"][value="psychological"]')
    assert await khmer_font_loaded(officer)
    await screenshot(officer, "compose-handover-errors-km")
    assert await console.store.drafts_awaiting() == []

    await officer.fill("#victims-0-name_latin", "SOK Dara")
    await officer.fill("#planned_at", local(console.clock.now + timedelta(days=2)))
    await officer.click("#submit")
    await officer.wait_for_url(CASE_URL)
    [draft] = await console.store.drafts_awaiting()
    assert draft.recipients == (PEER,)

    supervisor = await _signed_in(console, new_page, Role.SUPERVISOR, "vi")
    await supervisor.goto(str(console.client.make_url("/console/approvals")))
    row = supervisor.locator(f'tr.draft[data-draft-id="{draft.id}"]')
    assert CHILD in await row.inner_text()
    await screenshot(supervisor, "approvals-vi")
    await row.locator("button.approve").click()
    await supervisor.wait_for_url(CASE_URL)
    [queued] = await console.store.list_outbox()
    assert queued.recipient == PEER
    # The 400 of the refused form is logged as a failed load; nothing may be blocked.
    assert not [m.text for m in messages if "Content Security Policy" in m.text]
