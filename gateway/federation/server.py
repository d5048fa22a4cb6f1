"""The federation endpoint: POST /federation/v1/envelopes.

Everything that can be refused without reading the body is refused first, in the order
of cost: the claimed sender (BLG-Sender header) must be a peer, present a client certificate
if its config says mutual TLS, be under its rate limit, send the right media type and a body
under the size limit. Each refusal is an HTTP 4xx with a JSON body naming a reason code; a
sender treats 429 as "later" and any other 4xx as final for that batch.
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.federation.batch import BatchLimits, BatchRefused, parse_envelope_batch
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
        metrics: GatewayMetrics,
    ) -> None:
        self._receiver = receiver
        self._peers = peers
        self._buckets = {p: TokenBucket(a.rate_per_second, a.burst) for p, a in peers.items()}
        self._max_batch_bytes = max_batch_bytes
        self._metrics = metrics

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ENVELOPES_PATH, self.post_envelopes)]

    def _refuse(self, status: int, code: str, message: str) -> web.Response:
        self._metrics.refused_requests.labels(code).inc()
        return error_response(status, code, message)

    async def post_envelopes(self, request: web.Request) -> web.Response:
        sender = request.headers.get(SENDER_HEADER, "")
        admission = self._peers.get(sender)
        if admission is None:
            return self._refuse(
                403, "unknown_peer", f"{SENDER_HEADER} must name a peer of this node"
            )
        if admission.mutual_tls and not _client_certificate_names(request, sender):
            return self._refuse(
                403, "client_certificate_required", "this peer must present its client certificate"
            )
        wait = self._buckets[sender].try_take()
        if wait:
            self._metrics.refused_requests.labels("rate_limited").inc()
            response = error_response(429, "rate_limited", "too many requests; retry later")
            response.headers["Retry-After"] = str(math.ceil(wait))
            return response
        if request.content_type != PROTOBUF:
            return self._refuse(415, "unsupported_media_type", f"Content-Type must be {PROTOBUF}")
        length = request.content_length
        if length is None or length > self._max_batch_bytes:
            return self._refuse(
                413,
                "body_too_large",
                f"body must declare a length of at most {self._max_batch_bytes} bytes",
            )
        body = await request.read()
        try:
            envelopes = parse_envelope_batch(body, BatchLimits(self._max_batch_bytes))
        except BatchRefused as refused:
            return self._refuse(refused.status, refused.code, refused.message)
        receipts = await self._receiver.receive(sender, envelopes)
        answer = envelope.ReceiptBatch(
            receipts=[envelope.Receipt.FromString(receipt) for receipt in receipts]
        )
        return web.Response(body=answer.SerializeToString(), content_type=PROTOBUF)


def _client_certificate_names(request: web.Request, peer: str) -> bool:
    """True when the TLS client certificate names peer (subject CN or a DNS SAN)."""
    transport = request.transport
    if transport is None:
        return False
    certificate = transport.get_extra_info("peercert")
    if not certificate:
        return False
    names = {value for kind, value in certificate.get("subjectAltName", ()) if kind == "DNS"}
    for rdn in certificate.get("subject", ()):
        names.update(value for key, value in rdn if key == "commonName")
    return peer in names


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str | None) -> ssl.SSLContext:
    """TLS for the federation listener; client certificates verified when a CA is given."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(client_ca_file)
        # Optional at the handshake: which peers must present one is decided per request.
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
