"""Benchmark: two real gateway processes exchanging ~1 KiB envelopes over HTTPS.

Run by hand from the repository root, never by the test suite:

    .venv/bin/python bench/exchange.py                 # the full run (several minutes)
    .venv/bin/python bench/exchange.py --quick         # a scaled-down smoke run, about a minute
    .venv/bin/python bench/exchange.py --json out.json # also write every figure as JSON
    .venv/bin/python bench/exchange.py --profile       # in-process replica: cProfile + SQL counts

Set-up: ONE embedded PostgreSQL (in a temporary directory) holds both nodes' databases; the
sender vn-gialai-police and the receiver kh-ratanakiri-police are `gateway run` subprocesses
whose federation listeners speak HTTPS with trustme certificates (as tests/federation/harness.py
does). The bench process itself queues messages and reads the sender's database directly.
Every message is a canonical hotline alert whose summary is padded so that the sealed envelope
is ~1 KiB (the exact size is printed). Node config: retry batch_size 100 (the default;
--batch-size), backoff 100 ms doubling to a 2 s cap (as in the exchange tests), per-peer rate
limit 1,000 requests/s (--rate-limit) and as many envelopes/s as full batches at that rate
carry (the defaults, 100 requests/s and 2,000 envelopes/s, would cap a peer's throughput).
The CPU table at the end shows who used the cores in each phase, including any other
workload on the machine ("other"): figures from a phase where it is high are not clean.

What each figure measures (instants are from the sender's database, i.e. one host clock):

1. Throughput: N envelopes are queued (sealed in the bench, Store.enqueue in chunks of 1,000)
   while the sender is stopped and the receiver is up; then the sender starts. Rate =
   delivered / (last receipts.stored_at - first outbox.claimed_at): from the first claim to
   the last receipt stored, so process start-up is excluded (the wall time from starting the
   sender to seeing every message delivered is printed too).
2. Latency at a fixed offered load: messages offered open-loop at R/s for S seconds, by
   default through Dispatcher.submit (seal + one transaction per message, as the local API
   does); if that path cannot keep up, again through Store.enqueue of pre-sealed envelopes,
   one transaction per 10 ms tick. Achieved offered rate = messages / (last queue call
   returned - first due); "kept up" means >= 97% of the target. Latency =
   receipts.stored_at - outbox.queued_at per message, split at outbox.claimed_at. queued_at
   is stamped in Store.enqueue before it waits for a connection and the audit lock, so when
   the submit path falls behind, that wait is part of the latency. stored_at is now() of the
   sender's finish transaction, i.e. its start: the transaction's own duration (100 UPDATE +
   100 INSERT round trips) is not included.
3. Backlog drain: the receiver is stopped (SIGTERM), B envelopes are sealed and queued in
   chunks of 1,000, the receiver is started; time from starting the receiver to the last
   receipt stored, split into start-up + the sender's backoff wait, and the drain itself.
   RSS of both gateway processes (not their children; they have none) is sampled every
   0.5 s for the whole run; the peak of each is reported.
4. Ceilings, in the bench process (one Python thread): seal and open_envelope of the same
   ~1 KiB envelope, sign_receipt and verify_receipt; and a bare asyncpg loop over a plain
   table of 1 KiB bytea rows in the same PostgreSQL: one row per statement in autocommit, and
   executemany in batches of 100 (one implicit transaction each). Also SELECT 1 round trips
   and 100 single-row INSERTs per explicit transaction (the gateway's own pattern).

Targets (reported as met / missed; the gateway is not tuned to reach them): 3,000 msg/s
sustained; p99 < 200 ms at 1,000 msg/s; 100,000 backlog drained in < 60 s; each gateway
< 250 MB RSS (MB = 10^6 bytes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import math
import os
import platform
import pstats
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil  # type: ignore[import-untyped]
import trustme

from gateway.app import Gateway, dispatcher_for, keyring_from_config
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
from gateway.crypto import (
    EnvelopeLimits,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    open_envelope,
    seal,
    sign_receipt,
    verify_receipt,
)
from gateway.federation.identity import spki_sha256
from gateway.store import AuditEntry, EmbeddedPostgres, OutgoingEnvelope, Store
from gateway.store.queries import Q
from gateway.wire import Kind, canonical, envelope, uuid7

SENDER = "vn-gialai-police"
RECEIVER = "kh-ratanakiri-police"
GATEWAY = str(Path(sys.executable).parent / "gateway")
ALL_KINDS = [kind.value for kind in Kind]
ENVELOPE_BYTES = 1024
MESSAGE_TTL = timedelta(days=7)
MB = 1_000_000

TARGET_THROUGHPUT = 3000.0
TARGET_P99_SECONDS = 0.200
TARGET_DRAIN_SECONDS = 60.0
TARGET_RSS_BYTES = 250 * MB


@dataclass(frozen=True)
class Scale:
    """How much work each part does."""

    messages: int
    rate: float
    seconds: float
    backlog: int
    chunk: int
    ceiling_seconds: float


FULL = Scale(messages=20_000, rate=1000, seconds=20, backlog=100_000, chunk=1000, ceiling_seconds=3)
QUICK = Scale(messages=3_000, rate=1000, seconds=5, backlog=10_000, chunk=1000, ceiling_seconds=1)


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


# --- two nodes, configured like tests/federation/harness.py --------------------------------

KEY_VALIDITY = KeyValidity(now_utc() - timedelta(days=1), now_utc() + timedelta(days=365))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Node:
    node_id: str
    key: OwnKeyPair
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
            node = Node(node_id, OwnKeyPair.generate("k1", KEY_VALIDITY), dsn, folder)
            key_file = folder / "k1.key"
            key_file.write_text(
                format_private_key_file(
                    PrivateKeyMaterial(
                        node_id, "k1", node.key.signing_seed, node.key.encryption_secret
                    )
                )
            )
            key_file.chmod(0o600)
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
            public = peer.key.public()
            peers.append(
                PeerEntry(
                    id=peer_id,
                    names={"en": peer_id},
                    country=peer_id[:2].upper(),
                    url=f"https://127.0.0.1:{peer.federation_port}/",
                    keys=[
                        PeerKeyConfig(
                            id=public.key_id,
                            signing_public_key=public.signing_public,
                            encryption_public_key=public.encryption_public,
                            valid_from=public.validity.valid_from,
                            valid_until=public.validity.valid_until,
                        )
                    ],
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
            written_by="bench/exchange.py",
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


# --- messages ----------------------------------------------------------------------------


def alert(reference: str, padding: int) -> canonical.Message:
    """A hotline alert like the exchange tests', its summary padded by `padding` bytes."""
    message = canonical.Message(
        sender_reference=reference,
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_RESTRICTED,
        hotline_alert=canonical.HotlineAlert(
            call_id=f"111-{reference}",
            channel=canonical.CHANNEL_PHONE,
            category=canonical.CATEGORY_MISSING,
            urgency=canonical.URGENCY_HIGH,
            summary="Hai anh em mất liên lạc" + "." * padding,
        ),
    )
    message.issued_at.FromDatetime(now_utc().replace(tzinfo=None))
    return message


