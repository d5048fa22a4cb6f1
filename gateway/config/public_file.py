"""A node's public file: what it sends each peer so that the peer can add it in one command.

`gateway init` writes `<node>.public.yaml`; the peer runs `gateway peers add --config FILE
<node>.public.yaml`. The file holds nothing secret: the node's public keys (the same entries
`gateway keys generate` prints), the URL of its federation endpoint, and its TLS certificate
with the certificate pin (SHA-256 of its Subject Public Key Info, what the peer's
`peers[].tls.spki_sha256` wants). The certificate itself travels too: a self-signed one is
the trust anchor the peer verifies this node's server and client certificates against, so
no CA is needed between two agencies; `self_signed: false` says it chains to a CA instead.

Parsing is strict and names the field (`keys[0].valid_until: expected ...`) without quoting
values, like the config loader; the peer's config check catches the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.config.keyfiles import format_key, parse_public_key
from gateway.config.schema import KEY_ID_PATTERN, NODE_ID_PATTERN, PeerKeyConfig
from gateway.config.values import format_instant, to_utc

PUBLIC_FILE_FORMAT = "blg-public-node-v1"


class PublicFileError(ValueError):
    """A public file is unreadable or malformed; the message names the field."""


@dataclass(frozen=True)
class PublicFile:
    node_id: str
    names: Mapping[str, str]
    country: str
    url: str
    keys: tuple[PeerKeyConfig, ...]
    # Hex SHA-256 digests of the SPKI of the node's TLS certificate(s).
    spki_sha256: tuple[str, ...]
    certificate_pem: str | None = None
    self_signed: bool = True


def certificate_pin(certificate_pem: bytes) -> str:
    """Hex SHA-256 of the first certificate's Subject Public Key Info (peers[].tls pin)."""
    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def is_self_signed(certificate_pem: bytes) -> bool:
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    return certificate.issuer == certificate.subject


def format_public_file(public: PublicFile) -> str:
    document: dict[str, Any] = {
        "format": PUBLIC_FILE_FORMAT,
        "node": public.node_id,
        "names": dict(public.names),
        "country": public.country,
        "url": public.url,
        "keys": [
            {
                "id": key.id,
                "signing_public_key": format_key("ed25519", key.signing_public_key),
                "encryption_public_key": format_key("x25519", key.encryption_public_key),
                "valid_from": format_instant(key.valid_from),
                "valid_until": format_instant(key.valid_until),
            }
            for key in public.keys
        ],
        "tls": {
            "spki_sha256": list(public.spki_sha256),
            "self_signed": public.self_signed,
            **({"certificate": public.certificate_pem} if public.certificate_pem else {}),
        },
    }
    header = (
        f"# Public file of node {public.node_id}: nothing secret. Send it to each peer, who adds\n"
        f"# this node with\n#   gateway peers add --config THEIR-CONFIG.yaml "
        f"{public.node_id}.public.yaml\n"
    )
    body = yaml.dump(
        document, Dumper=_PublicDumper, sort_keys=False, allow_unicode=True, width=4096
    )
    return header + body


