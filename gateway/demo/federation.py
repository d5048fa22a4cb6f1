"""The demo federation on disk: a key pair and a config file per node, as operators make them.

Each node gets what `gateway keys generate` would give it (a private key file created 0600 in
one exclusive open, and the public key snippet it sends to its peers), and a config whose peers
carry the snippets the other nodes published, pasted as an operator would paste them. The
configs are then loaded with the same `load_config` a node runs at start-up, so a demo that
starts has proven the key and config formats end to end, and a mistake here is reported as a
config error before any process is started.

Every node sends and receives every kind to and from every other node: the demo is about the
exchange, not about route policy. Every node also has one local API client, as an agency's
case system would: a generated bearer token (only its SHA-256 in the config; the token itself
in a 0600 file beside it, for the printed `curl`), its agency's native partner format plus
canonical JSON, every kind, and a drop folder (0700) into which incoming messages are written.

Retry backoff is short (200 ms, capped at 5 s) so that a node that comes up a little after its
peers is caught up within a second or two.

Ports are found by binding port 0 on 127.0.0.1 and releasing them, which leaves a short window
in which another program could take one; a node that cannot bind exits, and the demo then
shows its log.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway.config import (
    KINDS,
    ConfigError,
    NodeConfig,
    PeerKeyConfig,
    PrivateKeyMaterial,
    format_instant,
    format_private_key_file,
    format_public_keys_snippet,
    load_config,
)
from gateway.crypto import KeyValidity, OwnKeyPair
from gateway.ops.private_files import private_folder, write_new_private

LOOPBACK = "127.0.0.1"
# Keys are made fresh for every run; a month covers any demo left running.
KEY_LIFETIME = timedelta(days=30)
RETRY_INITIAL_BACKOFF = "200ms"
RETRY_MAX_BACKOFF = "5s"


@dataclass(frozen=True)
class DemoAgency:
    """One agency of the first federation, as its node introduces itself."""

    id: str
    names: Mapping[str, str]  # language code -> name; "en" always present
    country: str
    province: str


# The four nodes of the first federation (shared/DESIGN.md), named as in config/*.yaml.
DEMO_AGENCIES: tuple[DemoAgency, ...] = (
    DemoAgency(
        "vn-gialai-police",
        {
            "en": "Gia Lai Provincial Police",
            "vi": "Công an tỉnh Gia Lai",
            "km": "ស្នងការដ្ឋាននគរបាលខេត្តយ៉ាឡាយ",
        },
        "VN",
        "VN-30",
    ),
    DemoAgency(
        "vn-gialai-blo",
        {
            "en": "Border Liaison Office, Gia Lai",
            "vi": "Văn phòng Liên lạc biên giới Gia Lai",
            "km": "ការិយាល័យទំនាក់ទំនងព្រំដែន យ៉ាឡាយ",
        },
        "VN",
        "VN-30",
    ),
    DemoAgency(
        "kh-ratanakiri-police",
        {
            "en": "Ratanakiri Provincial Police",
            "vi": "Công an tỉnh Ratanakiri",
            "km": "ស្នងការដ្ឋាននគរបាលខេត្តរតនគិរី",
        },
        "KH",
        "KH-16",
    ),
    DemoAgency(
        "kh-stungtreng-police",
        {
            "en": "Stung Treng Provincial Police",
            "vi": "Công an tỉnh Stung Treng",
            "km": "ស្នងការដ្ឋាននគរបាលខេត្តស្ទឹងត្រែង",
        },
        "KH",
        "KH-19",
    ),
)


def demo_agency(node_id: str) -> DemoAgency:
    """The agency running node `node_id`; KeyError if it is not one of the demo's."""
    for agency in DEMO_AGENCIES:
        if agency.id == node_id:
            return agency
    raise KeyError(node_id)


# Each agency's own system speaks its partner format (shared/partners/); canonical JSON is
# there for whoever tries the API by hand.
NATIVE_FORMATS = {"VN": "vn-police-json", "KH": "kh-police-xml"}
CANONICAL_FORMAT = "canonical-json"
API_CLIENT_ID = "demo-client"


