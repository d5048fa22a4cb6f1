"""The console's frame in real Chromium: Khmer is drawn with the gateway's own font, and the
Content-Security-Policy stops inline script."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from gateway.console.rendering import LANGUAGE_COOKIE
from tests.console.browser import (
    NewPage,
    console_messages,
    khmer_font_loaded,
    screenshot,
)
from tests.console.conftest import ConsoleHarness
from tests.console.shell_app import shell_app


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    running = TestServer(shell_app(), host="127.0.0.1")
    await running.start_server()
    try:
        yield running
    finally:
        await running.close()


async def test_a_khmer_page_loads_the_khmer_font(server: TestServer, new_page: NewPage) -> None:
    page = await new_page()
    await page.context.add_cookies(
        [{"name": LANGUAGE_COOKIE, "value": "km", "url": str(server.make_url("/console/"))}]
    )
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    answer = await page.goto(str(server.make_url("/console/probe/forbidden")))
    assert answer is not None
    assert answer.status == 403
    assert await page.get_attribute("html", "lang") == "km"
    assert await khmer_font_loaded(page)
    assert str(server.make_url("/console/static/fonts/NotoSansKhmer.ttf")) in fetched
    await screenshot(page, "shell-error-km")


@pytest.mark.parametrize("language", ["en", "vi"])
async def test_other_pages_do_not_fetch_the_whole_khmer_font(
    server: TestServer, new_page: NewPage, language: str
) -> None:
    """Their only Khmer text, the switcher's "ខ្មែរ", is drawn from a small subset."""
    page = await new_page()
    await page.context.add_cookies(
        [{"name": LANGUAGE_COOKIE, "value": language, "url": str(server.make_url("/console/"))}]
    )
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    await page.goto(str(server.make_url("/console/probe/page?role=supervisor")))
    drawn = await page.evaluate(
        """async () => {
            await document.fonts.ready;
            return document.fonts.check('16px "Khmer language name"', "ខ្មែរ");
        }"""
    )
    assert drawn
    assert str(server.make_url("/console/static/fonts/NotoSansKhmer-switcher.ttf")) in fetched
    assert str(server.make_url("/console/static/fonts/NotoSansKhmer.ttf")) not in fetched
    await screenshot(page, f"shell-page-{language}")


async def test_the_policy_blocks_inline_script(server: TestServer, new_page: NewPage) -> None:
    page = await new_page()
    messages = console_messages(page)
    await page.goto(str(server.make_url("/console/probe/page")))
    # Script injected into the page (as an attacker's markup would be) must not run. An
    # inline script runs as it is inserted, so `__ran` tells at once if the policy let it;
    # otherwise the browser reports the violation, which ends the wait.
    outcome = await page.evaluate(
        """() => new Promise(resolve => {
            window.__ran = false;
            document.addEventListener("securitypolicyviolation", event =>
                resolve({ran: window.__ran, directive: event.effectiveDirective}));
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.appendChild(script);
            if (window.__ran) resolve({ran: true, directive: null});
        })"""
    )
    assert outcome == {"ran": False, "directive": "script-src-elem"}
    assert any("Content Security Policy" in message.text for message in messages)


async def test_each_page_has_its_own_cookies_and_a_fresh_profile(
    server: TestServer, new_page: NewPage, browser_profiles: Path
) -> None:
    first, second = await new_page(), await new_page()
    await first.goto(str(server.make_url("/console/lang/km?next=/console/probe/page")))
    await second.goto(str(server.make_url("/console/probe/page")))
    assert await first.get_attribute("html", "lang") == "km"
    assert await second.get_attribute("html", "lang") == "vi"  # the node's country
    assert any(browser_profiles.glob("playwright*profile*")), list(browser_profiles.iterdir())
    # ... while the test's own processes (gateways, PostgreSQL) keep the usual TMPDIR.
    assert os.environ.get("TMPDIR") != str(browser_profiles)


async def test_the_real_sign_in_page_in_khmer(console: ConsoleHarness, new_page: NewPage) -> None:
    """build_console over a real node and PostgreSQL, as an officer in Cambodia meets it."""
    page = await new_page()
    messages = console_messages(page)
    url = str(console.client.make_url("/console/sign-in"))
    await page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "km", "url": url}])
    answer = await page.goto(url)
    assert answer is not None
    assert answer.status == 200
    assert await page.get_attribute("html", "lang") == "km"
    assert await khmer_font_loaded(page)
    assert await page.locator("script:not([src])").count() == 0
    assert [m.text for m in messages if m.type == "error"] == []
    await screenshot(page, "shell-sign-in-km")
