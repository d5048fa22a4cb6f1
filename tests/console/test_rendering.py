"""The console's frame: security headers, error pages, page language, switcher, navigation."""

from __future__ import annotations

import gzip
import io
import logging
import re
from collections.abc import AsyncIterator

import aiohttp_jinja2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from gateway.console import assets
from gateway.console.rendering import (
    CONTENT_SECURITY_POLICY,
    LANGUAGE_COOKIE,
    LANGUAGE_NAMES,
    setup,
)
from tests.console.shell_app import SECRET, fake_context, shell_app

Client = TestClient[web.Request, web.Application]
ASSETS = (
    "/console/static/console.css",
    "/console/static/fonts/NotoSansKhmer.ttf",
    "/console/static/fonts/OFL.txt",
)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with TestClient(TestServer(shell_app())) as client:
        yield client


def main_attribute(page: str, name: str) -> str | None:
    main = re.search(r"<main\b[^>]*>", page)
    assert main is not None
    found = re.search(rf'\b{name}="([^"]*)"', main.group(0))
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/console/probe/page", 200),
        ("GET", "/console/probe/forbidden", 403),
        ("POST", "/console/probe/csrf", 403),
        ("GET", "/console/probe/crash", 500),
        ("GET", "/console/probe/redirect", 303),
        ("GET", "/console/no-such-page", 404),
        ("POST", "/console/probe/page", 405),
        ("GET", "/console/lang/km?next=/console/cases", 303),
        *(("GET", asset, 200) for asset in ASSETS),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: Client, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, allow_redirects=False)
    assert response.status == status
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    if path in ASSETS:
        assert "immutable" in response.headers["Cache-Control"]
    else:
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", "/console/probe/forbidden", 403, "forbidden"),
        ("POST", "/console/probe/csrf", 403, "csrf_failed"),
        ("POST", "/console/probe/conflict", 409, "not_awaiting_approval"),
        ("GET", "/console/probe/bad", 400, "bad_request"),
        ("GET", "/console/no-such-page", 404, "not_found"),
        ("POST", "/console/probe/page", 405, "method_not_allowed"),
        ("GET", "/console/probe/crash", 500, "internal_error"),
    ],
)
async def test_errors_are_pages_with_a_reason_code_and_no_trace(
    client: Client,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    status: int,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await client.request(method, path)
    page = await response.text()
    assert response.status == status
    assert response.content_type == "text/html"
    assert main_attribute(page, "data-reason") == reason
    assert "Traceback" not in page
    assert SECRET not in page
    assert SECRET not in caplog.text


async def test_a_crash_is_logged_by_type_and_place_without_its_message(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    await client.get("/console/probe/crash")
    assert "RuntimeError" in caplog.text
    assert "shell_app.py" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("vi", ("Không được phép", "Lỗi 403")),
        ("km", ("មិនត្រូវបានអនុញ្ញាត", "កំហុស ៤០៣")),
        ("en", ("Not allowed", "Error 403")),
    ],
)
async def test_the_error_page_is_in_the_readers_language(
    client: Client, language: str, expected: tuple[str, str]
) -> None:
    client.session.cookie_jar.update_cookies({LANGUAGE_COOKIE: language})
    page = await (await client.get("/console/probe/forbidden")).text()
    assert f'<html lang="{language}">' in page
    for text in expected:
        assert text in page


