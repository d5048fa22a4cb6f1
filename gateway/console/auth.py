"""Users, sign-in, sessions, CSRF and lock-out.

Owned by the console's auth work; see gateway/console/__init__.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.console.context import ConsoleContext, ConsoleUser, Role


def middlewares(ctx: ConsoleContext) -> Sequence[Any]:  # noqa: ARG001 - stub
    """Session (request["user"]) and CSRF check of every state-changing request."""
    return ()


def require(request: web.Request, *roles: Role) -> ConsoleUser:
    """The signed-in user if their role is one of `roles` (any role when none are given);
    otherwise a redirect to sign-in or a 403 page."""
    raise NotImplementedError


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:  # noqa: ARG001 - stub
    return []
