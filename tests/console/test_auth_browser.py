"""Sign-in in real Chromium: the form works under the console's CSP, the session cookie is out
of reach of scripts, and another site's form cannot act with it (SameSite=Strict)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.console import Role
from gateway.console.rendering import LANGUAGE_COOKIE
from tests.console.browser import (
    NewPage,
    console_messages,
    khmer_font_loaded,
    screenshot,
    sign_in,
)
from tests.console.conftest import ConsoleHarness


@pytest.fixture
async def other_site(console: ConsoleHarness) -> AsyncIterator[TestServer]:
    """A page on another site (localhost, where the console is 127.0.0.1) whose form posts
    to the console's sign-out as soon as it loads."""
    target = console.client.make_url("/console/sign-out")

    async def lure(_request: web.Request) -> web.Response:
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><title>prize</title>
<form id="f" method="post" action="{target}"><input name="csrf_token" value="guess"></form>
<script>document.getElementById("f").submit()</script>""",
        )

    app = web.Application()
    app.router.add_get("/prize", lure)
    server = TestServer(app, host="localhost")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def test_an_officer_signs_in_in_khmer(console: ConsoleHarness, new_page: NewPage) -> None:
    name, password = await console.add_user(Role.OFFICER, "km")
    page = await new_page()
    messages = console_messages(page)
    await page.context.add_cookies(
        [{"name": LANGUAGE_COOKIE, "value": "km", "url": str(console.client.make_url("/console/"))}]
    )
    await page.goto(str(console.client.make_url("/console/")))
    assert page.url == str(console.client.make_url("/console/sign-in"))
    assert await page.get_attribute("html", "lang") == "km"
    assert await khmer_font_loaded(page)

    await page.fill("#name", name)
    await page.fill("#password", "not the password")
    async with page.expect_navigation():
        await page.click("#sign-in")
    assert await page.locator(".sign-in-refused").count() == 1
    await screenshot(page, "auth-sign-in-refused-km")

    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.click("#sign-in")
    assert page.url == str(console.client.make_url("/console/cases"))
    assert "blg_session" not in await page.evaluate("document.cookie")  # HttpOnly
    cookie = next(c for c in await page.context.cookies() if c["name"] == "blg_session")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/console/")
    # Nothing the page needs is blocked by the Content-Security-Policy.
    assert not [m.text for m in messages if "Content Security Policy" in m.text]


async def test_another_sites_form_cannot_act_with_the_session(
    console: ConsoleHarness, new_page: NewPage, other_site: TestServer
) -> None:
    name, password = await console.add_user(Role.SUPERVISOR)
    page = await new_page()
    await sign_in(page, str(console.client.make_url("/console/sign-in")), name, password)
    before = [row.action for row in await console.store.list_audit(1000)]

    # The browser follows the lure's post without the session cookie: no session, no action.
    async with page.expect_navigation(url="**/console/sign-in**"):
        await page.goto(str(other_site.make_url("/prize")))
    assert [row.action for row in await console.store.list_audit(1000)] == before
    await page.goto(str(console.client.make_url("/console/")))
    assert page.url == str(console.client.make_url("/console/cases"))  # still signed in
