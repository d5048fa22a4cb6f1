"""The liaison console: server-rendered pages for officers, supervisors and operators.

Mounted under /console/ on the node's local listener, beside /api/v1/. Design notes:
- Server-rendered HTML (Jinja2 with autoescaping), little JavaScript and no inline script,
  every asset (fonts included) served by the gateway: it must work on a slow border link
  behind a strict Content-Security-Policy.
- Everything a page changes goes through the same parts as the API (Dispatcher, Store), so
  the console cannot send what the API would refuse, and every action is audited with the
  user's id.
- Views are modules with `routes(ctx)`; they share nothing but the ConsoleContext, the
  signed-in user (request["user"]) and the renderer.
"""

from __future__ import annotations

from gateway.console.context import ConsoleContext, ConsoleSettings, ConsoleUser, PeerView, Role
from gateway.console.server import build_console

__all__ = ["ConsoleContext", "ConsoleSettings", "ConsoleUser", "PeerView", "Role", "build_console"]
