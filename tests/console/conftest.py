"""The `console` fixture: the console's real aiohttp app over a real node config and a real
per-test PostgreSQL database, driven through aiohttp's test client over real HTTP.

The node is `vn-gialai-blo` with the peer `kh-ratanakiri-police`, its config written by the
federation harness's writer and loaded by the real loader; the context is built by
`gateway.components.console_context`, as a running node builds it. Time is a clock the test moves
(`console.clock.advance(...)`), so expiry and lock-out are tested without sleeping.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gateway.components import console_context
from gateway.console import ConsoleContext, ConsoleUser, Role, build_console
from gateway.console.accounts import add_user
from gateway.console.context import ConsoleLanguage
from gateway.store import EmbeddedPostgres, Store
from tests.console.browser import (  # noqa: F401 - the browser tests' fixtures
    browser_fixture,
    browser_profiles_fixture,
    new_page_fixture,
)
from tests.federation.harness import Federation

NODE = "vn-gialai-blo"
PEER = "kh-ratanakiri-police"
_CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]*)">')
_names = itertools.count(1)


class Clock:
    """The console's clock: real UTC time at the start, then moved only by the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


def csrf_token_in(page: str) -> str:
    found = _CSRF_INPUT.search(page)
    if found is None:
        raise AssertionError("no csrf_token field on the page")
    return found.group(1)


@dataclass
class ConsoleHarness:
    client: TestClient[web.Request, web.Application]
    ctx: ConsoleContext
    store: Store
    clock: Clock
    federation: Federation
    # The password of every user the harness added, by name.
    passwords: dict[str, str] = field(default_factory=dict)

    async def add_user(
        self, role: Role, language: ConsoleLanguage = "en", name: str | None = None
    ) -> tuple[str, str]:
        """A new user's (name, password)."""
        name = name or f"{role.value}-{next(_names)}"
        password = secrets.token_urlsafe(18)
        await add_user(self.store, name=name, password=password, role=role, language=language)
        self.passwords[name] = password
        return name, password

    async def post_sign_in(self, name: str, password: str, **extra: str) -> ClientResponse:
        """The answer to the sign-in form, filled in as a browser would (not followed)."""
        page = await self.client.get("/console/sign-in")
        token = csrf_token_in(await page.text())
        return await self.client.post(
            "/console/sign-in",
            data={"name": name, "password": password, "csrf_token": token, **extra},
            allow_redirects=False,
        )

    async def sign_in(
        self, role: Role, language: ConsoleLanguage = "en", name: str | None = None
    ) -> ConsoleUser:
        """Add a user and sign them in through the real form; the client keeps the cookie."""
        name, password = await self.add_user(role, language, name)
        answer = await self.post_sign_in(name, password)
        assert answer.status == 303, await answer.text()
        user = await self.store.console_user(name)
        assert user is not None
        return ConsoleUser(user.id, name, role, language)

    def session_cookie(self) -> str:
        """The value of the client's session cookie."""
        cookies = self.client.session.cookie_jar.filter_cookies(self.client.make_url("/console/"))
        return cookies["blg_session"].value

    async def start_with(self, session_cookie: str) -> str:
        """Where GET /console/ sends a browser that sends only this session cookie."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:
            answer = await browser.get(
                self.client.make_url("/console/"),
                headers={"Cookie": f"blg_session={session_cookie}"},
                allow_redirects=False,
            )
            return answer.headers["Location"]

    async def csrf(self, path: str = "/console/") -> str:
        """The CSRF token on a page (of the signed-in user's session, when there is one)."""
        page = await self.client.get(path)
        return csrf_token_in(await page.text())


@asynccontextmanager
async def running_console(federation: Federation) -> AsyncIterator[ConsoleHarness]:
    """The console of federation's node NODE (added here, with the peer PEER) over its real
    store; federation.sections may give NODE more config first."""
    await federation.add(NODE, PEER)
    store = await Store.connect(federation.nodes[NODE].dsn)
    await store.migrate()
    clock = Clock()
    ctx = console_context(federation.config(NODE), store, clock)
    app = web.Application()
    app.add_subapp("/console/", build_console(ctx))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield ConsoleHarness(client, ctx, store, clock, federation)
    finally:
        await client.close()
        await store.close()
        federation.stop_all()


@pytest.fixture
async def console(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleHarness]:
    async with running_console(Federation(tmp_path, postgres, ca)) as harness:
        yield harness
