"""A node's files from nothing: what `gateway init` and `gateway keys generate` write.

`init_node` writes, under one folder (0700): the node's key pair (keys/<key id>.key, 0600,
created in one exclusive open), a TLS certificate and key for its federation endpoint
(tls/cert.pem, tls/key.pem; self-signed unless the operator brings its own), the client CA
bundle that starts with that certificate and gains each peer's (tls/peer-certificates.pem),
a metrics token (metrics.token; its SHA-256 goes into the config), the config itself
(node.yaml, through the writer, and loaded before init reports success) and the public file
for peers (<node>.public.yaml). An existing config is never overwritten; nothing is written
before that check.

The self-signed certificate names the node id (subject CN and a DNS name: peers check that a
client certificate names the peer it claims to be) and the hosts peers reach it by (the
listen host unless it is a wildcard, and the public URL's host), for their host name check.
Its key is ECDSA P-256: small, fast in handshakes, accepted by every TLS stack. Peers pin
its SPKI, not the certificate, so renewing it on the same key changes nothing for them.
"""

from __future__ import annotations

import errno
import hashlib
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.config.issues import ConfigError
from gateway.config.keyfiles import (
    PrivateKeyMaterial,
    format_private_key_file,
    format_public_keys_snippet,
)
from gateway.config.listen import is_loopback_host
from gateway.config.loader import load_config
from gateway.config.public_file import (
    PublicFile,
    certificate_pin,
    format_public_file,
    is_self_signed,
)
from gateway.config.schema import NodeConfig, PeerKeyConfig
from gateway.config.writer import (
    NodeSettings,
    OwnKeyEntry,
    PeerEntry,
    ServerTlsFiles,
    add_peer,
    config_folder,
    write_node_config,
)
from gateway.crypto import KeyValidity, OwnKeyPair
from gateway.ops.private_files import private_folder, replace_private, write_new_private

CONFIG_NAME = "node.yaml"
CERTIFICATE_LIFETIME = timedelta(days=825)
PEER_CERTIFICATES = "tls/peer-certificates.pem"
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 - names, not a bind


@dataclass(frozen=True)
class GeneratedKey:
    private_key_file: Path
    public_key_file: Path
    validity: KeyValidity
    public: PeerKeyConfig


def generate_own_key(
    node_id: str, folder: Path, key_id: str, validity: KeyValidity
) -> GeneratedKey:
    """A new key pair: <key id>.key (0600, exclusive: FileExistsError rather than overwrite)
    and <key id>.public.yaml (the keys: snippet peers paste)."""
    pair = OwnKeyPair.generate(key_id, validity)
    private_folder(folder)
    private_path = folder / f"{key_id}.key"
    text = format_private_key_file(
        PrivateKeyMaterial(node_id, key_id, pair.signing_seed, pair.encryption_secret)
    )
    write_new_private(private_path, text.encode())
    public = pair.public()
    entry = PeerKeyConfig(
        id=key_id,
        signing_public_key=public.signing_public,
        encryption_public_key=public.encryption_public,
        valid_from=validity.valid_from,
        valid_until=validity.valid_until,
    )
    public_path = folder / f"{key_id}.public.yaml"
    public_path.unlink(missing_ok=True)
    write_new_private(public_path, format_public_keys_snippet(node_id, [entry]).encode())
    return GeneratedKey(private_path, public_path, validity, entry)


def self_signed_certificate(
    node_id: str, hosts: list[str], now: datetime, lifetime: timedelta = CERTIFICATE_LIFETIME
) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) naming node_id and hosts, for server and client use."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id)])
    alternative: list[x509.GeneralName] = [x509.DNSName(node_id)]
    for host in dict.fromkeys(hosts):
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alternative.append(x509.DNSName(host))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def split_host_port(text: str, option: str) -> tuple[str, int]:
    """`HOST:PORT` or `[v6]:PORT` -> (host, port); ValueError naming the option."""
    host, colon, port = text.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{option}: expected HOST:PORT, e.g. 127.0.0.1:9101")
    return host, int(port)


@dataclass(frozen=True)
class InitRequest:
    node_id: str
    folder: Path
    listen: tuple[str, int] = ("127.0.0.1", 9101)
    local: tuple[str, int] = ("127.0.0.1", 9201)
    country: str | None = None
    names: Mapping[str, str] | None = None
    # The URL peers reach the federation endpoint at; default https://<listen>/.
    url: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    key_lifetime: timedelta = timedelta(days=365)
    dsn: str | None = None


@dataclass(frozen=True)
class InitResult:
    config_file: Path
    public_file: Path
    metrics_token_file: Path
    pin: str
    config: NodeConfig


