"""Console pages: cases. See gateway/console/__init__.py."""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import ConsoleContext


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:  # noqa: ARG001 - stub
    return []