class Sealer:
    """Builds padded alerts and seals them as Dispatcher.submit does (for a message the
    route policy leaves as it is): one UUIDv7, a new case id, expiry now + 7 days, and the
    same audit entry, so Store.enqueue does the same work as under submit."""

    def __init__(self, keyring: Keyring, recipient: str) -> None:
        self._keyring = keyring
        self._recipient = recipient
        self._counter = 0
        self.padding = 0
        for _ in range(8):  # varint lengths move by a byte at boundaries: iterate
            size = len(self.seal_one()[0].envelope)
            if size == ENVELOPE_BYTES:
                break
            self.padding = max(0, self.padding + ENVELOPE_BYTES - size)
        sample = self.seal_one()[0]
        self.envelope_bytes = len(sample.envelope)
        self.message_bytes = len(self.message().SerializeToString())

    def message(self) -> canonical.Message:
        """A fresh padded alert (no case id: submit assigns one), fixed-width reference."""
        self._counter += 1
        return alert(f"BENCH-{self._counter:09d}", self.padding)

    def seal_one(self) -> tuple[OutgoingEnvelope, AuditEntry]:
        message = self.message()
        case_id = uuid.uuid4()
        message.case_id = str(case_id)
        now = now_utc()
        message_id = uuid7()
        sealed = seal(
            self._keyring,
            recipient=self._recipient,
            kind=Kind.HOTLINE_ALERT,
            case_id=case_id,
            message_id=message_id,
            payload=envelope.SealedPayload(message=message.SerializeToString()),
            created_at=now,
            expires_at=now + MESSAGE_TTL,
        )
        item = OutgoingEnvelope(
            message_id=message_id,
            recipient=self._recipient,
            case_id=case_id,
            kind=Kind.HOTLINE_ALERT.value,
            handling="restricted",
            envelope=sealed.data,
            envelope_sha256=sealed.sha256,
            expires_at=sealed.header.expires_at,
            sender_reference=message.sender_reference,
        )
        audit = AuditEntry(
            "bench",
            "outbox.queued",
            str(message_id),
            {"peer": self._recipient, "kind": Kind.HOTLINE_ALERT.value, "case": str(case_id)},
        )
        return item, audit

    def seal_many(self, count: int) -> tuple[list[OutgoingEnvelope], list[AuditEntry]]:
        pairs = [self.seal_one() for _ in range(count)]
        return [item for item, _ in pairs], [audit for _, audit in pairs]


async def queue_sealed(store: Store, sealer: Sealer, count: int, chunk: int) -> float:
    """Seal and Store.enqueue count envelopes, chunk per transaction; returns seconds taken."""
    started = time.perf_counter()
    done = 0
    while done < count:
        items, audit = sealer.seal_many(min(chunk, count - done))
        await store.enqueue(items, audit)
        done += len(items)
    return time.perf_counter() - started


# --- the sender's outbox, read directly ------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Instants of the outbox rows with after < id <= upto."""

    rows: int
    delivered: int
    retried: int
    first_queued: datetime | None
    last_queued: datetime | None
    first_claimed: datetime | None
    first_stored: datetime | None
    last_stored: datetime | None


class Outbox:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def last_id(self) -> int:
        value: int = await self._connection.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
        return value

    async def states(self, after: int, upto: int) -> dict[str, int]:
        rows = await self._connection.fetch(
            "SELECT state::text AS state, count(*) AS n FROM outbox"
            " WHERE id > $1 AND id <= $2 GROUP BY 1",
            after,
            upto,
        )
        return {row["state"]: row["n"] for row in rows}

    async def first_pending(self, after: int, upto: int) -> int | None:
        """The lowest id still queued or sending, or None when all are final.

        Cheap on purpose (the gateway's own partial index on pending rows, one entry read):
        a count over the phase's rows would scan ~1 KiB per row and load the very database
        being measured. Claims go in id order, so the ids before it are (nearly all) done.
        """
        value: int | None = await self._connection.fetchval(
            "SELECT min(id) FROM outbox WHERE recipient = $1"
            " AND state IN ('queued', 'sending') AND id > $2 AND id <= $3",
            RECEIVER,
            after,
            upto,
        )
        return value

    async def wait_final(
        self, after: int, upto: int, timeout: float, label: str
    ) -> tuple[bool, float]:
        """Poll every 0.1 s until no row is pending; (all final?, perf_counter when seen)."""
        expected = upto - after
        started = time.perf_counter()
        deadline = started + timeout
        last_report = started
        while True:
            pending = await self.first_pending(after, upto)
            now = time.perf_counter()
            if pending is None:
                return True, now
            if now > deadline:
                log(f"{label}: timed out after {timeout:.0f}s: {await self.states(after, upto)}")
                return False, now
            if now - last_report >= 5:
                done = pending - after - 1
                log(f"{label}: ~{done}/{expected} done after {now - started:.0f}s")
                last_report = now
            await asyncio.sleep(0.1)

    async def span(self, after: int, upto: int) -> Span:
        row = await self._connection.fetchrow(
            """
            SELECT count(*) AS rows,
                   count(*) FILTER (WHERE o.state = 'delivered') AS delivered,
                   count(*) FILTER (WHERE o.attempts > 1) AS retried,
                   min(o.queued_at) AS first_queued, max(o.queued_at) AS last_queued,
                   min(o.claimed_at) AS first_claimed,
                   min(r.stored_at) AS first_stored, max(r.stored_at) AS last_stored
            FROM outbox o LEFT JOIN receipts r USING (message_id)
            WHERE o.id > $1 AND o.id <= $2
            """,
            after,
            upto,
        )
        assert row is not None
        return Span(**dict(row.items()))

    async def latencies(self, after: int, upto: int) -> list[tuple[float, float, float]]:
        """(claimed - queued, stored - claimed, stored - queued) in seconds, per delivery."""
        rows = await self._connection.fetch(
            """
            SELECT extract(epoch FROM o.claimed_at - o.queued_at)::float8 AS waiting,
                   extract(epoch FROM r.stored_at - o.claimed_at)::float8 AS in_flight,
                   extract(epoch FROM r.stored_at - o.queued_at)::float8 AS total
            FROM outbox o JOIN receipts r USING (message_id)
            WHERE o.id > $1 AND o.id <= $2 AND o.state = 'delivered'
            """,
            after,
            upto,
        )
        return [(row["waiting"], row["in_flight"], row["total"]) for row in rows]


