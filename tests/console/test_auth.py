"""Sign-in, sessions and CSRF through real HTTP (aiohttp's test client over the real console
app) against a real database, with the console's clock moved by the test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from gateway.console import ConsoleContext, Role, build_console
from gateway.console.accounts import change_password, disable_user
from gateway.console.auth import require
from tests.console.conftest import ConsoleHarness, csrf_token_in

_TOKEN_VALUE = re.compile(r'(name="csrf_token" value=")[^"]*"')
_NAME_VALUE = re.compile(r'(id="name" name="name" value=")[^"]*"')


def _normalised(page: str) -> str:
    """The page without what differs by design: the fresh token and the name typed."""
    return _NAME_VALUE.sub(r'\1"', _TOKEN_VALUE.sub(r'\1"', page))


async def _start(console: ConsoleHarness) -> str:
    """Where GET /console/ sends the client: the cases when signed in, else sign-in."""
    answer = await console.client.get("/console/", allow_redirects=False)
    assert answer.status == 303
    return answer.headers["Location"]


async def _actions(console: ConsoleHarness) -> list[str]:
    return [row.action for row in await console.store.list_audit(1000)]


@pytest.mark.parametrize("role", list(Role))
async def test_the_right_password_signs_in(console: ConsoleHarness, role: Role) -> None:
    name, password = await console.add_user(role)
    answer = await console.post_sign_in(name, password)
    assert answer.status == 303
    assert answer.headers["Location"] == "/console/cases"
    assert await _start(console) == "/console/cases"
    assert (await _actions(console))[-1] == "console.sign_in"


async def test_the_sign_in_page(console: ConsoleHarness) -> None:
    page = await console.client.get("/console/sign-in")
    assert page.status == 200
    text = await page.text()
    assert '<button type="submit" id="sign-in">' in text
    assert 'name="name"' in text
    assert 'type="password" id="password" name="password"' in text
    assert csrf_token_in(text) == page.cookies["blg_signin"].value


async def test_every_refusal_looks_the_same(console: ConsoleHarness) -> None:
    """Wrong password, unknown name, locked account, disabled account: one status, one page."""
    name, password = await console.add_user(Role.OFFICER)
    locked, locked_password = await console.add_user(Role.OFFICER)
    disabled, disabled_password = await console.add_user(Role.OFFICER)
    await disable_user(console.store, disabled)
    for attempt in range(console.ctx.settings.lockout_after_failures):
        await console.post_sign_in(locked, f"guess {attempt}")
    pages = []
    for typed_name, typed_password in [
        (name, password + "x"),
        ("nobody", password),
        (locked, locked_password),
        (disabled, disabled_password),
    ]:
        answer = await console.post_sign_in(typed_name, typed_password)
        assert answer.status == 401
        assert "blg_session" not in answer.cookies
        page = await answer.text()
        assert 'data-reason="sign_in_refused"' in page
        assert typed_password not in page
        pages.append(_normalised(page))
    assert len(set(pages)) == 1
    assert await _start(console) == "/console/sign-in"


async def test_lock_out_after_five_failures_and_release_after_the_duration(
    console: ConsoleHarness,
) -> None:
    name, password = await console.add_user(Role.OFFICER)
    limit = console.ctx.settings.lockout_after_failures
    for attempt in range(limit):
        answer = await console.post_sign_in(name, f"guess {attempt}")
        assert answer.status == 401
    actions = await _actions(console)
    assert actions.count("console.sign_in_failed") == limit
    assert actions[-1] == "console.locked_out"

    console.clock.advance(console.ctx.settings.lockout_duration - timedelta(seconds=1))
    assert (await console.post_sign_in(name, password)).status == 401
    console.clock.advance(timedelta(seconds=1))
    assert (await console.post_sign_in(name, password)).status == 303
    assert await _start(console) == "/console/cases"


@pytest.mark.parametrize("secure", [False, True])
async def test_cookie_attributes(console: ConsoleHarness, secure: bool) -> None:
    ctx = replace(console.ctx, settings=replace(console.ctx.settings, secure_cookies=secure))
    app = web.Application()
    app.add_subapp("/console/", build_console(ctx))
    async with TestClient(TestServer(app)) as client:
        name, password = await console.add_user(Role.OFFICER)
        page = await client.get("/console/sign-in")
        token = csrf_token_in(await page.text())
        answer = await client.post(
            "/console/sign-in",
            data={"name": name, "password": password, "csrf_token": token},
            # Sent by hand: the client keeps Secure cookies for https only, as it should.
            headers={"Cookie": f"blg_signin={token}"},
            allow_redirects=False,
        )
    for set_cookie, cookie in [
        (page.headers["Set-Cookie"], "blg_signin"),
        (
            next(v for v in answer.headers.getall("Set-Cookie") if v.startswith("blg_session=")),
            "blg_session",
        ),
    ]:
        attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}
        assert set_cookie.startswith(f"{cookie}=")
        assert "httponly" in attributes
        assert "samesite=strict" in set_cookie.lower()
        assert "path=/console/" in set_cookie.lower()
        assert ("secure" in attributes) == secure
    session = answer.cookies["blg_session"].value
    assert len(session) == 43  # 256 bits in base64url
    rows = await console.store.console_users()
    assert session not in repr(rows)


@pytest.mark.parametrize(
    ("steps", "alive"),
    [
        ([timedelta(minutes=29)], True),
        ([timedelta(minutes=30)], False),
        # Each request moves the idle end, but not the absolute one.
        ([timedelta(minutes=25)] * 28, True),
        ([timedelta(minutes=25)] * 28 + [timedelta(minutes=20)], False),
    ],
)
async def test_sessions_end_when_idle_or_at_their_lifetime(
    console: ConsoleHarness, steps: list[timedelta], alive: bool
) -> None:
    await console.sign_in(Role.OFFICER)
    for step in steps[:-1]:
        console.clock.advance(step)
        assert await _start(console) == "/console/cases"
    console.clock.advance(steps[-1])
    answer = await console.client.get("/console/", allow_redirects=False)
    assert answer.headers["Location"] == ("/console/cases" if alive else "/console/sign-in")
    if not alive:
        # The stale cookie is dropped, so the browser stops sending it.
        assert answer.cookies["blg_session"].value == ""


async def test_sign_out_ends_the_session(console: ConsoleHarness) -> None:
    await console.sign_in(Role.SUPERVISOR)
    cookie = console.session_cookie()
    assert await console.start_with(cookie) == "/console/cases"
    token = await console.csrf()
    answer = await console.client.post(
        "/console/sign-out", data={"csrf_token": token}, allow_redirects=False
    )
    assert answer.status == 303
    assert answer.headers["Location"] == "/console/sign-in"
    assert await _start(console) == "/console/sign-in"
    assert (await _actions(console))[-1] == "console.sign_out"
    # The old cookie, sent again (say, from a copy), finds no session.
    assert await console.start_with(cookie) == "/console/sign-in"


@pytest.mark.parametrize(
    "change",
    ["disable", "new password"],
)
async def test_a_disabled_user_or_a_new_password_ends_the_session_at_once(
    console: ConsoleHarness, change: str
) -> None:
    user = await console.sign_in(Role.OFFICER)
    assert await _start(console) == "/console/cases"
    if change == "disable":
        await disable_user(console.store, user.name)
    else:
        await change_password(console.store, name=user.name, password="a new passphrase")
    assert await _start(console) == "/console/sign-in"


@pytest.mark.parametrize("token", [None, "", "wrong", "session-of-someone-else"])
async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    console: ConsoleHarness, token: str | None
) -> None:
    await console.sign_in(Role.OFFICER)
    if token == "session-of-someone-else":
        other = TestClient(TestServer(console.client.app))
        await other.start_server()
        try:
            name, password = await console.add_user(Role.OFFICER)
            page = await other.get("/console/sign-in")
            await other.post(
                "/console/sign-in",
                data={
                    "name": name,
                    "password": password,
                    "csrf_token": csrf_token_in(await page.text()),
                },
            )
            token = csrf_token_in(await (await other.get("/console/")).text())
        finally:
            await other.close()
    before = await _actions(console)
    data = {} if token is None else {"csrf_token": token}
    answer = await console.client.post("/console/sign-out", data=data, allow_redirects=False)
    assert answer.status == 403
    assert 'data-reason="csrf_failed"' in await answer.text()
    assert await _start(console) == "/console/cases"  # still signed in
    assert await _actions(console) == before


@pytest.mark.parametrize("token", [None, "", "forged"])
async def test_sign_in_without_the_form_token_is_refused(
    console: ConsoleHarness, token: str | None
) -> None:
    name, password = await console.add_user(Role.OFFICER)
    await console.client.get("/console/sign-in")  # the browser has the cookie...
    data = {"name": name, "password": password}  # ...but the post does not repeat it
    if token is not None:
        data["csrf_token"] = token
    before = await _actions(console)
    answer = await console.client.post("/console/sign-in", data=data, allow_redirects=False)
    assert answer.status == 403
    assert 'data-reason="csrf_failed"' in await answer.text()
    assert "blg_session" not in answer.cookies
    assert await _actions(console) == before


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("/console/operator?peer=x", "/console/operator?peer=x"),
        ("https://evil.example/console/", "/console/cases"),
        ("//evil.example/console/", "/console/cases"),
        ("/api/v1/messages", "/console/cases"),
        ("/console/sign-out", "/console/cases"),
    ],
)
async def test_sign_in_returns_to_a_console_page_only(
    console: ConsoleHarness, next_path: str, location: str
) -> None:
    name, password = await console.add_user(Role.OPERATOR)
    page = await console.client.get("/console/sign-in", params={"next": next_path})
    answer = await console.client.post(
        "/console/sign-in",
        params={"next": next_path},
        data={"name": name, "password": password, "csrf_token": csrf_token_in(await page.text())},
        allow_redirects=False,
    )
    assert answer.headers["Location"] == location


@pytest.fixture
async def probe(console: ConsoleHarness) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The console with one extra page that only supervisors may see, through require()."""

    def console_with_probe(ctx: ConsoleContext) -> web.Application:
        app = build_console(ctx)

        async def supervisors_only(request: web.Request) -> web.Response:
            user = require(request, Role.SUPERVISOR)
            return web.Response(text=f"hello {user.actor}")

        async def anyone(request: web.Request) -> web.Response:
            return web.Response(text=require(request).name)

        app.router.add_get("/probe", supervisors_only)
        app.router.add_post("/probe", anyone)
        return app

    app = web.Application()
    app.add_subapp("/console/", console_with_probe(console.ctx))
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize(("role", "status"), [(Role.SUPERVISOR, 200), (Role.OFFICER, 403)])
async def test_require_checks_the_role(
    console: ConsoleHarness,
    probe: TestClient[web.Request, web.Application],
    role: Role,
    status: int,
) -> None:
    name, password = await console.add_user(role)
    page = await probe.get("/console/sign-in")
    await probe.post(
        "/console/sign-in",
        data={"name": name, "password": password, "csrf_token": csrf_token_in(await page.text())},
    )
    answer = await probe.get("/console/probe", allow_redirects=False)
    assert answer.status == status
    if status == 403:
        assert 'data-reason="forbidden"' in await answer.text()


