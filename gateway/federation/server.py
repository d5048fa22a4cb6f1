"""The federation endpoint: POST /federation/v1/envelopes.

Everything that can be refused without reading the body is refused first, in the order
of cost: the claimed sender (BLG-Sender header) must be a peer, present a client certificate
naming it (and carrying a pinned key, when its config lists pins) if its config says mutual
TLS (the default; see identity.py), be under its request and envelope rate limits, send the
right media type and a body under the size limit. The body is then read as it arrives and its
envelopes counted (batch.py): a batch over `max_envelopes_per_batch` is refused as soon as the
first envelope past the limit begins, and a batch must find as many tokens as it holds
envelopes in the peer's envelope bucket, or is refused taking none. Only then does any
crypto or database work start, on the receiver's thread pool. So one request costs at most
max_envelopes_per_batch envelopes' work, and its answer is at most that many receipts.

Each refusal is an HTTP 4xx with a JSON body naming a reason code; a sender treats 429 as
"later" (after Retry-After), 413 `too_many_envelopes` as "in smaller batches", and any other
4xx as final for that batch.
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.federation.batch import BatchRefused, BatchScanner
from gateway.federation.identity import CLIENT_CERTIFICATE_NOT_PINNED, client_identity_problem
from gateway.federation.ratelimit import TokenBucket
from gateway.federation.receiver import EnvelopeReceiver
from gateway.ops.metrics import GatewayMetrics
from gateway.wire import envelope

log = logging.getLogger(__name__)

ENVELOPES_PATH = "/federation/v1/envelopes"
SENDER_HEADER = "BLG-Sender"
PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class PeerAdmission:
    """What the endpoint needs to know about one peer before reading its request."""

    rate_per_second: float
    burst: int
    mutual_tls: bool
    envelopes_per_second: float
    envelope_burst: int
    # SPKI SHA-256 digests; empty: any certificate of the client CA that names the peer.
    pins: frozenset[bytes] = frozenset()


def error_response(status: int, code: str, message: str) -> web.Response:
    """The JSON error body every refusal uses."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class FederationEndpoint:
    """aiohttp handler for incoming envelope batches."""

    def __init__(
        self,
        *,
        receiver: EnvelopeReceiver,
        peers: Mapping[str, PeerAdmission],
        max_batch_bytes: int,
        max_envelopes_per_batch: int,
        metrics: GatewayMetrics,
    ) -> None:
        self._receiver = receiver
        self._peers = peers
        self._buckets = {p: TokenBucket(a.rate_per_second, a.burst) for p, a in peers.items()}
        self._envelope_buckets = {
            p: TokenBucket(a.envelopes_per_second, a.envelope_burst) for p, a in peers.items()
        }
        self._max_batch_bytes = max_batch_bytes
        self._max_envelopes = max_envelopes_per_batch
        self._metrics = metrics

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ENVELOPES_PATH, self.post_envelopes)]

    def _refuse(self, status: int, code: str, message: str) -> web.Response:
        self._metrics.refused_requests.labels(code).inc()
        return error_response(status, code, message)

    def _rate_limited(self, wait: float) -> web.Response:
        response = self._refuse(429, "rate_limited", "too many requests or envelopes; retry later")
        response.headers["Retry-After"] = _retry_after(wait)
        return response

    async def post_envelopes(self, request: web.Request) -> web.Response:
        sender = request.headers.get(SENDER_HEADER, "")
        admission = self._peers.get(sender)
        if admission is None:
            return self._refuse(
                403, "unknown_peer", f"{SENDER_HEADER} must name a peer of this node"
            )
        if admission.mutual_tls:
            problem = client_identity_problem(request, sender, admission.pins)
            if problem == CLIENT_CERTIFICATE_NOT_PINNED:
                return self._refuse(
                    403, problem, "the client certificate's key is not one pinned for this peer"
                )
            if problem is not None:
                return self._refuse(403, problem, "this peer must present its client certificate")
        # The envelope bucket is only looked at here: how many it must hold is known once
        # the body is counted, but an empty one refuses before a byte of it is read.
        wait = self._buckets[sender].try_take() or self._envelope_buckets[sender].wait_for(1)
        if wait:
            return self._rate_limited(wait)
        if request.content_type != PROTOBUF:
            return self._refuse(415, "unsupported_media_type", f"Content-Type must be {PROTOBUF}")
        length = request.content_length
        if length is None or length > self._max_batch_bytes:
            return self._refuse(
                413,
                "body_too_large",
                f"body must declare a length of at most {self._max_batch_bytes} bytes",
            )
        scanner = BatchScanner(self._max_envelopes)
        try:
            async for chunk in request.content.iter_any():
                scanner.feed(chunk)
            envelopes = scanner.envelopes()
        except BatchRefused as refused:
            return self._refuse(refused.status, refused.code, refused.message)
        wait = self._envelope_buckets[sender].try_take(len(envelopes))
        if wait:
            return self._rate_limited(wait)
        receipts = await self._receiver.receive(sender, envelopes)
        answer = envelope.ReceiptBatch(
            receipts=[envelope.Receipt.FromString(receipt) for receipt in receipts]
        )
        return web.Response(body=answer.SerializeToString(), content_type=PROTOBUF)


def _retry_after(wait: float) -> str:
    """Whole seconds, at least 1 (a sender reads 0 as "now" and would be refused again)."""
    return str(max(1, math.ceil(wait)))


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    """TLS for the federation listener; client certificates verified when a CA is given."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(client_ca_file)
        # Optional at the handshake: which peer a certificate must name (and which key it
        # must carry) is known only from the request's BLG-Sender header.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