# --- memory and CPU of the processes ----------------------------------------------------------


class Monitor:
    """RSS of both gateways every interval (peaks per phase); CPU seconds per phase."""

    def __init__(self, cluster: Cluster, postgres_data_dir: Path, interval: float = 0.5) -> None:
        self._cluster = cluster
        self._interval = interval
        self._processes: dict[int, Any] = {}
        self._postmaster: Any = None
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if any(str(postgres_data_dir) in part for part in cmdline) and "-D" in cmdline:
                self._postmaster = process
                break
        self.phase = "setup"
        self.rss_peak: dict[str, dict[str, int]] = {}
        self.samples = 0

    def _process(self, pid: int) -> Any:  # noqa: ANN401 - psutil has no type information
        if pid not in self._processes:
            self._processes[pid] = psutil.Process(pid)
        return self._processes[pid]

    def sample(self) -> None:
        peaks = self.rss_peak.setdefault(self.phase, {})
        for node_id in self._cluster.nodes:
            pid = self._cluster.pid(node_id)
            if pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                rss = int(self._process(pid).memory_info().rss)
                peaks[node_id] = max(peaks.get(node_id, 0), rss)
        self.samples += 1

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self._interval)

    def peak(self, node_id: str, phases: Sequence[str] | None = None) -> int:
        return max(
            (
                peaks.get(node_id, 0)
                for phase, peaks in self.rss_peak.items()
                if phases is None or phase in phases
            ),
            default=0,
        )

    def cpu(self) -> dict[str, tuple[int, float]]:
        """(pid, user+system CPU seconds so far) of each gateway, PostgreSQL and the bench."""
        found: dict[str, tuple[int, float]] = {}
        for node_id in self._cluster.nodes:
            pid = self._cluster.pid(node_id)
            if pid is not None:
                with contextlib.suppress(psutil.Error):
                    times = self._process(pid).cpu_times()
                    found[node_id] = (pid, float(times.user + times.system))
        if self._postmaster is not None:
            with contextlib.suppress(psutil.Error):
                # Exited backends are folded into the postmaster's children_* when reaped.
                times = self._postmaster.cpu_times()
                total = float(
                    times.user + times.system + times.children_user + times.children_system
                )
                for child in self._postmaster.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child_times = child.cpu_times()
                        total += float(child_times.user + child_times.system)
                found["postgres"] = (self._postmaster.pid, total)
        own = os.times()
        found["bench"] = (os.getpid(), own.user + own.system)
        # Process time of the whole machine (user, nice, system; not irq/softirq, which are
        # not charged to any process, nor steal): what is not ours is another workload's.
        times = psutil.cpu_times()
        found["machine"] = (0, float(times.user + times.nice + times.system))
        # Time the hypervisor gave our virtual CPUs to someone else (0 on bare metal).
        found["steal"] = (0, float(getattr(times, "steal", 0.0)))
        return found


@dataclass
class CpuUse:
    """CPU seconds each process used during one phase, and the phase's wall time."""

    phase: str
    wall_seconds: float
    cpu_seconds: dict[str, float]


@contextlib.asynccontextmanager
async def phase(monitor: Monitor, name: str, cpu: list[CpuUse]) -> AsyncIterator[None]:
    monitor.phase = name
    before = monitor.cpu()
    started = time.perf_counter()
    log(f"phase: {name}")
    yield
    after = monitor.cpu()
    used: dict[str, float] = {}
    for who, (pid, seconds) in after.items():
        start_pid, start_seconds = before.get(who, (None, 0.0))
        used[who] = seconds - start_seconds if start_pid == pid else seconds
    cpu.append(CpuUse(name, time.perf_counter() - started, used))
    monitor.sample()


# --- 1. throughput ------------------------------------------------------------------------


@dataclass
class Throughput:
    messages: int
    delivered: int
    retried: int
    queue_seconds: float
    first_claim_to_last_receipt_seconds: float
    rate: float
    wall_seconds: float
    wall_rate: float
    completed: bool


async def measure_throughput(
    cluster: Cluster, store: Store, outbox: Outbox, sealer: Sealer, scale: Scale
) -> Throughput:
    """N envelopes queued while the sender is stopped; start it; first claim -> last receipt."""
    after = await outbox.last_id()
    log(f"sealing and queueing {scale.messages} envelopes (sender stopped)")
    queue_seconds = await queue_sealed(store, sealer, scale.messages, scale.chunk)
    upto = await outbox.last_id()
    started = time.perf_counter()
    cluster.start(SENDER)
    completed, finished = await outbox.wait_final(
        after, upto, max(120.0, scale.messages / 100), "throughput"
    )
    span = await outbox.span(after, upto)
    busy = (
        (span.last_stored - span.first_claimed).total_seconds()
        if span.last_stored and span.first_claimed
        else math.nan
    )
    wall = finished - started
    return Throughput(
        messages=upto - after,
        delivered=span.delivered,
        retried=span.retried,
        queue_seconds=queue_seconds,
        first_claim_to_last_receipt_seconds=busy,
        rate=span.delivered / busy if busy > 0 else math.nan,
        wall_seconds=wall,
        wall_rate=span.delivered / wall,
        completed=completed,
    )