@dataclass(frozen=True)
class DemoApiClient:
    """A node's local API client: what a case system would be given by its operator."""

    id: str
    token: str = field(repr=False)
    token_file: Path
    formats: tuple[str, ...]
    # Incoming messages are written here, in the first of `formats`.
    drop_folder: Path


@dataclass(frozen=True)
class DemoNode:
    """One node of the demo federation: its files, its ports, its loaded config."""

    agency: DemoAgency
    directory: Path
    config_file: Path
    log_file: Path
    federation_port: int
    api_port: int
    api_client: DemoApiClient
    config: NodeConfig = field(repr=False)

    @property
    def id(self) -> str:
        return self.agency.id

    @property
    def operations_url(self) -> str:
        return f"http://{LOOPBACK}:{self.api_port}"


@dataclass(frozen=True)
class _PublishedKey:
    key_id: str
    validity: KeyValidity
    private_key_file: Path
    snippet: str  # what the node sends its peers to paste under keys:


@dataclass(frozen=True)
class _NodePlan:
    """What one node's config is made of, before it is written."""

    agency: DemoAgency
    key: _PublishedKey
    federation_port: int
    api_port: int
    api_client: DemoApiClient
    dsn: str = field(repr=False)


class DemoSetupError(Exception):
    """The demo could not write or load its own federation (one line, for the operator)."""


def free_loopback_ports(count: int) -> list[int]:
    """`count` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    with contextlib.ExitStack() as open_sockets:
        sockets = [
            open_sockets.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:  # all held open together, so no port is handed out twice
            sock.bind((LOOPBACK, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def make_federation_configs(
    workdir: Path,
    dsns: Mapping[str, str],
    agencies: Sequence[DemoAgency] = DEMO_AGENCIES,
    now: datetime | None = None,
) -> list[DemoNode]:
    """Keys and a config file for each agency under workdir/<node id>/, loaded and checked.

    `dsns` maps each node id to the DSN of its own database.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    # Valid from a minute ago: a node's clock read a moment later must already see the key.
    validity = KeyValidity(now - timedelta(minutes=1), now + KEY_LIFETIME)
    ports = iter(free_loopback_ports(2 * len(agencies)))
    plans = [
        _NodePlan(
            agency=agency,
            key=_generate_keys(workdir / agency.id, agency, validity),
            federation_port=next(ports),
            api_port=next(ports),
            api_client=_make_api_client(workdir / agency.id, agency),
            dsn=dsns[agency.id],
        )
        for agency in agencies
    ]
    # /metrics wants a bearer token: one for all the demo's nodes, in a file only we can read.
    token = secrets.token_urlsafe(24)
    _write_token(metrics_token_file(workdir), token)
    token_sha256 = _sha256_hex(token)
    nodes: list[DemoNode] = []
    for plan in plans:
        directory = workdir / plan.agency.id
        config_file = directory / "node.yaml"
        peers = [peer for peer in plans if peer.agency.id != plan.agency.id]
        write_new_private(
            config_file,
            (
                f"# Demo config of {plan.agency.id}, written by `gateway demo`.\n"
                + yaml.dump(
                    _node_document(plan, peers, token_sha256),
                    Dumper=_ConfigDumper,
                    sort_keys=False,
                    allow_unicode=True,
                )
            ).encode(),
        )
        nodes.append(
            DemoNode(
                agency=plan.agency,
                directory=directory,
                config_file=config_file,
                log_file=workdir / f"{plan.agency.id}.log",
                federation_port=plan.federation_port,
                api_port=plan.api_port,
                api_client=plan.api_client,
                config=_load_checked(config_file),
            )
        )
    return nodes


def _generate_keys(directory: Path, agency: DemoAgency, validity: KeyValidity) -> _PublishedKey:
    """What `gateway keys generate` writes: a 0600 private key file and a public snippet."""
    key_id = f"k{validity.valid_from:%Y%m%d}"
    pair = OwnKeyPair.generate(key_id, validity)
    keys_directory = directory / "keys"
    keys_directory.mkdir(mode=0o700, parents=True)
    private_key_file = keys_directory / f"{key_id}.key"
    private_text = format_private_key_file(
        PrivateKeyMaterial(agency.id, key_id, pair.signing_seed, pair.encryption_secret)
    )
    write_new_private(private_key_file, private_text.encode())
    public = pair.public()
    snippet = format_public_keys_snippet(
        agency.id,
        [
            PeerKeyConfig(
                id=key_id,
                signing_public_key=public.signing_public,
                encryption_public_key=public.encryption_public,
                valid_from=validity.valid_from,
                valid_until=validity.valid_until,
            )
        ],
    )
    write_new_private(keys_directory / f"{key_id}.public.yaml", snippet.encode())
    return _PublishedKey(key_id, validity, private_key_file, snippet)


