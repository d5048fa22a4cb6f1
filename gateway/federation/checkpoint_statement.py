"""Asking a peer which checkpoint it holds from us (docs/PROTOCOL.md 16.8).

The countersignatures an origin keeps are rows in its own database: whoever cuts or rewrites
its audit chain can delete them too. `gateway audit verify --ask-peers` therefore also asks
each peer, over the federation listener (the same mutual TLS, the same sender checks as
envelopes), for the newest checkpoint it holds from the asking node. The peer answers with a
countersignature envelope (kind 104) sealed to the asker and signed now, not stored: the
same statement, about the newest checkpoint, and the origin checks its chain against it.

Serving: CheckpointStatementEndpoint (app.py adds its route to the federation listener),
rate limited per peer. Asking: ask_peer (the CLI), bounded in time and bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web

from gateway.config.schema import PeerConfig
from gateway.crypto import EnvelopeLimits, EnvelopeRejected, Keyring, open_envelope
from gateway.federation.checkpoints import (
    Countersignature,
    read_countersignature,
    seal_countersignature,
)
from gateway.federation.identity import client_identity_problem, client_ssl_context
from gateway.federation.ratelimit import TokenBucket
from gateway.federation.server import (
    PROTOBUF,
    SENDER_HEADER,
    PeerAdmission,
    error_response,
)
from gateway.store import Store
from gateway.wire import ControlKind

STATEMENT_PATH = "/federation/v1/audit-checkpoint"
# An answer is one small envelope; anything longer is not one.
MAX_STATEMENT_BYTES = 64 * 1024
ASK_TIMEOUT_SECONDS = 20
STATEMENT_TTL = timedelta(minutes=10)


class CheckpointStatementEndpoint:
    """GET STATEMENT_PATH: the newest checkpoint held from the asking peer, signed now."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: Store,
        peers: Mapping[str, PeerAdmission],
        clock: Callable[[], datetime],
    ) -> None:
        self._keyring = keyring
        self._store = store
        self._peers = peers
        self._clock = clock
        # An operator's command, not traffic: a few a minute per peer is plenty.
        self._buckets = {peer: TokenBucket(0.2, 5) for peer in peers}

    def routes(self) -> list[web.RouteDef]:
        return [web.get(STATEMENT_PATH, self.get_statement)]

    async def get_statement(self, request: web.Request) -> web.Response:
        sender = request.headers.get(SENDER_HEADER, "")
        admission = self._peers.get(sender)
        if admission is None:
            return error_response(403, "unknown_peer", f"{SENDER_HEADER} must name a peer")
        if admission.mutual_tls:
            problem = client_identity_problem(request, sender, admission.pins)
            if problem is not None:
                return error_response(403, problem, "the client certificate is not this peer's")
        if self._buckets[sender].try_take():
            return error_response(429, "rate_limited", "too many requests; retry later")
        held = await self._store.latest_checkpoint_held(sender)
        if held is None:
            return error_response(404, "no_checkpoint", "no checkpoint from you is held here")
        now = self._clock()
        try:
            sealed = seal_countersignature(
                self._keyring,
                signed=Countersignature(
                    held.envelope_sha256, sender, held.seq, held.head_hash, held.received_at
                ),
                now=now,
                ttl=STATEMENT_TTL,
            )
        except ValueError:
            return error_response(403, "unknown_peer", "no key of yours is valid here now")
        return web.Response(body=sealed.data, content_type=PROTOBUF)


async def ask_peer(
    keyring: Keyring, peer: PeerConfig, now: Callable[[], datetime]
) -> Countersignature | str:
    """The peer's signed statement of the newest checkpoint it holds from us, or why there
    is none (its words: a reason code, or what failed)."""
    url = peer.url.rstrip("/") + STATEMENT_PATH
    timeout = aiohttp.ClientTimeout(total=ASK_TIMEOUT_SECONDS)
    context = client_ssl_context(peer)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                url,
                headers={SENDER_HEADER: keyring.node_id},
                ssl=context if context is not None else True,
            ) as response,
        ):
            if response.status != 200:
                return f"HTTP {response.status}"
            data = await response.content.read(MAX_STATEMENT_BYTES + 1)
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        return f"cannot reach it ({type(error).__name__})"
    if len(data) > MAX_STATEMENT_BYTES:
        return "its answer is too long"
    try:
        opened = open_envelope(keyring, data, now=now(), limits=EnvelopeLimits())
        if (opened.header.sender, opened.header.kind) != (
            peer.id,
            ControlKind.CHECKPOINT_COUNTERSIGNATURE,
        ):
            return "its answer is not its countersignature"
        return read_countersignature(opened)
    except EnvelopeRejected as refused:
        return f"its answer does not verify ({refused.reason.value})"