# --- 2. latency at a fixed offered load -------------------------------------------------------


@dataclass
class Offer:
    via: str
    target_rate: float
    messages: int
    seconds_to_last_queued: float
    achieved_rate: float
    lag_p99_ms: float
    lag_max_ms: float
    kept_up: bool


@dataclass
class Percentiles:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Percentiles:
        ordered = sorted(values)
        if not ordered:
            return cls(math.nan, math.nan, math.nan, math.nan)

        def rank(q: float) -> float:  # nearest rank
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

        return cls(rank(0.50), rank(0.95), rank(0.99), ordered[-1] * 1000)

    def text(self) -> str:
        return f"{self.p50_ms:.0f} / {self.p95_ms:.0f} / {self.p99_ms:.0f} / {self.max_ms:.0f} ms"


@dataclass
class Latency:
    offer: Offer
    delivered: int
    completed: bool
    db_offered_rate: float
    total: Percentiles
    waiting: Percentiles
    in_flight: Percentiles


async def offer_open_loop(
    rate: float,
    total: int,
    tick: float,
    start_batch: Callable[[int, int], Awaitable[None]],
) -> tuple[list[float], float]:
    """Start batches on schedule (message i is due at i / rate), never waiting for one.

    Returns per message the lag of its completion behind its due time, and the start instant.
    """
    lags: list[float] = [math.nan] * total
    tasks: set[asyncio.Task[None]] = set()
    started = time.perf_counter()

    async def run(first: int, count: int) -> None:
        await start_batch(first, count)
        done = time.perf_counter()
        for index in range(first, first + count):
            lags[index] = done - (started + index / rate)

    sent = 0
    while sent < total:
        due = min(total, math.floor((time.perf_counter() - started) * rate) + 1)
        if due > sent:
            task = asyncio.create_task(run(sent, due - sent))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent = due
        await asyncio.sleep(tick)
    while tasks:
        await asyncio.gather(*tasks)
    return lags, started


async def measure_latency(
    cluster: Cluster, store: Store, outbox: Outbox, sealer: Sealer, *, scale: Scale, via: str
) -> Latency:
    total = int(scale.rate * scale.seconds)
    after = await outbox.last_id()
    if via == "submit":
        dispatcher = dispatcher_for(cluster.config(SENDER), store, now_utc)
        messages = [sealer.message() for _ in range(total)]

        async def submit(first: int, count: int) -> None:
            await asyncio.gather(
                *(
                    dispatcher.submit(messages[i], [RECEIVER], actor="bench")
                    for i in range(first, first + count)
                )
            )

        log(f"offering {scale.rate:.0f} msg/s for {scale.seconds:.0f}s through submit")
        lags, started = await offer_open_loop(scale.rate, total, 0.001, submit)
    else:
        log(f"pre-sealing {total} envelopes")
        items, audit = sealer.seal_many(total)

        async def enqueue(first: int, count: int) -> None:
            await store.enqueue(items[first : first + count], audit[first : first + count])

        log(f"offering {scale.rate:.0f} msg/s for {scale.seconds:.0f}s through Store.enqueue")
        lags, started = await offer_open_loop(scale.rate, total, 0.010, enqueue)
    last_queued = max(started + i / scale.rate + lag for i, lag in enumerate(lags))
    seconds = last_queued - started
    achieved = total / seconds
    lag = Percentiles.of(lags)
    offer = Offer(
        via=via,
        target_rate=scale.rate,
        messages=total,
        seconds_to_last_queued=seconds,
        achieved_rate=achieved,
        lag_p99_ms=lag.p99_ms,
        lag_max_ms=lag.max_ms,
        kept_up=achieved >= 0.97 * scale.rate,
    )
    log(f"offered {achieved:.0f} msg/s (lag p99 {lag.p99_ms:.0f} ms); waiting for delivery")
    upto = await outbox.last_id()
    completed, _ = await outbox.wait_final(after, upto, max(120.0, total / 100), "latency")
    span = await outbox.span(after, upto)
    queued_span = (
        (span.last_queued - span.first_queued).total_seconds()
        if span.last_queued and span.first_queued
        else math.nan
    )
    samples = await outbox.latencies(after, upto)
    return Latency(
        offer=offer,
        delivered=span.delivered,
        completed=completed,
        db_offered_rate=(span.rows - 1) / queued_span if queued_span > 0 else math.nan,
        total=Percentiles.of([s[2] for s in samples]),
        waiting=Percentiles.of([s[0] for s in samples]),
        in_flight=Percentiles.of([s[1] for s in samples]),
    )


# --- 3. backlog drain ------------------------------------------------------------------------


@dataclass
class Backlog:
    messages: int
    delivered: int
    retried: int
    queue_seconds: float
    start_to_ready_seconds: float
    ready_to_first_receipt_seconds: float
    first_to_last_receipt_seconds: float
    start_to_last_receipt_seconds: float
    drain_rate: float
    completed: bool