async def test_without_a_session_pages_and_posts_go_to_sign_in(
    probe: TestClient[web.Request, web.Application],
) -> None:
    page = await probe.get("/console/probe?x=1", allow_redirects=False)
    assert page.status == 303
    target = URL(page.headers["Location"])
    assert (target.path, target.query["next"]) == ("/console/sign-in", "/console/probe?x=1")
    posted = await probe.post("/console/probe", data={"csrf_token": ""}, allow_redirects=False)
    assert posted.status == 303
    assert posted.headers["Location"] == "/console/sign-in?next=/console/probe"


async def test_a_sign_in_form_left_open_in_another_tab_still_works(
    console: ConsoleHarness,
) -> None:
    first_tab = csrf_token_in(await (await console.client.get("/console/sign-in")).text())
    await console.client.get("/console/sign-in")  # a second tab
    await console.sign_in(Role.OFFICER)  # ...signs in
    officer = console.session_cookie()
    name, password = await console.add_user(Role.SUPERVISOR)
    answer = await console.client.post(
        "/console/sign-in",
        data={"name": name, "password": password, "csrf_token": first_tab},
        allow_redirects=False,
    )
    assert answer.status == 303
    # The new sign-in ended the session the browser had.
    assert (await _actions(console))[-2:] == ["console.sign_in", "console.sign_out"]
    assert await console.start_with(officer) == "/console/sign-in"
    assert await _start(console) == "/console/cases"


@pytest.mark.parametrize(
    ("language", "title", "refusal"),
    [
        ("vi", "Đăng nhập", "Tên đăng nhập hoặc mật khẩu không đúng"),
        ("km", "ចូលគណនី", "ឈ្មោះអ្នកប្រើ ឬពាក្យសម្ងាត់មិនត្រឹមត្រូវ"),
        ("en", "Sign in", "The name or the password is not right"),
    ],
)
async def test_the_sign_in_page_speaks_the_readers_language(
    console: ConsoleHarness, language: str, title: str, refusal: str
) -> None:
    await console.client.get(f"/console/lang/{language}", params={"next": "/console/sign-in"})
    page = await (await console.client.get("/console/sign-in")).text()
    assert f'<html lang="{language}">' in page
    assert f'<button type="submit" id="sign-in">{title}</button>' in page
    refused = await (await console.post_sign_in("nobody", "not a password")).text()
    assert refusal in refused
    empty = await console.post_sign_in("", "")
    assert empty.status == 400
    errors = re.findall(r'<p class="field-error" data-field="(\w+)"', await empty.text())
    assert errors == ["name", "password"]
