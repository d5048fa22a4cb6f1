"""Sessions and redirects as an attacker tries them: fixation, stolen cookies, hostile
`next=` targets, and a sign-in flood against the lock-out."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

import aiohttp
import pytest

from gateway.console import Role
from gateway.console.accounts import disable_user
from tests.console.conftest import ConsoleHarness, csrf_token_in


async def test_a_session_planted_before_sign_in_does_not_survive_it(
    console: ConsoleHarness,
) -> None:
    """The attacker signs in, plants their session cookie in the officer's browser; the
    officer signs in: the browser gets a new session, the planted one ends."""
    await console.sign_in(Role.OPERATOR)  # the attacker's own account
    planted = console.session_cookie()
    name, password = await console.add_user(Role.OFFICER)
    # The sign-in form of a browser with a session: its pre-session token is the cookie's.
    cookies = console.client.session.cookie_jar.filter_cookies(console.client.make_url("/console/"))
    answer = await console.client.post(
        "/console/sign-in",
        data={"name": name, "password": password, "csrf_token": cookies["blg_signin"].value},
        allow_redirects=False,
    )
    assert answer.status == 303
    officer_session = console.session_cookie()
    assert officer_session != planted
    assert await console.start_with(planted) == "/console/sign-in"
    assert await console.start_with(officer_session) == "/console/cases"


async def test_a_made_up_session_cookie_is_replaced_at_sign_in(console: ConsoleHarness) -> None:
    made_up = "A" * 43
    console.client.session.cookie_jar.update_cookies(
        {"blg_session": made_up}, console.client.make_url("/console/")
    )
    await console.sign_in(Role.OFFICER)
    assert console.session_cookie() != made_up
    assert await console.start_with(made_up) == "/console/sign-in"


async def test_a_stolen_cookie_of_a_disabled_user_opens_nothing(console: ConsoleHarness) -> None:
    user = await console.sign_in(Role.SUPERVISOR)
    stolen = console.session_cookie()
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


async def test_a_sign_in_flood_does_not_hold_up_signed_in_users(console: ConsoleHarness) -> None:
    """Each attempt costs an Argon2id hash, and at most two run at once: a flood queues
    there, while a signed-in officer's pages (a session look-up, no hash) answer at once.
    The flood also locks the account it names (for lockout_duration: the design accepts
    that a guesser can keep a known name locked, and the operator lifts it with
    `gateway users passwd`); the officer already signed in keeps working."""
    officer = await console.sign_in(Role.OFFICER)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as attacker:
        form = await attacker.get(console.client.make_url("/console/sign-in"))
        token = csrf_token_in(await form.text())
        flood = [
            asyncio.create_task(
                attacker.post(
                    console.client.make_url("/console/sign-in"),
                    data={"name": name, "password": "not the password", "csrf_token": token},
                    allow_redirects=False,
                )
            )
            for number in range(40)
            for name in [officer.name if number % 2 else f"nobody-{number}"]
        ]
        answer = await console.client.get("/console/cases")
        assert answer.status == 200
        unanswered = sum(not attempt.done() for attempt in flood)
        statuses = [(await attempt).status for attempt in flood]
    # Answered while most of the flood still waited for its hash.
    assert unanswered >= len(flood) // 2
    assert set(statuses) == {401}
    actions = [row.action for row in await console.store.list_audit(1000)]
    assert "console.locked_out" in actions


@pytest.mark.parametrize("name", ["officer\x00", "a\x00b", "Officer", "x" * 300, "ofﬁcer"])
async def test_a_name_no_user_can_have_is_refused_like_any_other(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    """Refused with the one refusal page, and no error logged: before, a NUL in the name
    was a 500 and an error trace in the log for every anonymous attempt."""
    await console.add_user(Role.OFFICER, name="officer")
    answer = await console.post_sign_in(name, console.passwords["officer"])
    assert answer.status == 401
    assert 'data-reason="sign_in_refused"' in await answer.text()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
