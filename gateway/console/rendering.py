"""Templates, languages, static assets and the security headers of every console page.

Owned by the console shell; see gateway/console/__init__.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from gateway.console.context import ConsoleContext


def setup(app: web.Application, ctx: ConsoleContext) -> None:
    """Install the Jinja2 environment and the static routes on the console app."""


def middlewares(ctx: ConsoleContext) -> Sequence[Any]:  # noqa: ARG001 - stub
    """Security headers (CSP, frame-ancestors), the page language, HTML error pages."""
    return ()


def render(
    request: web.Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> web.Response:
    """The template rendered in the request's language, with the console's globals."""
    raise NotImplementedError