async def measure_backlog(
    cluster: Cluster,
    store: Store,
    outbox: Outbox,
    sealer: Sealer,
    *,
    scale: Scale,
    monitor: Monitor,
    cpu: list[CpuUse],
) -> Backlog:
    async with phase(monitor, "backlog: receiver down, queueing", cpu):
        cluster.stop(RECEIVER)
        after = await outbox.last_id()
        log(f"sealing and queueing {scale.backlog} envelopes in chunks of {scale.chunk}")
        queue_seconds = await queue_sealed(store, sealer, scale.backlog, scale.chunk)
        upto = await outbox.last_id()
    async with phase(monitor, "backlog: drain", cpu):
        started_at = now_utc()
        cluster.start(RECEIVER)
        await cluster.wait_ready(RECEIVER)
        ready_at = now_utc()
        completed, _ = await outbox.wait_final(
            after, upto, max(300.0, scale.backlog / 100), "backlog"
        )
    span = await outbox.span(after, upto)

    def seconds(later: datetime | None, earlier: datetime | None) -> float:
        return (later - earlier).total_seconds() if later and earlier else math.nan

    drain = seconds(span.last_stored, span.first_stored)
    return Backlog(
        messages=upto - after,
        delivered=span.delivered,
        retried=span.retried,
        queue_seconds=queue_seconds,
        start_to_ready_seconds=seconds(ready_at, started_at),
        ready_to_first_receipt_seconds=seconds(span.first_stored, ready_at),
        first_to_last_receipt_seconds=drain,
        start_to_last_receipt_seconds=seconds(span.last_stored, started_at),
        drain_rate=span.delivered / drain if drain > 0 else math.nan,
        completed=completed,
    )


# --- 4. ceilings ------------------------------------------------------------------------------


@dataclass
class Rate:
    operations: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds

    @property
    def micros(self) -> float:
        return self.seconds / self.operations * 1e6


def repeat(operation: Callable[[int], object], seconds: float, bunch: int = 50) -> Rate:
    """Call operation(i) in bunches until `seconds` have passed."""
    done = 0
    started = time.perf_counter()
    while True:
        for i in range(done, done + bunch):
            operation(i)
        done += bunch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return Rate(done, elapsed)


async def repeat_async(
    operation: Callable[[int], Awaitable[object]], seconds: float, unit: int = 1
) -> Rate:
    """Await operation(i) until `seconds` have passed; each call counts `unit` operations."""
    done = 0
    started = time.perf_counter()
    while True:
        await operation(done)
        done += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return Rate(done * unit, elapsed)


@dataclass
class Ceilings:
    seal: Rate
    open: Rate
    sign_receipt: Rate
    verify_receipt: Rate
    select_1: Rate
    insert_autocommit: Rate
    insert_executemany_100: Rate
    insert_100_per_transaction: Rate

    @property
    def seal_open_per_second(self) -> float:
        return 1e6 / (self.seal.micros + self.open.micros)

    @property
    def sign_verify_per_second(self) -> float:
        return 1e6 / (self.sign_receipt.micros + self.verify_receipt.micros)

    @property
    def exchange_crypto_per_second(self) -> float:
        """open + sign + verify: the crypto the exchange itself does per message."""
        return 1e6 / (self.open.micros + self.sign_receipt.micros + self.verify_receipt.micros)


def crypto_ceilings(
    sender: Keyring, receiver: Keyring, sealer: Sealer, seconds: float
) -> dict[str, Rate]:
    now = now_utc()
    message = sealer.message()
    case_id = uuid.uuid4()
    message.case_id = str(case_id)
    payload = envelope.SealedPayload(message=message.SerializeToString())
    limits = EnvelopeLimits()
    sealed: list[bytes] = []

    def do_seal(_: int) -> None:
        result = seal(
            sender,
            recipient=RECEIVER,
            kind=Kind.HOTLINE_ALERT,
            case_id=case_id,
            message_id=uuid7(),
            payload=payload,
            created_at=now,
            expires_at=now + MESSAGE_TTL,
        )
        if len(sealed) < 1000:
            sealed.append(result.data)

    rates = {"seal": repeat(do_seal, seconds)}
    rates["open"] = repeat(
        lambda i: open_envelope(receiver, sealed[i % len(sealed)], now=now, limits=limits),
        seconds,
    )
    receipts = [
        sign_receipt(
            receiver, envelope_data=data, message_id=uuid7(), sender=SENDER, received_at=now
        )
        for data in sealed
    ]
    rates["sign_receipt"] = repeat(
        lambda i: sign_receipt(
            receiver,
            envelope_data=sealed[i % len(sealed)],
            message_id=case_id,
            sender=SENDER,
            received_at=now,
        ),
        seconds,
    )
    receiver_keys = sender.peer_keys(RECEIVER)
    rates["verify_receipt"] = repeat(
        lambda i: verify_receipt(
            receipts[i % len(receipts)],
            receiver=RECEIVER,
            receiver_keys=receiver_keys,
            envelope_data=sealed[i % len(sealed)],
        ),
        seconds,
    )
    return rates


async def database_ceilings(postgres: EmbeddedPostgres, seconds: float) -> dict[str, Rate]:
    dsn = await postgres.ensure_database("bench_ceiling")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "DROP TABLE IF EXISTS bench_rows;"
            " CREATE TABLE bench_rows (id bigserial PRIMARY KEY, data bytea NOT NULL)"
        )
        row = os.urandom(1024)
        insert = "INSERT INTO bench_rows (data) VALUES ($1)"
        rates = {"select_1": await repeat_async(lambda _: connection.fetchval("SELECT 1"), seconds)}
        rates["insert_autocommit"] = await repeat_async(
            lambda _: connection.execute(insert, row), seconds
        )
        batch = [(row,)] * 100
        rates["insert_executemany_100"] = await repeat_async(
            lambda _: connection.executemany(insert, batch), seconds, unit=100
        )

        async def hundred_in_one_transaction(_: int) -> None:
            async with connection.transaction():
                for _ in range(100):
                    await connection.execute(insert, row)

        rates["insert_100_per_transaction"] = await repeat_async(
            hundred_in_one_transaction, seconds, unit=100
        )
        return rates
    finally:
        await connection.close()


# --- the whole run ---------------------------------------------------------------------------


@dataclass
class Results:
    machine: Machine
    scale: Scale
    batch_size: int
    rate_limit: float
    envelope_bytes: int
    message_bytes: int
    ceilings: Ceilings
    throughput: Throughput
    latency: list[Latency]
    backlog: Backlog
    rss_peak_bytes: dict[str, int]
    rss_peak_backlog_bytes: dict[str, int]
    rss_samples: int
    cpu: list[CpuUse]
    total_seconds: float
    load_start: str
    load_end: str


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


