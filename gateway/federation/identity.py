"""Who is at the other end of a federation connection: certificates and their pins.

A peer is known by its certificate, not by the BLG-Sender header it claims. Incoming, the
client certificate must name the claimed peer (subject CN or DNS SAN) and, when the peer's
config lists pins, carry one of the pinned public keys. Outgoing, the server certificate
must chain to the peer's CA and match its host name (ssl's own checks) and, with pins, carry
a pinned key; that last check runs inside the TLS handshake (a custom `SSLObject` class on
the context), so nothing, not even the request line, is sent to a server that fails it.

Pins are SHA-256 digests of the certificate's Subject Public Key Info (see
`PeerTlsConfig.spki_sha256` for why SPKI rather than the whole certificate). Compute one with
    openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der \
        | openssl dgst -sha256
"""

from __future__ import annotations

import functools
import hashlib
import ssl
from collections.abc import Collection

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.config import PeerConfig

# Reason codes of the 403 answers (docs/PROTOCOL.md).
CLIENT_CERTIFICATE_REQUIRED = "client_certificate_required"
CLIENT_CERTIFICATE_NOT_PINNED = "client_certificate_not_pinned"


@functools.lru_cache(maxsize=256)
def spki_sha256(certificate_der: bytes) -> bytes:
    """SHA-256 of a DER certificate's Subject Public Key Info."""
    public_key = x509.load_der_x509_certificate(certificate_der).public_key()
    spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def client_identity_problem(request: web.Request, peer: str, pins: Collection[bytes]) -> str | None:
    """None when the request's client certificate is peer's; else the reason code why not."""
    transport = request.transport
    if transport is None:
        return CLIENT_CERTIFICATE_REQUIRED
    certificate = transport.get_extra_info("peercert")
    if not certificate:
        return CLIENT_CERTIFICATE_REQUIRED
    names = {value for kind, value in certificate.get("subjectAltName", ()) if kind == "DNS"}
    for rdn in certificate.get("subject", ()):
        names.update(value for key, value in rdn if key == "commonName")
    if peer not in names:
        return CLIENT_CERTIFICATE_REQUIRED
    if pins:
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der or spki_sha256(der) not in pins:
            return CLIENT_CERTIFICATE_NOT_PINNED
    return None


def _pinned_object_class(peer: str, pins: frozenset[bytes]) -> type[ssl.SSLObject]:
    class PinnedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()
            der = self.getpeercert(binary_form=True)
            if not der or spki_sha256(der) not in pins:
                raise ssl.SSLCertVerificationError(
                    f"the server certificate's key is not one pinned for {peer} "
                    "(peers[].tls.spki_sha256)"
                )

    return PinnedSSLObject


def client_ssl_context(peer: PeerConfig) -> ssl.SSLContext | None:
    """TLS towards a peer: its CA if configured (else the system's), our client cert if any,
    and its pins if listed."""
    if not peer.url.startswith("https://"):
        return None
    context = ssl.create_default_context(cafile=str(peer.tls.ca_file) if peer.tls.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if peer.tls.client_cert_file and peer.tls.client_key_file:
        context.load_cert_chain(str(peer.tls.client_cert_file), str(peer.tls.client_key_file))
    if peer.tls.spki_sha256:
        context.sslobject_class = _pinned_object_class(peer.id, frozenset(peer.tls.spki_sha256))
    return context
