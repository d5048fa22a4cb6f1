"""The two nodes: one embedded PostgreSQL, configs through the gateway's one config writer
(gateway/config/writer.py write_node_config, as tests/federation/harness.py and the demo
use it), trustme certificates for mutual TLS with pinned keys, and `gateway run` processes.

What the bench tunes (rate limits, batch size, backoff) is the writer's overlay; the local
client of the API phase is added with the writer's edit_config.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import platform
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import trustme

from gateway.components import keyring_from_config
from gateway.config import (
    NodeConfig,
    load_config,
)
from gateway.config.node_setup import GeneratedKey, generate_own_key
from gateway.config.writer import (
    NodeSettings,
    OwnKeyEntry,
    PeerEntry,
    ServerTlsFiles,
    edit_config,
    merge_overlay,
    write_node_config,
)
from gateway.crypto import Keyring, KeyValidity
from gateway.federation.identity import spki_sha256
from gateway.store import EmbeddedPostgres
from gateway.wire import Kind

GATEWAY = str(Path(sys.executable).parent / "gateway")
ALL_KINDS = [kind.value for kind in Kind]


def now_utc() -> datetime:
    return datetime.now(UTC)


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- the machine -------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    cpu: str
    logical_cpus: int
    usable_cpus: int
    ram_gib: float
    python: str
    system: str
    postgres: str = ""

    def describe(self) -> str:
        return (
            f"{self.cpu}, {self.logical_cpus} logical CPUs ({self.usable_cpus} usable), "
            f"{self.ram_gib:.1f} GiB RAM, Python {self.python}, PostgreSQL {self.postgres}, "
            f"{self.system}"
        )


def machine(postgres_version: str) -> Machine:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return Machine(
        cpu=model,
        logical_cpus=os.cpu_count() or 0,
        usable_cpus=len(os.sched_getaffinity(0)),
        ram_gib=int(psutil.virtual_memory().total) / 1024**3,
        python=platform.python_version(),
        system=f"{platform.system()} {platform.release()}",
        postgres=postgres_version,
    )


KEY_VALIDITY = KeyValidity(now_utc() - timedelta(days=1), now_utc() + timedelta(days=365))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Node:
    node_id: str
    key: GeneratedKey
    dsn: str
    folder: Path
    federation_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.folder / "node.yaml"


class Cluster:
    """Configs, keys, certificates and `gateway run` processes of the two nodes."""

    def __init__(
        self, root: Path, postgres: EmbeddedPostgres, *, batch_size: int, rate_limit: float
    ) -> None:
        self.root = root
        self.postgres = postgres
        self.ca = trustme.CA()
        self.ca_file = root / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.batch_size = batch_size
        self.rate_limit = rate_limit
        self.nodes: dict[str, Node] = {}
        # SHA-256 of the SPKI of each node's certificate, hex.
        self.pins: dict[str, str] = {}

    async def add(self, *node_ids: str) -> None:
        for node_id in node_ids:
            dsn = await self.postgres.ensure_database(node_id.replace("-", "_"))
            folder = self.root / node_id
            folder.mkdir()
            # What `gateway keys generate` writes: folder/k1.key (0600) and its public snippet.
            node = Node(node_id, generate_own_key(node_id, folder, "k1", KEY_VALIDITY), dsn, folder)
            cert = self.ca.issue_cert("127.0.0.1", node_id)
            cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
            cert.private_key_pem.write_to_path(str(folder / "cert.key"))
            (folder / "cert.key").chmod(0o600)
            self.pins[node_id] = spki_sha256(
                ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
            ).hex()
            self.nodes[node_id] = node
        for node_id in self.nodes:
            self._write_config(node_id)

    def _write_config(self, node_id: str) -> None:
        """node_id's config, through the gateway's one config writer; what the bench tunes
        (rate limits, batch sizes) is its overlay."""
        node = self.nodes[node_id]
        peers = []
        for peer_id, peer in self.nodes.items():
            if peer_id == node_id:
                continue
            peers.append(
                PeerEntry(
                    id=peer_id,
                    names={"en": peer_id},
                    country=peer_id[:2].upper(),
                    url=f"https://127.0.0.1:{peer.federation_port}/",
                    keys=[peer.key.public],
                    send=ALL_KINDS,
                    receive=ALL_KINDS,
                    # Mutual TLS with pinned keys both ways, as in production.
                    ca_file=str(self.ca_file),
                    client_cert_file="cert.pem",
                    client_key_file="cert.key",
                    spki_sha256=[self.pins[peer_id]],
                    # Envelopes as many as the request limit lets through in full batches:
                    # the bench measures the exchange, not the default envelope limit.
                    overlay={
                        "rate_limit": {
                            "requests_per_second": self.rate_limit,
                            "burst": max(1, int(self.rate_limit)),
                            "envelopes_per_second": self.rate_limit * self.batch_size,
                            "envelope_burst": max(1, int(self.rate_limit)) * self.batch_size,
                        }
                    },
                )
            )
        settings = NodeSettings(
            node_id=node_id,
            names={"en": node_id},
            country=node_id[:2].upper(),
            keys=[OwnKeyEntry("k1", "k1.key", KEY_VALIDITY.valid_from, KEY_VALIDITY.valid_until)],
            federation_host="127.0.0.1",
            federation_port=node.federation_port,
            federation_tls=ServerTlsFiles("cert.pem", "cert.key", str(self.ca_file)),
            api_host="127.0.0.1",
            api_port=node.api_port,
            dsn=node.dsn,
            written_by="bench.exchange",
        )
        overlay: dict[str, Any] = {
            # Backoff as in the exchange tests (a returning peer is retried within 2 s);
            # batch size as configured (the gateway's default is 100).
            "retry": {
                "initial_backoff": "100ms",
                "max_backoff": "2s",
                "batch_size": self.batch_size,
            },
            "limits": {"max_envelopes_per_batch": max(100, self.batch_size)},
        }
        write_node_config(node.config_path, settings, peers, overlay, replace=True, environ={})

    def config(self, node_id: str) -> NodeConfig:
        return load_config(self.nodes[node_id].config_path, environ={})

    def keyring(self, node_id: str) -> Keyring:
        return keyring_from_config(self.config(node_id))

    def start(self, node_id: str) -> None:
        node = self.nodes[node_id]
        if node.process is not None and node.process.poll() is None:
            raise RuntimeError(f"{node_id} is already running")
        with (node.folder / "run.log").open("ab") as out:
            node.process = subprocess.Popen(
                [GATEWAY, "run", "--config", str(node.config_path)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, node_id: str) -> None:
        process = self.nodes[node_id].process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self.nodes[node_id].process = None

    def stop_all(self) -> None:
        for node_id in self.nodes:
            self.stop(node_id)

    def pid(self, node_id: str) -> int | None:
        process = self.nodes[node_id].process
        return process.pid if process is not None and process.poll() is None else None

    async def wait_ready(self, node_id: str, timeout: float = 60) -> None:
        node = self.nodes[node_id]
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if node.process is None or node.process.poll() is not None:
                    raise RuntimeError(f"{node_id} exited:\n{self.log_tail(node_id)}")
                with contextlib.suppress(aiohttp.ClientError):
                    url = f"http://127.0.0.1:{node.api_port}/readyz"
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{node_id} not ready after {timeout}s:\n{self.log_tail(node_id)}")

    def log_tail(self, node_id: str) -> str:
        path = self.nodes[node_id].folder / "run.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def add_local_client(self, node_id: str, client_id: str, formats: list[str]) -> str:
        """node_id's config gets a local client (every kind) through the writer's
        edit_config; returns its bearer token."""
        token = secrets.token_urlsafe(24)
        entry = {
            "id": client_id,
            "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
            "formats": formats,
            "kinds": ["wanted_person_notice", "victim_handover", "hotline_alert"],
        }
        edit_config(
            self.nodes[node_id].config_path,
            lambda document: merge_overlay(document, {"local_clients": [entry]}),
            environ={},
        )
        return token


@contextlib.contextmanager
def embedded_postgres(root: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(root / "postgres")
    try:
        yield server
    finally:
        server.stop()


def interrupt_on_signals() -> None:
    """SIGINT or SIGTERM cancel the run, so that its finally clauses stop every process.

    Explicit because a shell starting the bench in the background makes it ignore SIGINT.
    """
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextlib.contextmanager
def work_folder(keep: Path | None) -> Iterator[Path]:
    """Where a bench run puts its nodes: `keep` (created, kept for its logs) or a temporary
    folder removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=False)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="blg-bench-") as folder:
        yield Path(folder)