async def run(args: argparse.Namespace, scale: Scale, root: Path) -> Results:
    run_started = time.perf_counter()
    load_start = load_average()
    interrupt_on_signals()
    with embedded_postgres(root) as postgres:
        cluster = Cluster(root, postgres, batch_size=args.batch_size, rate_limit=args.rate_limit)
        monitor_task: asyncio.Task[None] | None = None
        try:
            await cluster.add(SENDER, RECEIVER)
            sender_dsn = cluster.nodes[SENDER].dsn
            store = await Store.connect(sender_dsn, max_size=args.pool)
            receiver_store = await Store.connect(cluster.nodes[RECEIVER].dsn)
            await store.migrate()
            await receiver_store.migrate()
            await receiver_store.close()
            connection = await asyncpg.connect(sender_dsn)
            outbox = Outbox(connection)
            version = str(await connection.fetchval("SHOW server_version"))
            sender_keys, receiver_keys = cluster.keyring(SENDER), cluster.keyring(RECEIVER)
            sealer = Sealer(sender_keys, RECEIVER)
            log(
                f"envelope {sealer.envelope_bytes} bytes (canonical message "
                f"{sealer.message_bytes} bytes); working in {root}"
            )
            monitor = Monitor(cluster, root / "postgres")
            cpu: list[CpuUse] = []

            async with phase(monitor, "ceilings", cpu):
                log("ceilings: crypto")
                crypto = crypto_ceilings(sender_keys, receiver_keys, sealer, scale.ceiling_seconds)
                log("ceilings: bare asyncpg")
                database = await database_ceilings(postgres, scale.ceiling_seconds)
            ceilings = Ceilings(**crypto, **database)

            monitor_task = asyncio.create_task(monitor.run())
            cluster.start(RECEIVER)
            await cluster.wait_ready(RECEIVER)
            async with phase(monitor, "throughput", cpu):
                throughput = await measure_throughput(cluster, store, outbox, sealer, scale)
            log(f"throughput: {throughput.rate:.0f} msg/s")
            await cluster.wait_ready(SENDER)

            latency: list[Latency] = []
            vias = ["submit", "enqueue"] if args.offer_via in ("auto", "both") else [args.offer_via]
            for via in vias:
                async with phase(monitor, f"latency via {via}", cpu):
                    result = await measure_latency(
                        cluster, store, outbox, sealer, scale=scale, via=via
                    )
                latency.append(result)
                log(f"latency via {via}: {result.total.text()}")
                if args.offer_via == "auto" and result.offer.kept_up:
                    break

            backlog = await measure_backlog(
                cluster, store, outbox, sealer, scale=scale, monitor=monitor, cpu=cpu
            )
            log(f"backlog: {backlog.start_to_last_receipt_seconds:.1f} s")
            await store.close()
            await connection.close()
        finally:
            if monitor_task is not None:
                monitor_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await monitor_task
            cluster.stop_all()
    backlog_phases = ["backlog: receiver down, queueing", "backlog: drain"]
    return Results(
        machine=machine(version),
        scale=scale,
        batch_size=args.batch_size,
        rate_limit=args.rate_limit,
        envelope_bytes=sealer.envelope_bytes,
        message_bytes=sealer.message_bytes,
        ceilings=ceilings,
        throughput=throughput,
        latency=latency,
        backlog=backlog,
        rss_peak_bytes={node: monitor.peak(node) for node in (SENDER, RECEIVER)},
        rss_peak_backlog_bytes={
            node: monitor.peak(node, backlog_phases) for node in (SENDER, RECEIVER)
        },
        rss_samples=monitor.samples,
        cpu=cpu,
        total_seconds=time.perf_counter() - run_started,
        load_start=load_start,
        load_end=load_average(),
    )


