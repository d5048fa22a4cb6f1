"""The console's aiohttp application: view modules, middlewares, static assets."""

from __future__ import annotations

from aiohttp import web

from gateway.console import (
    acknowledge,
    approvals,
    attachments,
    auth,
    bundles,
    cases,
    compose,
    form_limits,
    matches,
    operator,
    rendering,
    reports,
    search,
)
from gateway.console.context import ConsoleContext


def build_console(ctx: ConsoleContext) -> web.Application:
    """The application mounted at /console/ on the local listener."""
    app = web.Application(
        middlewares=[
            *rendering.middlewares(ctx),
            # Before auth's CSRF check, the first to read a form.
            form_limits.bounded_forms,
            *auth.middlewares(ctx),
        ]
    )
    rendering.setup(app, ctx)
    for module in (
        auth,
        cases,
        compose,
        approvals,
        operator,
        bundles,
        acknowledge,
        attachments,
        search,
        matches,
        reports,
    ):
        app.add_routes(module.routes(ctx))
    return app