def _make_api_client(directory: Path, agency: DemoAgency) -> DemoApiClient:
    """A fresh token in a 0600 file and an empty 0700 drop folder, under the node's directory."""
    private_folder(directory)
    client = DemoApiClient(
        id=API_CLIENT_ID,
        token=secrets.token_urlsafe(32),
        token_file=directory / f"{API_CLIENT_ID}.token",
        formats=(NATIVE_FORMATS[agency.country], CANONICAL_FORMAT),
        drop_folder=directory / "inbox",
    )
    _write_token(client.token_file, client.token)
    private_folder(client.drop_folder)
    return client


def _write_token(path: Path, token: str) -> None:
    write_new_private(path, (token + "\n").encode())


def _sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def metrics_token_file(workdir: Path) -> Path:
    """Where the demo keeps the bearer token its nodes accept on /metrics."""
    return workdir / "metrics.token"


def _node_document(
    node: _NodePlan, peers: Sequence[_NodePlan], metrics_token_sha256: str
) -> dict[str, Any]:
    """The YAML document of one node's config."""
    return {
        "node": {
            "id": node.agency.id,
            "names": dict(node.agency.names),
            "country": node.agency.country,
            "province": node.agency.province,
        },
        "keys": [
            {
                "id": node.key.key_id,
                "private_key_file": f"keys/{node.key.private_key_file.name}",
                "valid_from": node.key.validity.valid_from,
                "valid_until": node.key.validity.valid_until,
            }
        ],
        "listen": {
            # Plain HTTP on loopback, for a demo without certificates: mutual TLS waived by
            # name, which the loader allows on loopback only.
            "federation": {
                "host": LOOPBACK,
                "port": node.federation_port,
                "insecure_no_mutual_tls": True,
            },
            "api": {
                "host": LOOPBACK,
                "port": node.api_port,
                "metrics_token_sha256": metrics_token_sha256,
            },
        },
        # A temporary directory of ours, on a Unix socket with trust authentication: no
        # password in the DSN, so writing it here is harmless.
        "database": {"dsn": node.dsn},
        "peers": [
            {
                "id": peer.agency.id,
                "names": dict(peer.agency.names),
                "country": peer.agency.country,
                "url": f"http://{LOOPBACK}:{peer.federation_port}/",
                # The peer's published snippet, pasted as an operator would.
                "keys": yaml.safe_load(peer.key.snippet),
                "send": [str(kind) for kind in KINDS],
                "receive": [str(kind) for kind in KINDS],
            }
            for peer in peers
        ],
        "local_clients": [
            {
                "id": node.api_client.id,
                "token_sha256": _sha256_hex(node.api_client.token),
                "formats": list(node.api_client.formats),
                "kinds": [str(kind) for kind in KINDS],
                # Relative to the config file, which sits in the same node directory.
                "delivery": {"type": "drop_folder", "path": node.api_client.drop_folder.name},
            }
        ],
        "retry": {"initial_backoff": RETRY_INITIAL_BACKOFF, "max_backoff": RETRY_MAX_BACKOFF},
    }


class _ConfigDumper(yaml.SafeDumper):
    """Writes configs as people write them: no &anchors, instants as 2026-11-23T00:00:00Z."""

    def ignore_aliases(self, _data: object) -> bool:
        return True


def _represent_instant(dumper: yaml.SafeDumper, instant: datetime) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:timestamp", format_instant(instant))


_ConfigDumper.add_representer(datetime, _represent_instant)


def _load_checked(config_file: Path) -> NodeConfig:
    try:
        return load_config(config_file)
    except ConfigError as error:
        raise DemoSetupError(
            f"the demo wrote a config that does not load: {error.issues[0]}"
        ) from None
