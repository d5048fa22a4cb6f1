"""A local system's webhook endpoint on loopback, for the delivery tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from tests.federation.harness import free_port, serving_webhook


@dataclass
class Webhook:
    """A local system's webhook endpoint, recording what it is sent."""

    port: int = field(default_factory=free_port)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    async with serving_webhook(hook.port, hook.handle):
        yield hook