# --- the report -------------------------------------------------------------------------------


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(results: Results) -> str:
    out = io.StringIO()
    c, t, b = results.ceilings, results.throughput, results.backlog
    rows: list[tuple[str, str, str, str]] = []

    def row(measure: str, value: str, target: str = "", met: bool | None = None) -> None:
        rows.append((measure, value, target, "" if met is None else verdict(met)))

    row(
        "1 throughput, first claim -> last receipt stored",
        f"{t.rate:,.0f} msg/s",
        f">= {TARGET_THROUGHPUT:,.0f} msg/s",
        t.completed and t.rate >= TARGET_THROUGHPUT,
    )
    row(
        "  messages delivered / queued (retried)",
        f"{t.delivered:,} / {t.messages:,} ({t.retried})",
    )
    row(
        "  busy span (first claim -> last receipt)",
        f"{t.first_claim_to_last_receipt_seconds:.2f} s",
    )
    row(
        "  wall: sender start -> all delivered seen",
        f"{t.wall_seconds:.2f} s ({t.wall_rate:,.0f} msg/s)",
    )
    row("  bench: seal + enqueue (chunks of 1,000)", f"{t.messages / t.queue_seconds:,.0f} msg/s")
    for lat in results.latency:
        o = lat.offer
        judged = o.kept_up and lat.completed
        row(
            f"2 latency @ {o.target_rate:,.0f} msg/s via {o.via}: p50/p95/p99/max",
            lat.total.text(),
            f"p99 < {TARGET_P99_SECONDS * 1000:.0f} ms",
            (lat.total.p99_ms < TARGET_P99_SECONDS * 1000) if judged else None,
        )
        row(
            "  achieved: calls done (queued_at stamps), kept up?",
            f"{o.achieved_rate:,.0f} msg/s ({lat.db_offered_rate:,.0f} msg/s), "
            f"{'yes' if o.kept_up else 'NO'}",
        )
        row(
            "  queue call lag behind schedule p99 / max",
            f"{o.lag_p99_ms:.0f} / {o.lag_max_ms:.0f} ms",
        )
        row("  queued -> claimed  p50/p95/p99/max", lat.waiting.text())
        row("  claimed -> receipt stored  p50/p95/p99/max", lat.in_flight.text())
        row("  delivered / offered", f"{lat.delivered:,} / {o.messages:,}")
    row(
        f"3 backlog {b.messages:,}: receiver start -> last receipt",
        f"{b.start_to_last_receipt_seconds:.1f} s",
        f"< {TARGET_DRAIN_SECONDS:.0f} s",
        b.completed and b.start_to_last_receipt_seconds < TARGET_DRAIN_SECONDS,
    )
    row("  receiver start -> ready", f"{b.start_to_ready_seconds:.1f} s")
    row("  ready -> first receipt (sender backoff)", f"{b.ready_to_first_receipt_seconds:.1f} s")
    row(
        "  first -> last receipt (drain rate)",
        f"{b.first_to_last_receipt_seconds:.1f} s ({b.drain_rate:,.0f} msg/s)",
    )
    row("  delivered (retried)", f"{b.delivered:,} ({b.retried:,})")
    row("  bench: seal + enqueue (chunks of 1,000)", f"{b.messages / b.queue_seconds:,.0f} msg/s")
    for node in (SENDER, RECEIVER):
        peak = results.rss_peak_bytes[node]
        row(
            f"  peak RSS {node} (whole run; backlog)",
            f"{peak / MB:.0f} MB; {results.rss_peak_backlog_bytes[node] / MB:.0f} MB",
            f"< {TARGET_RSS_BYTES / MB:.0f} MB",
            peak < TARGET_RSS_BYTES,
        )
    row("4 seal, ~1 KiB envelope", f"{c.seal.per_second:,.0f}/s ({c.seal.micros:.0f} us)")
    row("  open_envelope", f"{c.open.per_second:,.0f}/s ({c.open.micros:.0f} us)")
    row("  seal + open", f"{c.seal_open_per_second:,.0f}/s")
    row("  sign_receipt", f"{c.sign_receipt.per_second:,.0f}/s ({c.sign_receipt.micros:.0f} us)")
    row(
        "  verify_receipt",
        f"{c.verify_receipt.per_second:,.0f}/s ({c.verify_receipt.micros:.0f} us)",
    )
    row("  sign + verify receipt", f"{c.sign_verify_per_second:,.0f}/s")
    row("  exchange crypto (open + sign + verify)", f"{c.exchange_crypto_per_second:,.0f} msg/s")
    row(
        "  asyncpg SELECT 1 round trips",
        f"{c.select_1.per_second:,.0f}/s ({c.select_1.micros:.0f} us)",
    )
    row(
        "  asyncpg 1 KiB INSERT, autocommit",
        f"{c.insert_autocommit.per_second:,.0f} rows/s ({c.insert_autocommit.micros:.0f} us)",
    )
    row(
        "  asyncpg 1 KiB executemany x100",
        f"{c.insert_executemany_100.per_second:,.0f} rows/s",
    )
    row(
        "  asyncpg 1 KiB INSERT x100 per transaction",
        f"{c.insert_100_per_transaction.per_second:,.0f} rows/s "
        f"({c.insert_100_per_transaction.micros:.0f} us)",
    )
    row(
        "  throughput / exchange crypto ceiling",
        f"{t.rate / c.exchange_crypto_per_second:.0%}",
    )
    row(
        "  throughput / executemany ceiling",
        f"{t.rate / c.insert_executemany_100.per_second:.0%}",
    )

    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measure", "value", "target", "verdict")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    print(f"Machine: {results.machine.describe()}", file=out)
    print(
        f"Envelope {results.envelope_bytes} bytes (message {results.message_bytes} bytes); "
        f"batch size {results.batch_size}; peer rate limit {results.rate_limit:g} req/s; "
        f"scale {results.scale}; total {results.total_seconds:.0f} s",
        file=out,
    )
    print(file=out)
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line, file=out)
    print("-" * len(line), file=out)
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip(), file=out)
    print(file=out)
    print("CPU use per phase, % of one core (CPU seconds / wall seconds):", file=out)
    who = ["bench", SENDER, RECEIVER, "postgres", "other", "steal"]
    print(f"  {'phase':36} {'wall s':>7} " + " ".join(f"{w[:12]:>12}" for w in who), file=out)
    for use in results.cpu:
        used = dict(use.cpu_seconds)
        ours = sum(used.get(w, 0.0) for w in who[:4])
        used["other"] = max(0.0, used.get("machine", 0.0) - ours)
        cells = " ".join(f"{used.get(w, 0.0) / use.wall_seconds:>12.0%}" for w in who)
        print(f"  {use.phase:36} {use.wall_seconds:>7.1f} {cells}", file=out)
    print(
        "  other = busy CPU time of the machine not used by the processes above (another\n"
        "  workload competing for the cores); steal = time the hypervisor ran something else\n"
        "  on our virtual CPUs; 100% = one core, the machine has "
        f"{results.machine.usable_cpus}.\n"
        f"  Load average (1, 5, 15 min) at start: {results.load_start}; "
        f"at end: {results.load_end}",
        file=out,
    )
    return out.getvalue()


