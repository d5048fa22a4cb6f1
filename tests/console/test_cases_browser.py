"""The case list and a case page in real Chromium: a Khmer reader follows the link from the
list to a handover thread with the Khmer font loaded and nothing blocked by the CSP."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from gateway.console import Role
from gateway.wire import canonical
from tests.console.browser import (
    NewPage,
    console_messages,
    khmer_font_loaded,
    screenshot,
    sign_in,
)
from tests.console.cases_support import answer_to, handover_from_ratanakiri, receive, send
from tests.console.conftest import ConsoleHarness


async def test_a_khmer_reader_opens_a_handover_thread_from_the_list(
    console: ConsoleHarness, new_page: NewPage
) -> None:
    proposal = handover_from_ratanakiri()
    proposal.ClearField("sender_reference")
    sent_id, case = await send(console, proposal)
    await receive(
        console,
        answer_to(canonical.ACTION_COUNTER_PROPOSE, case, sent_id),
        case,
        in_reply_to=sent_id,
        at=datetime.now(UTC) + timedelta(minutes=1),
    )
    other = uuid.uuid4()
    await receive(console, handover_from_ratanakiri(), other, at=datetime.now(UTC))

    name, password = await console.add_user(Role.OFFICER, language="km")
    page = await new_page()
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    messages = console_messages(page)
    await page.goto(str(console.client.make_url("/console/cases")))
    assert await page.locator("table.cases tr.case").count() == 2
    assert await khmer_font_loaded(page)
    await screenshot(page, "cases-km")

    await page.click(f'tr.case[data-case="{case}"] a.case-link')
    await page.wait_for_url(re.compile(rf".*/console/cases/{case}$"))
    articles = page.locator("article.message")
    assert await articles.count() == 2
    assert await articles.nth(0).get_attribute("data-action") == "propose"
    assert await articles.nth(1).get_attribute("data-action") == "counter_propose"
    answered = await articles.nth(0).locator("time.answered-at").inner_text()
    assert re.search("[០-៩]", answered)
    names = page.locator("article.message").nth(0).locator(".person-name")
    assert await names.first.inner_text() == "ង្វៀន ធី ឡាន"
    assert await page.locator("form#answer").count() == 1  # the latest message came in
    assert await khmer_font_loaded(page)
    await screenshot(page, "case-km")
    assert [m.text for m in messages if m.type == "error"] == []