def init_node(
    request: InitRequest,
    progress: Callable[[str], None] = lambda _line: None,
    now: datetime | None = None,
) -> InitResult:
    """Write a node's keys, certificate, token, config and public file (see the module)."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    folder = request.folder
    config_file = folder / CONFIG_NAME
    if config_file.exists():
        raise FileExistsError(errno.EEXIST, "exists", str(config_file))
    host, port = request.listen
    url = request.url or f"https://{_url_host(host)}:{port}/"
    # Read (or made) before anything is written: a bad --tls-cert leaves no files behind.
    if request.tls_cert and request.tls_key:
        certificate_pem = request.tls_cert.read_bytes()
        key_pem = request.tls_key.read_bytes()
        certificate_pin(certificate_pem)  # ValueError unless a PEM certificate
    else:
        hosts = [h for h in (host, urlsplit(url).hostname or "") if h not in WILDCARD_HOSTS]
        certificate_pem, key_pem = self_signed_certificate(request.node_id, hosts, now)
    private_folder(folder)

    # Valid from a minute ago: a node started at once must already see its key as valid.
    valid_from = now - timedelta(minutes=1)
    validity = KeyValidity(valid_from, valid_from + request.key_lifetime)
    key_id = f"k{validity.valid_from:%Y%m%d}"
    generated = generate_own_key(request.node_id, folder / "keys", key_id, validity)
    progress(f"wrote {generated.private_key_file} (mode 0600; back it up offline)")

    tls_folder = folder / "tls"
    private_folder(tls_folder)
    write_new_private(tls_folder / "cert.pem", certificate_pem)
    write_new_private(tls_folder / "key.pem", key_pem)
    write_new_private(folder / PEER_CERTIFICATES, certificate_pem)
    pin = certificate_pin(certificate_pem)
    progress(f"wrote {tls_folder / 'cert.pem'} (certificate pin {pin})")

    token = secrets.token_urlsafe(32)
    token_file = folder / "metrics.token"
    write_new_private(token_file, (token + "\n").encode())
    progress(f"wrote {token_file} (bearer token for /metrics)")

    names = dict(request.names or {"en": request.node_id})
    country = request.country or request.node_id[:2].upper()
    local_host, local_port = request.local
    settings = NodeSettings(
        node_id=request.node_id,
        names=names,
        country=country,
        keys=[
            OwnKeyEntry(
                key_id,
                f"keys/{generated.private_key_file.name}",
                validity.valid_from,
                validity.valid_until,
            )
        ],
        federation_host=host,
        federation_port=port,
        federation_tls=ServerTlsFiles("tls/cert.pem", "tls/key.pem", PEER_CERTIFICATES),
        api_host=local_host,
        api_port=local_port,
        api_tls=None
        if is_loopback_host(local_host)
        else ServerTlsFiles("tls/cert.pem", "tls/key.pem"),
        metrics_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        dsn=request.dsn,
    )
    config = write_node_config(config_file, settings)
    progress(f"wrote {config_file} (config check passed)")

    public_file = folder / f"{request.node_id}.public.yaml"
    public = PublicFile(
        node_id=request.node_id,
        names=names,
        country=country,
        url=url,
        keys=(generated.public,),
        spki_sha256=(pin,),
        certificate_pem=certificate_pem.decode(),
        self_signed=is_self_signed(certificate_pem),
    )
    write_new_private(public_file, format_public_file(public).encode())
    progress(f"wrote {public_file} (send it to each peer)")
    return InitResult(config_file, public_file, token_file, pin, config)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class PeerAdded:
    added: bool  # False: an existing entry was updated
    config: NodeConfig
    # Where the peer's certificate went, when its public file carried a self-signed one.
    certificate_file: Path | None


def add_peer_from_public(
    config_file: Path,
    public: PublicFile,
    *,
    url: str | None = None,
    send: Sequence[str] | None = None,
    receive: Sequence[str] | None = None,
    ca_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> PeerAdded:
    """Add or update the peer of a public file, pinning its certificate; see `add_peer`.

    A self-signed peer certificate is stored as tls/peers/<peer>.pem (its CA for our
    outgoing connections) and appended to the bundle init made (tls/peer-certificates.pem)
    when the config's client_ca_file is that bundle, so that the peer's client certificate
    is accepted. Whatever was written is undone when the edited config does not load."""
    folder = config_folder(config_file)
    current = load_config(config_file, environ=environ)
    own_tls = current.listen.federation.tls
    certificate_file: Path | None = None
    undo: dict[Path, bytes | None] = {}
    if public.certificate_pem and public.self_signed and ca_file is None:
        certificate_file = folder / "tls" / "peers" / f"{public.node_id}.pem"
        private_folder(certificate_file.parent)
        _replace_remembering(certificate_file, public.certificate_pem.encode(), undo)
        bundle = folder / PEER_CERTIFICATES
        if own_tls is not None and own_tls.client_ca_file == bundle.resolve():
            certificates = [own_tls.cert_file.read_bytes()] + [
                path.read_bytes() for path in sorted(certificate_file.parent.glob("*.pem"))
            ]
            _replace_remembering(bundle, b"".join(certificates), undo)
    peer = PeerEntry(
        id=public.node_id,
        names=public.names,
        country=public.country,
        url=url or public.url,
        keys=public.keys,
        send=send,
        receive=receive,
        spki_sha256=public.spki_sha256,
        ca_file=_relative(ca_file or certificate_file, folder),
        client_cert_file=_relative(own_tls.cert_file, folder) if own_tls else None,
        client_key_file=_relative(own_tls.key_file, folder) if own_tls else None,
    )
    try:
        added, config = add_peer(config_file, peer, environ=environ)
    except ConfigError:
        for path, previous in undo.items():
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                replace_private(path, previous)
        raise
    return PeerAdded(added, config, certificate_file)


def _replace_remembering(path: Path, data: bytes, undo: dict[Path, bytes | None]) -> None:
    undo[path] = path.read_bytes() if path.exists() else None
    replace_private(path, data)


def _relative(path: Path | None, folder: Path) -> str | None:
    """path as the config writes it: relative to the config's folder when inside it."""
    if path is None:
        return None
    absolute = Path(os.path.abspath(path))
    return str(absolute.relative_to(folder)) if absolute.is_relative_to(folder) else str(absolute)