def to_json(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def results_json(results: Results) -> dict[str, object]:
    document: dict[str, object] = {
        key: to_json(value) for key, value in asdict(results).items() if key != "ceilings"
    }
    c = results.ceilings
    document["ceilings"] = {
        name: {"per_second": rate.per_second, "micros": rate.micros}
        for name, rate in vars(c).items()
    } | {
        "seal_open_per_second": c.seal_open_per_second,
        "sign_verify_per_second": c.sign_verify_per_second,
        "exchange_crypto_per_second": c.exchange_crypto_per_second,
    }
    document["targets"] = {
        "throughput_msg_per_s": TARGET_THROUGHPUT,
        "p99_ms_at_offered_rate": TARGET_P99_SECONDS * 1000,
        "backlog_drain_s": TARGET_DRAIN_SECONDS,
        "rss_bytes": TARGET_RSS_BYTES,
    }
    return document


# --- profiling: both gateways in this process ------------------------------------------------


@dataclass
class SqlStats:
    count: int = 0
    seconds: float = 0.0


class SqlCounter:
    """asyncpg query logger: statements and their round-trip time, per node and name."""

    def __init__(self) -> None:
        self.by_node: dict[str, dict[str, SqlStats]] = {}
        self._names = {" ".join(getattr(Q, name).split()): name for name in Q.names()}
        self.enabled = False

    def logger(self, node: str) -> Callable[[asyncpg.connection.LoggedQuery], None]:
        stats = self.by_node.setdefault(node, {})

        def record(query: asyncpg.connection.LoggedQuery) -> None:
            if not self.enabled:
                return
            text = " ".join(query.query.split())
            name = self._names.get(text, text[:40])
            entry = stats.setdefault(name, SqlStats())
            entry.count += 1
            entry.seconds += query.elapsed

        return record


async def profile_replica(args: argparse.Namespace, root: Path) -> None:
    """Both gateways as in-process Gateway objects in one event loop (one Python thread).

    Three passes over the same number of pre-queued envelopes: plain (throughput), with
    every SQL statement counted and timed, and under cProfile.
    """
    counter = SqlCounter()
    dsn_node: dict[str, str] = {}
    create_pool = asyncpg.create_pool

    def counting_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:  # noqa: ANN401
        node = dsn_node.get(dsn, "bench")

        async def init(connection: asyncpg.Connection) -> None:
            connection.add_query_logger(counter.logger(node))

        return create_pool(dsn, init=init, **kwargs)

    interrupt_on_signals()
    with embedded_postgres(root) as postgres:
        cluster = Cluster(root, postgres, batch_size=args.batch_size, rate_limit=args.rate_limit)
        await cluster.add(SENDER, RECEIVER)
        for node_id, node in cluster.nodes.items():
            dsn_node[node.dsn] = node_id
        asyncpg.create_pool = counting_pool  # type: ignore[assignment]
        store = await Store.connect(cluster.nodes[SENDER].dsn)
        await store.migrate()
        connection = await asyncpg.connect(cluster.nodes[SENDER].dsn)
        outbox = Outbox(connection)
        sealer = Sealer(cluster.keyring(SENDER), RECEIVER)
        receiver = Gateway(cluster.config(RECEIVER), instance="bench-receiver")
        await receiver.start()
        try:
            for label in ("plain", "sql", "cprofile"):
                after = await outbox.last_id()
                await queue_sealed(store, sealer, args.profile_messages, 1000)
                upto = await outbox.last_id()
                sender = Gateway(cluster.config(SENDER), instance="bench-sender")
                profiler = cProfile.Profile()
                counter.enabled = label == "sql"
                if label == "cprofile":
                    profiler.enable()
                await sender.start()
                await outbox.wait_final(after, upto, 600, f"profile {label}")
                profiler.disable()
                counter.enabled = False
                await sender.stop()
                span = await outbox.span(after, upto)
                assert span.last_stored is not None
                assert span.first_claimed is not None
                busy = (span.last_stored - span.first_claimed).total_seconds()
                print(
                    f"in-process, {label}: {span.delivered} delivered in {busy:.2f} s "
                    f"= {span.delivered / busy:,.0f} msg/s"
                )
                if label == "sql":
                    batches = max(1, counter.by_node[SENDER].get("outbox_claim", SqlStats()).count)
                    print(
                        f"SQL per claimed batch ({batches} claims, batch size {args.batch_size}):"
                    )
                    for node_id in (SENDER, RECEIVER):
                        stats = counter.by_node.get(node_id, {})
                        total_count = sum(s.count for s in stats.values())
                        total_seconds = sum(s.seconds for s in stats.values())
                        print(
                            f"  {node_id}: {total_count / batches:.1f} statements, "
                            f"{total_seconds / batches * 1000:.1f} ms awaiting SQL per batch"
                        )
                        for name, s in sorted(stats.items(), key=lambda kv: -kv[1].seconds):
                            print(
                                f"    {name:42} {s.count / batches:7.1f}/batch "
                                f"{s.seconds / batches * 1000:7.2f} ms/batch "
                                f"{s.seconds / s.count * 1e6:7.0f} us each"
                            )
                if label == "cprofile":
                    text = io.StringIO()
                    stats_ = pstats.Stats(profiler, stream=text)
                    stats_.sort_stats("tottime").print_stats(30)
                    stats_.sort_stats("cumulative").print_stats(45)
                    print(text.getvalue())
        finally:
            await receiver.stop()
            await store.close()
            await connection.close()
            asyncpg.create_pool = create_pool


# --- command line -----------------------------------------------------------------------------


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


def publish(text: str, figures: dict[str, object], json_file: Path | None) -> None:
    """The report on standard output and, when asked, every figure as JSON."""
    print(text)
    if json_file:
        json_file.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"results written to {json_file}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="scaled-down smoke run (~1 minute)")
    parser.add_argument("--messages", type=int, help="throughput: envelopes pre-queued (20,000)")
    parser.add_argument("--rate", type=float, help="latency: offered msg/s (1,000)")
    parser.add_argument("--seconds", type=float, help="latency: seconds offered (20)")
    parser.add_argument("--backlog", type=int, help="backlog: envelopes queued (100,000)")
    parser.add_argument(
        "--offer-via",
        choices=["auto", "submit", "enqueue", "both"],
        default="auto",
        help="latency: queue through Dispatcher.submit, pre-sealed Store.enqueue, or "
        "auto (submit, then enqueue as well if submit could not keep up)",
    )
    parser.add_argument("--batch-size", type=int, default=100, help="sender retry.batch_size")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=1000,
        help="each node's per-peer requests/s (burst same)",
    )
    parser.add_argument("--pool", type=int, default=20, help="bench's connection pool size")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it (logs)")
    parser.add_argument(
        "--profile", action="store_true", help="run the in-process profiling replica instead"
    )
    parser.add_argument(
        "--profile-messages", type=int, default=5000, help="envelopes per profiling pass"
    )
    args = parser.parse_args()
    base = QUICK if args.quick else FULL
    scale = Scale(
        messages=args.messages or base.messages,
        rate=args.rate or base.rate,
        seconds=args.seconds or base.seconds,
        backlog=args.backlog or base.backlog,
        chunk=base.chunk,
        ceiling_seconds=base.ceiling_seconds,
    )
    with work_folder(args.keep) as root:
        if args.profile:
            asyncio.run(profile_replica(args, root))
            return
        results = asyncio.run(run(args, scale, root))
    publish(report(results), results_json(results), args.json)


if __name__ == "__main__":
    main()
