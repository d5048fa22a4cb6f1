"""A federation of real gateway processes on loopback, for the exchange tests.

Each node is a `gateway run` subprocess with its own config, keys and database (all
databases live in the session's one embedded PostgreSQL). The federation listeners speak
HTTPS with certificates from a throwaway CA (trustme), like production, not plain HTTP, and
by default with mutual TLS and per-peer key pins both ways, as production must. Configs
are written by the gateway's one config writer (gateway/config/writer.py); what the tests
vary (TLS modes, pins, rate limits, listener limits, extra sections) goes in as its
settings and overlays.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import trustme
from aiohttp import web

from adapters import DocumentInvalid, adapter_for
from gateway.components import dispatcher_for, keyring_from_config
from gateway.config import (
    NodeConfig,
    PeerKeyConfig,
    PrivateKeyMaterial,
    format_private_key_file,
    load_config,
)
from gateway.config.writer import (
    NodeSettings,
    OwnKeyEntry,
    PeerEntry,
    ServerTlsFiles,
    write_node_config,
)
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair
from gateway.federation.identity import spki_sha256
from gateway.federation.outgoing import Queued
from gateway.federation.outgoing_attachments import attachment_fields, attachment_refs
from gateway.store import EmbeddedPostgres, Store
from gateway.wire import ControlKind, canonical

GATEWAY = str(Path(sys.executable).parent / "gateway")
KEY_VALIDITY = KeyValidity(
    datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=365)
)
ALL_KINDS = ["wanted_person_notice", "victim_handover", "hotline_alert"]


def local_client(
    client_id: str,
    formats: list[str],
    kinds: list[str] | None = None,
    *,
    victim_protected: bool = True,
) -> tuple[str, dict[str, Any]]:
    """A bearer token and the config entry of a local client holding it (by default a
    records system allowed victim-protected messages, as the example configs' are)."""
    token = secrets.token_urlsafe(24)
    return token, {
        "id": client_id,
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "formats": formats,
        "kinds": kinds or ALL_KINDS,
        "victim_protected": victim_protected,
    }


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free loopback port, never one this process handed out before: once the probe is
    closed the kernel may offer the same port again, and a node then got one port for both
    its listeners (a CI run failed so)."""
    for _ in range(1000):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no fresh loopback port in 1,000 probes")


@asynccontextmanager
async def serving_webhook(
    port: int, handle: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> AsyncIterator[None]:
    """A local system's webhook endpoint (POST /blg-inbox) on loopback while the block runs;
    `handle` is the test's stand-in for that system."""
    app = web.Application()
    app.add_routes([web.post("/blg-inbox", handle)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@dataclass
class Node:
    node_id: str
    key: OwnKeyPair
    dsn: str
    federation_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # SHA-256 of the SPKI of the node's TLS certificate (server and client alike).
    spki_sha256: str = ""


def alert(reference: str, case_id: str = "") -> canonical.Message:
    message = canonical.Message(
        case_id=case_id,
        sender_reference=reference,
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_RESTRICTED,
        hotline_alert=canonical.HotlineAlert(
            call_id=f"111-{reference}",
            channel=canonical.CHANNEL_PHONE,
            category=canonical.CATEGORY_MISSING,
            urgency=canonical.URGENCY_HIGH,
            summary="Hai anh em mất liên lạc",
        ),
    )
    message.issued_at.FromDatetime(datetime.now(UTC).replace(tzinfo=None))
    return message


# A 1x1 PNG: what a test uploads under each attachment id a sample document names.
PLACEHOLDER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


async def upload_named_attachments(api_url: str, token: str, format_id: str, data: bytes) -> None:
    """Upload a placeholder under every attachment id the document names, as its client:
    a message may name only what its client uploaded (PUT /api/v1/attachments/{id})."""
    try:
        decoded_messages = adapter_for(format_id).decode(data).messages
    except DocumentInvalid:
        return  # a test of a refused document: it names nothing to upload
    ids = {
        attachment_id
        for decoded in decoded_messages
        for _, attachment_id in attachment_refs(decoded.message)
    }
    async with aiohttp.ClientSession() as session:
        for attachment_id in sorted(ids):
            async with session.put(
                f"{api_url}/api/v1/attachments/{attachment_id}",
                data=PLACEHOLDER_PNG,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
            ) as response:
                assert response.status in (200, 201), await response.text()


def without_attachment_ids(message: canonical.Message) -> canonical.Message:
    """The message with its attachment ids cleared: each recipient's copy names its own
    (per-recipient wire ids, PROTOCOL.md 7.4), so content compares without them."""
    for _, holder in list(attachment_fields(message)):
        holder.ClearField("attachment_ids")
    return message


# Audit checkpoints and countersignatures (docs/PROTOCOL.md section 16) go between nodes on
# their own once enough entries accrued: the counts of what a test sent leave them out.
CHECKPOINT_KINDS = frozenset(
    {ControlKind.AUDIT_CHECKPOINT.value, ControlKind.CHECKPOINT_COUNTERSIGNATURE.value}
)


class Federation:
    """Configs, keys, certificates and processes of a few nodes."""

    def __init__(self, root: Path, postgres: EmbeddedPostgres, ca: trustme.CA) -> None:
        self.root = root
        self.postgres = postgres
        self.ca = ca
        self.ca_file = root / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.nodes: dict[str, Node] = {}
        # Extra top-level config sections per node (local_clients, routing...), kept across
        # rewrites of its config.
        self.sections: dict[str, dict[str, Any]] = {}
        # listen.limits per node (caps and deadlines of its listeners), kept across rewrites.
        self.listen_limits: dict[str, dict[str, Any]] = {}
        # Nodes whose local API serves HTTPS (with their federation certificate).
        self.api_tls: set[str] = set()
        # Every node accepts this bearer token on /metrics (listen.api.metrics_token_sha256).
        self.metrics_token = secrets.token_urlsafe(24)
        # rate_limit entries by (node, peer), merged over the default of every peer entry.
        self.rate_limits: dict[tuple[str, str], dict[str, float | int]] = {}
        # Agency names by language per node (its own `node.names` and its peers' `names`);
        # a node not listed is named by its id in English.
        self.names: dict[str, dict[str, str]] = {}
        # The URL a node dials for a peer, by (node, peer), when not the peer's own listener
        # (a test's relay between them).
        self.peer_urls: dict[tuple[str, str], str] = {}
        self.retry: dict[str, str | int] = {
            "initial_backoff": "100ms",
            "max_backoff": "2s",
            "batch_size": 100,
        }

    async def add(self, *node_ids: str) -> None:
        for node_id in node_ids:
            dsn = await self.postgres.ensure_database(
                f"{node_id.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
            )
            node = Node(node_id, OwnKeyPair.generate("k1", KEY_VALIDITY), dsn)
            self.nodes[node_id] = node
            folder = self.root / node_id
            folder.mkdir(exist_ok=True)
            cert = self.ca.issue_cert("127.0.0.1", node_id)
            cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
            cert.private_key_pem.write_to_path(str(folder / "cert.key"))
            (folder / "cert.key").chmod(0o600)
            der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
            node.spki_sha256 = spki_sha256(der).hex()
        for node_id in node_ids:
            self.write_config(node_id)

    def config_path(self, node_id: str, variant: str = "") -> Path:
        return self.root / node_id / f"node{variant}.yaml"

    def write_config(
        self,
        node_id: str,
        *,
        variant: str = "",
        federation_port: int | None = None,
        api_port: int | None = None,
        extra_peer_keys: dict[str, list[PeerKeyConfig]] | None = None,
        mutual_tls: bool = True,
        present_client_cert: bool = True,
        pins: bool = True,
        pin_overrides: dict[str, str] | None = None,
        omit_peers: Iterable[str] = (),
    ) -> Path:
        """Write node_id's config; mutual_tls makes it require client certificates of its
        peers (else it waives mutual TLS, on loopback), present_client_cert makes it show its
        own when it connects to them, pins makes it pin its peers' keys both ways (with
        pin_overrides giving another digest for some peers)."""
        node = self.nodes[node_id]
        folder = self.root / node_id
        folder.mkdir(exist_ok=True)
        key_file = folder / "k1.key"
        if not key_file.exists():
            key_file.write_text(
                format_private_key_file(
                    PrivateKeyMaterial(
                        node_id, "k1", node.key.signing_seed, node.key.encryption_secret
                    )
                )
            )
            key_file.chmod(0o600)
        peers: list[PeerEntry] = []
        for peer_id, peer in self.nodes.items():
            if peer_id == node_id or peer_id in omit_peers:
                continue
            public = peer.key.public()
            keys = [
                PeerKeyConfig(
                    id=public.key_id,
                    signing_public_key=public.signing_public,
                    encryption_public_key=public.encryption_public,
                    valid_from=public.validity.valid_from,
                    valid_until=public.validity.valid_until,
                ),
                *(extra_peer_keys or {}).get(peer_id, []),
            ]
            rate_limit: dict[str, float | int] = {"requests_per_second": 1000, "burst": 1000}
            rate_limit.update(self.rate_limits.get((node_id, peer_id), {}))
            peers.append(
                PeerEntry(
                    id=peer_id,
                    names=self.names.get(peer_id, {"en": peer_id}),
                    country=peer_id[:2].upper(),
                    url=self.peer_urls.get(
                        (node_id, peer_id), f"https://127.0.0.1:{peer.federation_port}/"
                    ),
                    keys=keys,
                    send=ALL_KINDS,
                    receive=ALL_KINDS,
                    ca_file=str(self.ca_file),
                    mutual=mutual_tls,
                    spki_sha256=[(pin_overrides or {}).get(peer_id, peer.spki_sha256)]
                    if pins
                    else (),
                    client_cert_file="cert.pem" if present_client_cert else None,
                    client_key_file="cert.key" if present_client_cert else None,
                    overlay={"rate_limit": rate_limit},
                )
            )
        settings = NodeSettings(
            node_id=node_id,
            names=self.names.get(node_id, {"en": node_id}),
            country=node_id[:2].upper(),
            keys=[OwnKeyEntry("k1", "k1.key", KEY_VALIDITY.valid_from, KEY_VALIDITY.valid_until)],
            federation_host="127.0.0.1",
            federation_port=federation_port or node.federation_port,
            federation_tls=ServerTlsFiles(
                "cert.pem", "cert.key", str(self.ca_file) if mutual_tls else None
            ),
            api_host="127.0.0.1",
            api_port=api_port or node.api_port,
            api_tls=ServerTlsFiles("cert.pem", "cert.key") if node_id in self.api_tls else None,
            metrics_token_sha256=hashlib.sha256(self.metrics_token.encode()).hexdigest(),
            dsn=node.dsn,
            written_by="tests/federation/harness.py",
        )
        overlay: dict[str, Any] = {"retry": self.retry, **self.sections.get(node_id, {})}
        if node_id in self.listen_limits:
            overlay["listen"] = {"limits": self.listen_limits[node_id]}
        path = self.config_path(node_id, variant)
        write_node_config(path, settings, peers, overlay, replace=True, environ={})
        return path

    def client_ssl(self, as_node: str | None = None) -> ssl.SSLContext:
        """TLS towards a node's federation listener, showing as_node's client certificate."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if as_node is not None:
            folder = self.root / as_node
            context.load_cert_chain(str(folder / "cert.pem"), str(folder / "cert.key"))
        return context

    def config(self, node_id: str) -> NodeConfig:
        return load_config(self.config_path(node_id), environ={})

    def keyring(self, node_id: str) -> Keyring:
        return keyring_from_config(self.config(node_id))

    def api_url(self, node_id: str, api_port: int | None = None) -> str:
        scheme = "https" if node_id in self.api_tls else "http"
        return f"{scheme}://127.0.0.1:{api_port or self.nodes[node_id].api_port}"

    def start(
        self,
        node_id: str,
        *,
        variant: str = "",
        open_files: int | None = None,
        run_args: Sequence[str] = (),
    ) -> subprocess.Popen[bytes]:
        """Start `gateway run`; open_files caps its descriptors (soft and hard limit);
        run_args are further options of `gateway run` (--log-format text)."""
        limit = ["prlimit", f"--nofile={open_files}:{open_files}"] if open_files else []
        with (self.root / node_id / f"run{variant}.log").open("ab") as log:
            process = subprocess.Popen(
                [
                    *limit,
                    GATEWAY,
                    "run",
                    "--config",
                    str(self.config_path(node_id, variant)),
                    *run_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.nodes[node_id].processes.append(process)
        return process

    def kill(self, node_id: str, how: int = signal.SIGKILL) -> None:
        for process in self.nodes[node_id].processes:
            if process.poll() is None:
                process.send_signal(how)
                process.wait(timeout=30)
        self.nodes[node_id].processes.clear()

    def stop_all(self) -> None:
        for node_id in self.nodes:
            self.kill(node_id, signal.SIGTERM)

    async def metrics_text(self, node_id: str) -> str:
        """The node's /metrics page, fetched with the metrics token every node accepts."""
        headers = {"Authorization": f"Bearer {self.metrics_token}"}
        connector = aiohttp.TCPConnector(ssl=self.client_ssl())
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(f"{self.api_url(node_id)}/metrics", headers=headers) as response,
        ):
            assert response.status == 200, response.status
            return await response.text()

    @staticmethod
    def metric_value(text: str, name: str, labels: str) -> float:
        """The sum of the samples of name whose label set is exactly {labels}."""
        prefix = f"{name}{{{labels}}} "
        return sum(
            float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)
        )

    async def wait_ready(
        self, node_id: str, *, api_port: int | None = None, timeout: float = 30
    ) -> None:
        url = f"{self.api_url(node_id, api_port)}/readyz"
        deadline = time.monotonic() + timeout
        connector = aiohttp.TCPConnector(ssl=self.client_ssl())
        async with aiohttp.ClientSession(connector=connector) as session:
            while time.monotonic() < deadline:
                for process in self.nodes[node_id].processes:
                    if process.poll() is not None:
                        raise AssertionError(f"{node_id} exited: {self.log_tail(node_id)}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"{node_id} not ready: {self.log_tail(node_id)}")

    def log_tail(self, node_id: str) -> str:
        logs = sorted((self.root / node_id).glob("run*.log"))
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in logs)

    async def store(self, node_id: str) -> Store:
        store = await Store.connect(self.nodes[node_id].dsn)
        await store.migrate()  # the test may queue before the node first started
        return store

    async def send(
        self, sender: str, recipient: str, messages: Iterable[canonical.Message]
    ) -> list[Queued]:
        store = await self.store(sender)
        try:
            dispatcher = dispatcher_for(self.config(sender), store, lambda: datetime.now(UTC))
            queued: list[Queued] = []
            for message in messages:
                queued += await dispatcher.submit(message, [recipient], actor="test")
            return queued
        finally:
            await store.close()

    async def delivered_count(self, sender: str) -> int:
        store = await self.store(sender)
        try:
            counts = await store.state_counts()
        finally:
            await store.close()
        return sum(
            n
            for (kind, state), n in counts.items()
            if state == "delivered" and kind not in CHECKPOINT_KINDS
        )

    async def wait_delivered(self, sender: str, count: int, timeout: float = 60) -> None:
        store = await self.store(sender)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                rows = await store.list_outbox(state="delivered", limit=count + 101)
                if sum(row.kind not in CHECKPOINT_KINDS for row in rows) >= count:
                    return
                await asyncio.sleep(0.2)
            states = await store.state_counts()
            raise AssertionError(f"not all delivered in {timeout}s: {states}")
        finally:
            await store.close()
