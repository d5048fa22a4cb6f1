"""The shell inside the real console (build_console over a real node config and PostgreSQL,
with auth's middlewares): headers on every answer, the page budget, the language switch."""

from __future__ import annotations

import pytest

from gateway.console.context import Role
from gateway.console.rendering import CONTENT_SECURITY_POLICY, LANGUAGE_COOKIE
from tests.console.conftest import ConsoleHarness
from tests.console.test_rendering import PAGE_BUDGET, page_weight


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/console/sign-in", 200),
        ("GET", "/console/", 303),
        ("GET", "/console/cases", 303),
        ("POST", "/console/sign-in", 403),  # no CSRF token
        ("GET", "/console/no-such-page", 404),
        ("GET", "/console/static/console.css", 200),
    ],
)
async def test_every_answer_of_the_console_carries_the_security_headers(
    console: ConsoleHarness, method: str, path: str, status: int
) -> None:
    response = await console.client.request(method, path, allow_redirects=False)
    assert response.status == status
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Cache-Control" in response.headers


@pytest.mark.parametrize("language", ["vi", "km", "en"])
async def test_the_sign_in_page_fits_a_slow_link(console: ConsoleHarness, language: str) -> None:
    console.client.session.cookie_jar.update_cookies({LANGUAGE_COOKIE: language})
    weight = await page_weight(console.client, "/console/sign-in")
    assert weight < PAGE_BUDGET, weight


async def test_a_signed_in_page_has_the_users_navigation_in_their_language(
    console: ConsoleHarness,
) -> None:
    user = await console.sign_in(Role.SUPERVISOR, language="km")
    page = await (await console.client.get("/console/no-such-page")).text()
    assert '<html lang="km">' in page
    assert f'<span class="user-name">{user.name}</span>' in page
    assert 'href="/console/approvals"' in page
    assert "ថ្នាក់ដឹកនាំ" in page  # the supervisor's role, in Khmer
    answer = await console.client.get(
        "/console/lang/en", params={"next": "/console/no-such-page"}, allow_redirects=False
    )
    assert answer.status == 303
    page = await (await console.client.get("/console/no-such-page")).text()
    assert '<html lang="en">' in page
