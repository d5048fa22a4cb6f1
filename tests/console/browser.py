"""Real Chromium for the console's browser tests, driven by Playwright.

Debian's Chromium (/usr/bin/chromium, installed by `make test` when missing) rather than
Playwright's own download: `playwright install` needs the network, the tests must not. Each
test gets a fresh profile (a short folder in /tmp, see browser_profiles), so no cookie, cache
or font survives between tests, and `new_page()` opens each page in a context of its own
(its own cookies: one signed-in person each). Screenshots go to artefacts/console/ (ignored
by git) for people to look at.

Use: the `browser` and `new_page` fixtures (tests/console/conftest.py registers them), then
`page = await new_page()`; `await sign_in(page, url, name, password)` goes through the real
sign-in form, `console_messages(page)` collects what the page logs (CSP violations among
them), `await khmer_font_loaded(page)` checks document.fonts and `await screenshot(page,
"name")` saves one.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    async_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts" / "console"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}  # a small laptop
# Long enough for a first page on a loaded 2-core machine, short enough to fail a hung test.
TIMEOUT_MS = 30_000

NewPage = Callable[[], Awaitable[Page]]
_CASE_LIST = re.compile(r"/console/cases$")


@pytest.fixture(name="browser_profiles")
def browser_profiles_fixture() -> Iterator[Path]:
    """A fresh folder for Chromium's profiles, with a short path on purpose: Chromium puts a
    Unix socket in its profile, a socket path may not exceed 107 bytes, and a folder under
    tmp_path (itself under any TMPDIR) passes that as soon as the test's name is long."""
    folder = Path(tempfile.mkdtemp(prefix="blg-chromium-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(name="browser")
async def browser_fixture(
    browser_profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Browser]:
    """A Chromium whose profile (--user-data-dir) is a fresh folder in browser_profiles."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    # Playwright refuses --user-data-dir among the arguments of launch() and makes a fresh
    # profile folder in its driver's temporary folder instead: the driver is started with
    # TMPDIR = browser_profiles (and only it: the test's other processes keep theirs).
    with monkeypatch.context() as patch:
        patch.setenv("TMPDIR", str(browser_profiles))
        playwright = await async_playwright().start()
    try:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()
    finally:
        await playwright.stop()


@pytest.fixture(name="new_page")
async def new_page_fixture(browser: Browser) -> AsyncIterator[NewPage]:
    """Opens a page in a new browser context: each page has its own cookies, so two pages
    are two people signed in side by side."""
    contexts: list[BrowserContext] = []

    async def open_page() -> Page:
        context = await browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return await context.new_page()

    try:
        yield open_page
    finally:
        for context in contexts:
            await context.close()


async def sign_in(page: Page, url: str, name: str, password: str) -> None:
    """Signs in through the real form at url (a sign-in page) and waits for the case list,
    where a sign-in without `next` lands."""
    await page.goto(url)
    await page.fill('input[name="name"]', name)
    await page.fill('input[name="password"]', password)
    await page.click("#sign-in")
    await page.wait_for_url(_CASE_LIST)


def console_messages(page: Page) -> list[ConsoleMessage]:
    """Everything `page` logs from now on (errors include CSP violations)."""
    messages: list[ConsoleMessage] = []

    def keep(message: ConsoleMessage) -> None:
        messages.append(message)

    page.on("console", keep)
    return messages


async def screenshot(page: Page, name: str) -> Path:
    """Saves the whole page as artefacts/console/<name>.png."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    await page.screenshot(path=path, full_page=True)
    return path


async def khmer_font_loaded(page: Page) -> bool:
    """Whether the page's Noto Sans Khmer face has loaded (after document.fonts.ready)."""
    result = await page.evaluate(
        """async () => {
            await document.fonts.ready;
            const faces = [...document.fonts].filter(f => f.family.includes("Noto Sans Khmer"));
            return faces.some(f => f.status === "loaded")
                && document.fonts.check('16px "Noto Sans Khmer"', "ក");
        }"""
    )
    return bool(result)


__all__ = [
    "ARTEFACTS",
    "CHROMIUM",
    "browser_fixture",
    "browser_profiles_fixture",
    "console_messages",
    "khmer_font_loaded",
    "new_page_fixture",
    "screenshot",
    "sign_in",
]
