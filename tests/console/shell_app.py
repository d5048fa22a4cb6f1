"""A console app with only the shell's parts (rendering, headers, errors, static assets) over
a ConsoleContext whose store, keyring and dispatcher are never touched: unit tests of the
frame every page lives in, without PostgreSQL. Probe routes stand in for the views."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import cast

from aiohttp import web
from aiohttp.web_exceptions import NotAppKeyWarning

from gateway.console import rendering
from gateway.console.context import (
    ConsoleContext,
    ConsoleSettings,
    ConsoleUser,
    PeerView,
    Role,
)
from gateway.crypto import Keyring
from gateway.federation.outgoing import Dispatcher
from gateway.store import Store

# What a crashing view's exception says: must never reach the page or the log.
SECRET = "Nguyễn Thị Lan, born 2011"


def fake_context(country: str = "VN") -> ConsoleContext:
    return ConsoleContext(
        node_id="vn-gialai-blo" if country == "VN" else "kh-ratanakiri-police",
        node_country=country,
        node_names={
            "vi": "Văn phòng liên lạc biên giới Lệ Thanh",
            "km": "ការិយាល័យទំនាក់ទំនងព្រំដែនលេថាញ់",
            "en": "Le Thanh Border Liaison Office",
        },
        settings=ConsoleSettings(),
        store=cast(Store, None),
        keyring=cast(Keyring, None),
        dispatcher=cast(Dispatcher, None),
        peers=(
            PeerView(
                id="kh-ratanakiri-police",
                country="KH",
                names={"vi": "Công an Ratanakiri", "km": "ស្នងការដ្ឋាននគរបាលខេត្តរតនគិរី"},
                url="https://kh.example:8443",
                keys_valid_until=None,
            ),
        ),
        own_keys_valid_until=None,
        local_clients=(),
        clock=lambda: datetime.now(UTC),
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def probe_user(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Stands in for auth's middleware: ?role=...&default=... signs a user in."""
    role = request.query.get("role")
    user = (
        ConsoleUser(7, "lan", Role(role), request.query.get("default", "en"))  # type: ignore[arg-type]
        if role
        else None
    )
    # The contract's keys are plain strings (as auth sets them), not RequestKey objects.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotAppKeyWarning)
        request["user"] = user
        request["csrf_token"] = "probe-token"
    return await handler(request)


async def _forbidden(request: web.Request) -> web.StreamResponse:
    raise web.HTTPForbidden()


async def _csrf(request: web.Request) -> web.StreamResponse:
    raise web.HTTPForbidden(reason="csrf_failed")


async def _conflict(request: web.Request) -> web.StreamResponse:
    raise web.HTTPConflict(reason="not_awaiting_approval")


async def _bad(request: web.Request) -> web.StreamResponse:
    raise web.HTTPBadRequest()


async def _crash(request: web.Request) -> web.StreamResponse:
    raise RuntimeError(SECRET)


async def _redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/console/probe/page")


async def _page(request: web.Request) -> web.StreamResponse:
    return rendering.error_page(request, 200, "probe")


def shell_app(ctx: ConsoleContext | None = None) -> web.Application:
    """The console's shell mounted at /console/ as on a node's local listener."""
    ctx = ctx or fake_context()
    console = web.Application(middlewares=[*rendering.middlewares(ctx), probe_user])
    rendering.setup(console, ctx)
    console.add_routes(
        [
            web.get("/probe/forbidden", _forbidden),
            web.post("/probe/csrf", _csrf),
            web.post("/probe/conflict", _conflict),
            web.get("/probe/bad", _bad),
            web.get("/probe/crash", _crash),
            web.get("/probe/redirect", _redirect),
            web.get("/probe/page", _page),
        ]
    )
    root = web.Application()
    root.add_subapp("/console/", console)
    return root