@pytest.mark.parametrize(
    ("cookie", "user_default", "country", "expected"),
    [
        ("km", "vi", "VN", "km"),  # the switcher wins
        (None, "km", "VN", "km"),  # then the user's default
        (None, None, "VN", "vi"),  # then the node's country
        (None, None, "KH", "km"),
        ("xx", None, "KH", "km"),  # an unknown cookie is ignored
        (None, None, "LA", "en"),  # else English
    ],
)
async def test_page_language(
    cookie: str | None, user_default: str | None, country: str, expected: str
) -> None:
    async with TestClient(TestServer(shell_app(fake_context(country)))) as client:
        if cookie:
            client.session.cookie_jar.update_cookies({LANGUAGE_COOKIE: cookie})
        query = f"?role=officer&default={user_default}" if user_default else ""
        page = await (await client.get(f"/console/probe/page{query}")).text()
    assert f'<html lang="{expected}">' in page
    assert re.search(rf'<a data-lang="{expected}"[^>]*aria-current="true"', page)


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/console/cases?kind=victim_handover&state=queued", None),
        ("/console/", None),
        ("//evil.example/console/", "/console/"),
        ("https://evil.example/console/", "/console/"),
        ("/\\evil.example/console/", "/console/"),
        ("javascript:alert(1)", "/console/"),
        ("/api/v1/messages", "/console/"),
        ("/console/../api/v1/messages", "/console/"),
        ("/console/%2e%2e/metrics", "/console/"),
        ("", "/console/"),
    ],
)
async def test_the_language_switch_sets_its_cookie_and_refuses_off_site_targets(
    client: Client, target: str, location: str | None
) -> None:
    response = await client.get("/console/lang/km", params={"next": target}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == (location or target)
    cookie = response.cookies[LANGUAGE_COOKIE]
    assert cookie.value == "km"
    assert cookie["path"] == "/console/"
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"


async def test_an_unknown_language_is_not_found(client: Client) -> None:
    response = await client.get("/console/lang/fr?next=/console/", allow_redirects=False)
    assert response.status == 404
    assert LANGUAGE_COOKIE not in response.cookies


NAVIGATION = {
    "/console/cases": {"officer", "supervisor", "operator", "admin"},
    "/console/compose/handover": {"officer", "supervisor"},
    "/console/compose/alert": {"officer", "supervisor"},
    "/console/approvals": {"supervisor"},
    "/console/operator": {"operator", "admin"},
}


@pytest.mark.parametrize("role", ["officer", "supervisor", "operator", "admin", None])
async def test_navigation_follows_the_role(client: Client, role: str | None) -> None:
    page = await (await client.get("/console/probe/page", params={"role": role or ""})).text()
    for link, roles in NAVIGATION.items():
        assert (f'href="{link}"' in page) == (role in roles), link
    assert ('action="/console/sign-out"' in page) == (role is not None)
    if role:
        assert 'name="csrf_token" value="probe-token"' in page
    assert '<nav class="languages"' in page


async def test_the_alert_form_is_offered_on_the_vietnamese_side_only() -> None:
    async with TestClient(TestServer(shell_app(fake_context("KH")))) as client:
        page = await (await client.get("/console/probe/page?role=officer")).text()
    assert 'href="/console/compose/handover"' in page
    assert 'href="/console/compose/alert"' not in page


async def test_no_inline_script_or_style_in_the_frame(client: Client) -> None:
    page = await (await client.get("/console/probe/page?role=supervisor")).text()
    assert "<script" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert re.search(r"\son[a-z]+=", page) is None


@pytest.mark.parametrize(
    ("path", "content_type", "starts"),
    [
        ("/console/static/console.css", "text/css", b"/* Border liaison console"),
        ("/console/static/fonts/NotoSansKhmer.ttf", "font/ttf", b"\x00\x01\x00\x00"),
        ("/console/static/fonts/OFL.txt", "text/plain", b"Copyright"),
    ],
)
async def test_static_assets(client: Client, path: str, content_type: str, starts: bytes) -> None:
    response = await client.get(path)
    body = await response.read()
    assert response.content_type == content_type
    assert body.startswith(starts)
    if path.endswith("OFL.txt"):
        assert b"SIL OPEN FONT LICENSE" in body


# A page must load over a slow border link: HTML, stylesheets and scripts, fonts aside.
PAGE_BUDGET = 100 * 1024
_SUBRESOURCE = re.compile(r'<(?:link rel="stylesheet" href|script[^>]* src)="([^"]+)"')


async def page_weight(client: Client, path: str) -> int:
    """Bytes of the page at `path` and of every stylesheet and script it references."""
    response = await client.get(path)
    assert response.status < 500
    page = await response.read()
    total = len(page)
    for url in _SUBRESOURCE.findall(page.decode()):
        assert url.startswith("/console/"), url  # nothing from elsewhere
        total += len(await (await client.get(url)).read())
    return total


async def test_the_frame_leaves_most_of_the_budget_to_the_page(client: Client) -> None:
    weight = await page_weight(client, "/console/probe/page?role=supervisor")
    assert weight < PAGE_BUDGET // 4, weight


def test_every_console_template_compiles() -> None:
    """A syntax error in any part's template fails here, not on an officer's screen."""
    app = web.Application()
    setup(app, fake_context())
    env = aiohttp_jinja2.get_env(app)
    names = env.list_templates(extensions=["html"])
    assert {"base.html", "error.html", "_macros.html"} <= set(names)
    for name in names:
        env.get_template(name)


_INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def test_no_template_holds_what_the_policy_would_block() -> None:
    """The CSP refuses inline script and style: in a template they would silently not work."""
    app = web.Application()
    setup(app, fake_context())
    env = aiohttp_jinja2.get_env(app)
    assert env.loader is not None
    found = []
    for name in env.list_templates(extensions=["html"]):
        source, _filename, _uptodate = env.loader.get_source(env, name)
        found += [f"{name}: {what}" for what, pattern in _INLINE.items() if pattern.search(source)]
    assert not found


def test_the_switcher_font_is_a_small_cut_of_the_khmer_font() -> None:
    font = assets.khmer_font()
    cut = assets.font_subset(font, LANGUAGE_NAMES["km"])
    covered = TTFont(io.BytesIO(cut)).getBestCmap()
    assert all(ord(char) in covered for char in LANGUAGE_NAMES["km"])
    assert ord("ក") not in covered  # nothing beyond the word
    assert len(cut) < len(font) // 20


def test_the_served_khmer_font_is_the_package_font_cut_to_what_the_console_uses() -> None:
    package = assets.khmer_font()
    served = assets.web_instance(package)
    original, cut = TTFont(io.BytesIO(package)), TTFont(io.BytesIO(served))
    axes = {axis.axisTag: (axis.minValue, axis.maxValue) for axis in cut["fvar"].axes}
    assert axes == {"wght": assets.WEIGHTS}
    assert cut.getBestCmap() == original.getBestCmap()  # every character still there
    assert len(served) < len(package) // 2


@pytest.mark.parametrize(
    ("accept", "encoding"), [("gzip, deflate, br", "gzip"), ("identity", None), (None, None)]
)
@pytest.mark.parametrize("path", ["/console/static/fonts/NotoSansKhmer.ttf", ASSETS[0]])
async def test_assets_go_gzipped_to_browsers_that_take_it(
    path: str, accept: str | None, encoding: str | None
) -> None:
    headers = {"Accept-Encoding": accept} if accept else {}
    async with TestClient(TestServer(shell_app()), auto_decompress=False) as raw:
        if not accept:
            raw.session.headers.pop("Accept-Encoding", None)
        response = await raw.get(path, headers=headers, skip_auto_headers=["Accept-Encoding"])
        body = await response.read()
    assert response.headers.get("Content-Encoding") == encoding
    assert response.headers["Vary"] == "Accept-Encoding"
    plain = gzip.decompress(body) if encoding else body
    expected = assets.built(path.removeprefix("/console/static/"), LANGUAGE_NAMES["km"]).body
    assert plain == expected
    if path.endswith(".ttf") and encoding:
        assert len(body) < 100 * 1024  # what a Khmer reader's first page costs in font
