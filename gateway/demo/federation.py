"""The demo federation on disk: a key pair and a config file per node, as operators make them.

Each node gets what `gateway keys generate` would give it (a private key file created 0600 in
one exclusive open, and the public key snippet it sends to its peers), and a config written by
the gateway's one config writer (gateway/config/writer.py, as `gateway init` and `gateway
peers add` write theirs), whose peers carry the keys the other nodes published; the demo's
own settings (local client, short retries) are the writer's overlay. The writer loads each
config with the same `load_config` a node runs at start-up, so a demo that starts has proven
the key and config formats end to end, and a mistake here is reported as a config error
before any process is started.

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

from gateway.config import KINDS, ConfigError, NodeConfig
from gateway.config.node_setup import GeneratedKey, generate_own_key
from gateway.config.writer import NodeSettings, OwnKeyEntry, PeerEntry, write_node_config
from gateway.crypto import KeyValidity
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
class _NodePlan:
    """What one node's config is made of, before it is written."""

    agency: DemoAgency
    key: GeneratedKey
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
        settings, peer_entries, overlay = _node_settings(plan, peers, token_sha256)
        try:
            config = write_node_config(config_file, settings, peer_entries, overlay)
        except ConfigError as error:
            raise DemoSetupError(
                f"the demo wrote a config that does not load: {error.issues[0]}"
            ) from None
        nodes.append(
            DemoNode(
                agency=plan.agency,
                directory=directory,
                config_file=config_file,
                log_file=workdir / f"{plan.agency.id}.log",
                federation_port=plan.federation_port,
                api_port=plan.api_port,
                api_client=plan.api_client,
                config=config,
            )
        )
    return nodes


def _generate_keys(directory: Path, agency: DemoAgency, validity: KeyValidity) -> GeneratedKey:
    """What `gateway keys generate` writes: a 0600 private key file and a public snippet."""
    return generate_own_key(
        agency.id, directory / "keys", f"k{validity.valid_from:%Y%m%d}", validity
    )


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


def _node_settings(
    node: _NodePlan, peers: Sequence[_NodePlan], metrics_token_sha256: str
) -> tuple[NodeSettings, list[PeerEntry], dict[str, Any]]:
    """One node's config as the writer takes it: settings, peers and the demo's overlay."""
    settings = NodeSettings(
        node_id=node.agency.id,
        names=node.agency.names,
        country=node.agency.country,
        province=node.agency.province,
        keys=[
            OwnKeyEntry(
                node.key.public.id,
                f"keys/{node.key.private_key_file.name}",
                node.key.validity.valid_from,
                node.key.validity.valid_until,
            )
        ],
        # Plain HTTP on loopback, for a demo without certificates: mutual TLS waived by
        # name, which the loader allows on loopback only.
        federation_host=LOOPBACK,
        federation_port=node.federation_port,
        federation_tls=None,
        api_host=LOOPBACK,
        api_port=node.api_port,
        metrics_token_sha256=metrics_token_sha256,
        # A temporary directory of ours, on a Unix socket with trust authentication: no
        # password in the DSN, so writing it here is harmless.
        dsn=node.dsn,
        state_dir=None,
        written_by="gateway demo",
    )
    peer_entries = [
        PeerEntry(
            id=peer.agency.id,
            names=peer.agency.names,
            country=peer.agency.country,
            url=f"http://{LOOPBACK}:{peer.federation_port}/",
            # The keys the peer published, as `gateway peers add` takes them.
            keys=[peer.key.public],
            send=[str(kind) for kind in KINDS],
            receive=[str(kind) for kind in KINDS],
        )
        for peer in peers
    ]
    overlay = {
        "local_clients": [
            {
                "id": node.api_client.id,
                "token_sha256": _sha256_hex(node.api_client.token),
                "formats": list(node.api_client.formats),
                "kinds": [str(kind) for kind in KINDS],
                # The demo's records systems take the handovers it shows.
                "victim_protected": True,
                # Relative to the config file, which sits in the same node directory.
                "delivery": {"type": "drop_folder", "path": node.api_client.drop_folder.name},
            }
        ],
        "retry": {"initial_backoff": RETRY_INITIAL_BACKOFF, "max_backoff": RETRY_MAX_BACKOFF},
    }
    return settings, peer_entries, overlay