class _PublicDumper(yaml.SafeDumper):
    """Multi-line text (the certificate) as a literal block, as it reads in a PEM file."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_PublicDumper.add_representer(str, _represent_text)


def read_public_file(path: Path) -> PublicFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PublicFileError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise PublicFileError(f"{path}: expected UTF-8 text") from None
    return parse_public_file(text, str(path))


def parse_public_file(text: str, source: str) -> PublicFile:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise PublicFileError(f"{source}: not YAML; expected a public file") from None
    reader = _Reader(document, source)
    if reader.text("format") != PUBLIC_FILE_FORMAT:
        reader.fail("format", f"expected {PUBLIC_FILE_FORMAT}")
    node_id = reader.text("node")
    if not NODE_ID_PATTERN.fullmatch(node_id):
        reader.fail("node", f"expected a node id matching ^{NODE_ID_PATTERN.pattern}$")
    names = reader.mapping("names")
    if not isinstance(names.get("en"), str) or not all(
        isinstance(value, str) for value in names.values()
    ):
        reader.fail("names", "expected names by language, with en")
    url = reader.text("url")
    if not url.startswith(("https://", "http://")):
        reader.fail("url", "expected an https:// URL")
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        reader.fail("keys", "expected a list of public keys")
    keys = tuple(_Reader(item, source, f"keys[{i}].").peer_key() for i, item in enumerate(raw_keys))
    tls = _Reader(reader.mapping("tls"), source, "tls.")
    pins = tls.value("spki_sha256")
    if not isinstance(pins, list) or not all(
        isinstance(pin, str) and len(pin) == 64 and _is_hex(pin) for pin in pins
    ):
        tls.fail("spki_sha256", "expected a list of hex SHA-256 digests (64 characters)")
    certificate = tls.value("certificate", required=False)
    if certificate is not None:
        if not isinstance(certificate, str):
            tls.fail("certificate", "expected a PEM certificate")
        try:
            pin = certificate_pin(certificate.encode())
        except ValueError:
            tls.fail("certificate", "expected a PEM certificate")
        if pin not in pins:
            tls.fail("certificate", "its key is not one of tls.spki_sha256")
    self_signed = tls.value("self_signed", required=False)
    return PublicFile(
        node_id=node_id,
        names={str(language): str(name) for language, name in names.items()},
        country=reader.text("country"),
        url=url,
        keys=keys,
        spki_sha256=tuple(pins),
        certificate_pem=certificate,
        self_signed=self_signed is not False,
    )


def _is_hex(text: str) -> bool:
    return all(character in "0123456789abcdef" for character in text)


class _Reader:
    def __init__(self, document: object, source: str, prefix: str = "") -> None:
        if not isinstance(document, dict):
            where = prefix.rstrip(".") or "the file"
            raise PublicFileError(f"{source}: {where}: expected a mapping")
        self.document: dict[str, Any] = document
        self.source = source
        self.prefix = prefix

    def fail(self, key: str, expected: str) -> Any:  # noqa: ANN401 - never returns
        raise PublicFileError(f"{self.source}: {self.prefix}{key}: {expected}")

    def value(self, key: str, *, required: bool = True) -> Any:  # noqa: ANN401 - raw YAML
        if key not in self.document and required:
            self.fail(key, "missing")
        return self.document.get(key)

    def text(self, key: str) -> str:
        value = self.value(key)
        if not isinstance(value, str) or not value:
            self.fail(key, "expected text")
        return str(value)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.value(key)
        if not isinstance(value, dict):
            self.fail(key, "expected a mapping")
        return dict(value)

    def instant(self, key: str) -> datetime:
        value = self.value(key)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                self.fail(key, "expected an ISO 8601 instant with a zone")
        try:
            return to_utc(value)
        except ValueError:
            return self.fail(key, "expected an ISO 8601 instant with a zone")  # type: ignore[no-any-return]

    def peer_key(self) -> PeerKeyConfig:
        key_id = self.text("id")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            self.fail("id", f"expected a key id matching ^{KEY_ID_PATTERN.pattern}$")
        public: dict[str, bytes] = {}
        for field, algorithm in (
            ("signing_public_key", "ed25519"),
            ("encryption_public_key", "x25519"),
        ):
            try:
                public[field] = parse_public_key(self.text(field), algorithm)  # type: ignore[arg-type]
            except ValueError as error:
                self.fail(field, str(error))
        key = PeerKeyConfig(
            id=key_id,
            signing_public_key=public["signing_public_key"],
            encryption_public_key=public["encryption_public_key"],
            valid_from=self.instant("valid_from"),
            valid_until=self.instant("valid_until"),
        )
        if key.valid_until <= key.valid_from:
            self.fail("valid_until", "expected an instant after valid_from")
        return key
