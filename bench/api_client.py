"""The bench's police case system: vn-police-json documents and the sender's local API.

Shared by bench/api.py (the measurements) and bench/api_profile.py (the in-process replica).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from typing import Any

import aiohttp

from adapters import adapter_for
from bench.exchange import RECEIVER, SENDER, Cluster, alert
from gateway.config.writer import edit_config, merge_overlay

FORMAT = "vn-police-json"
DOCUMENT_BYTES = 1024


class Documents:
    """vn-police-json alerts of ~1 KiB, each with a new reference of fixed width."""

    PLACEHOLDER = "BENCH-API-000000000"

    def __init__(self) -> None:
        adapter = adapter_for(FORMAT)
        self.media_type = adapter.media_type
        base = adapter.encode(alert(self.PLACEHOLDER, 0)).data
        padded = adapter.encode(alert(self.PLACEHOLDER, max(0, DOCUMENT_BYTES - len(base)))).data
        self._parts = padded.split(self.PLACEHOLDER.encode())
        self._counter = 0
        self.size = len(padded)

    def next(self) -> bytes:
        self._counter += 1
        return f"BENCH-API-{self._counter:09d}".encode().join(self._parts)


class Api:
    """The sender's local API as the bench's case system sees it."""

    def __init__(self, base_url: str, token: str, documents: Documents) -> None:
        self.url = f"{base_url}/api/v1/messages"
        self.params = {"to": RECEIVER}
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": documents.media_type}
        self.documents = documents

    async def post(self, session: aiohttp.ClientSession) -> tuple[int, str | None]:
        """(status, message id of a 202 answer)."""
        async with session.post(
            self.url, data=self.documents.next(), params=self.params, headers=self.headers
        ) as response:
            body = await response.read()
            if response.status != 202:
                return response.status, None
            answer: dict[str, Any] = json.loads(body)
            return 202, str(answer["messages"][0]["id"])


async def closed_loop(
    api: Api, clients: int, warmup: float, window: float
) -> list[tuple[float, float, int, str | None]]:
    """(sent, answered, status, message id) of every request, perf_counter instants."""
    done: list[tuple[float, float, int, str | None]] = []
    end = time.perf_counter() + warmup + window
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while (sent := time.perf_counter()) < end:
                status, message_id = await api.post(session)
                done.append((sent, time.perf_counter(), status, message_id))

        await asyncio.gather(*(client() for _ in range(clients)))
    return done


def local_client(client_id: str, formats: list[str]) -> tuple[str, dict[str, Any]]:
    """A bearer token and the config entry of a local client holding it (every kind)."""
    token = secrets.token_urlsafe(24)
    entry = {
        "id": client_id,
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "formats": formats,
        "kinds": ["wanted_person_notice", "victim_handover", "hotline_alert"],
    }
    return token, entry


def add_local_client(cluster: Cluster) -> str:
    """The sender's config gets one local client (edit_config); returns its bearer token."""
    token, entry = local_client("bench-case-system", [FORMAT])
    edit_config(
        cluster.nodes[SENDER].config_path,
        lambda document: merge_overlay(document, {"local_clients": [entry]}),
        environ={},
    )
    return token
