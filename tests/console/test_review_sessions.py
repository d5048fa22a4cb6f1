"""Sessions and redirects as an attacker tries them: fixation, stolen cookies, hostile
`next=` targets, and a sign-in flood against the lock-out."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest

from gateway.console import Role
from gateway.console.accounts import disable_user
from tests.console.conftest import ConsoleHarness, csrf_token_in


def _session_cookie(console: ConsoleHarness) -> str:
    cookies = console.client.session.cookie_jar.filter_cookies(console.client.make_url("/console/"))
    return cookies["blg_session"].value


async def _start_with(console: ConsoleHarness, session_cookie: str) -> str:
    """Where GET /console/ sends a browser that sends only this session cookie."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:
        answer = await browser.get(
            console.client.make_url("/console/"),
            headers={"Cookie": f"blg_session={session_cookie}"},
            allow_redirects=False,
        )
        return answer.headers["Location"]


async def test_a_session_planted_before_sign_in_does_not_survive_it(
    console: ConsoleHarness,
) -> None:
    """The attacker signs in, plants their session cookie in the officer's browser; the
    officer signs in: the browser gets a new session, the planted one ends."""
    await console.sign_in(Role.OPERATOR)  # the attacker's own account
    planted = _session_cookie(console)
    name, password = await console.add_user(Role.OFFICER)
    # The sign-in form of a browser with a session: its pre-session token is the cookie's.
    cookies = console.client.session.cookie_jar.filter_cookies(console.client.make_url("/console/"))
    answer = await console.client.post(
        "/console/sign-in",
        data={"name": name, "password": password, "csrf_token": cookies["blg_signin"].value},
        allow_redirects=False,
    )
    assert answer.status == 303
    officer_session = _session_cookie(console)
    assert officer_session != planted
    assert await _start_with(console, planted) == "/console/sign-in"
    assert await _start_with(console, officer_session) == "/console/cases"


async def test_a_made_up_session_cookie_is_replaced_at_sign_in(console: ConsoleHarness) -> None:
    made_up = "A" * 43
    console.client.session.cookie_jar.update_cookies(
        {"blg_session": made_up}, console.client.make_url("/console/")
    )
    await console.sign_in(Role.OFFICER)
    assert _session_cookie(console) != made_up
    assert await _start_with(console, made_up) == "/console/sign-in"


async def test_a_stolen_cookie_of_a_disabled_user_opens_nothing(console: ConsoleHarness) -> None:
    user = await console.sign_in(Role.SUPERVISOR)
    stolen = _session_cookie(console)
    await disable_user(console.store, user.name)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as thief:
        for path in ("/console/cases", "/console/approvals", "/console/operator"):
            answer = await thief.get(
                console.client.make_url(path),
                headers={"Cookie": f"blg_session={stolen}"},
                allow_redirects=False,
            )
            assert answer.status == 303
            assert answer.headers["Location"].startswith("/console/sign-in")


# next= as an attacker writes it -> where the console sends the browser
HOSTILE_NEXT = {
    "https://evil.example/": "/console/",
    "//evil.example/console/": "/console/",
    "/\\evil.example": "/console/",
    "/console/%2e%2e/%2e%2e/x": "/console/",
    "/console/cases\r\nSet-Cookie: blg_session=x": "/console/",
    # A raw control or non-ASCII character cannot go into a Location header: aiohttp
    # refuses to send it and drops the connection, so the browser gets no answer at all.
    "/console/cases\x00": "/console/",
    "/console/cases\x7f": "/console/",
    "/console/cases?kind=\u2028": "/console/",
    "/console/cases?kind=victim_handover": "/console/cases?kind=victim_handover",
}


@pytest.mark.parametrize("target", list(HOSTILE_NEXT))
async def test_the_language_switch_never_redirects_off_the_console(
    console: ConsoleHarness, target: str
) -> None:
    answer = await console.client.get(
        f"/console/lang/km?next={quote(target, safe='')}", allow_redirects=False
    )
    assert (answer.status, answer.headers["Location"]) == (303, HOSTILE_NEXT[target])


@pytest.mark.parametrize("target", list(HOSTILE_NEXT))
async def test_sign_in_never_redirects_off_the_console(
    console: ConsoleHarness, target: str
) -> None:
    name, password = await console.add_user(Role.OFFICER)
    page = await console.client.get("/console/sign-in")
    answer = await console.client.post(
        f"/console/sign-in?next={quote(target, safe='')}",
        data={"name": name, "password": password, "csrf_token": csrf_token_in(await page.text())},
        allow_redirects=False,
    )
    expected = HOSTILE_NEXT[target]
    assert (answer.status, answer.headers["Location"]) == (
        303,
        "/console/cases" if expected == "/console/" else expected,
    )
