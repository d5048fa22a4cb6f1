"""Hostile peer text in real Chromium: no script runs, no dialog opens, the CSP reports no
violation, and 10,000 unbroken characters do not push the page wider than the window."""

from __future__ import annotations

import uuid

from playwright.async_api import Dialog

from gateway.console import Role
from tests.console.browser import (
    VIEWPORT,
    NewPage,
    console_messages,
    screenshot,
    sign_in,
)
from tests.console.cases_support import receive
from tests.console.conftest import ConsoleHarness
from tests.console.test_review_xss import HOSTILE, LONG, poisoned, sample


async def test_hostile_peer_text_runs_nothing_and_keeps_the_page_usable(
    console: ConsoleHarness, new_page: NewPage
) -> None:
    cases = {}
    for kind in ("victim_handover", "wanted_person_notice", "hotline_alert"):
        message = sample(kind)
        poisoned(message, HOSTILE + LONG)
        cases[kind] = uuid.uuid4()
        await receive(console, message, cases[kind])
    name, password = await console.add_user(Role.SUPERVISOR)
    page = await new_page()
    dialogs: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", refuse)
    messages = console_messages(page)
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    widths = {}
    for kind, case in cases.items():
        for path in ("/console/cases", f"/console/cases/{case}"):
            await page.goto(str(console.client.make_url(path)))
            widths[path] = await page.evaluate("document.documentElement.scrollWidth")
        assert await page.locator("article.message").count() == 1
        await screenshot(page, f"review-hostile-{kind}")
    assert dialogs == []
    assert [m.text for m in messages if m.type == "error"] == []
    assert await page.evaluate("document.querySelectorAll('img, script:not([src])').length") == 0
    too_wide = {path: width for path, width in widths.items() if width > VIEWPORT["width"]}
    assert too_wide == {}
