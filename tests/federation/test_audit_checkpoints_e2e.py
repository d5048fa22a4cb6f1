"""Audit checkpoints through real gateways: a DBA's cut or rewrite of the audit chain, done
so that the chain still verifies on its own, is detected by `gateway audit verify` through
the checkpoints the peer countersigned (docs/PROTOCOL.md section 16).

vn-gialai-police sends alerts to kh-ratanakiri-police with checkpoints after every 5 entries;
once the peer's countersignatures cover every entry the traffic wrote, the node is stopped
and its database tampered with directly in PostgreSQL, the append-only trigger disabled first
as an owner would: (a) the tail is deleted from the 10th-last countersigned entry on; (b) the
chain is rewritten from entry 5 with correct hashes (gateway.store.audit.entry_hash), so the
plain chain check passes; (c) the tail is deleted as in (a) and so are the node's own
records of checkpoints and countersignatures: then only `--ask-peers` (the peer, still
running, asked over the federation link) shows the cut. Each is named exactly: the entries
missing, or entry 5.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from gateway.store import AuditEntry, Store
from gateway.store.audit import GENESIS, entry_hash
from tests.federation.harness import Federation, alert

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
ALERTS = 20


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATEWAY, *args], check=False, capture_output=True, text=True, timeout=120
    )


async def _countersigned_seq(store: Store) -> int:
    """The newest entry a countersignature from RATANAKIRI covers (0: none yet)."""
    newest, after = 0, 0
    while page := await store.checkpoint_copies(after, 100):
        for copy in page:
            if copy.peer == RATANAKIRI and copy.countersignature is not None:
                newest = max(newest, copy.seq)
        after = page[-1].seq
    return newest


async def _wait_covered(federation: Federation) -> int:
    """Wait until the countersigned checkpoints cover every entry written by the traffic
    (the exchange's own entries come after and are covered by later rounds only)."""
    store = await federation.store(POLICE)
    try:
        await federation.wait_delivered(POLICE, ALERTS)
        _, traffic_head = await store.checkpoint_progress()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            signed = await _countersigned_seq(store)
            if signed >= traffic_head:
                return signed
            await asyncio.sleep(0.5)
        raise AssertionError(f"countersigned up to {signed} of {traffic_head}")
    finally:
        await store.close()


async def _held_by_peer(federation: Federation) -> int:
    """The newest checkpoint of POLICE's chain that RATANAKIRI holds."""
    connection = await asyncpg.connect(federation.nodes[RATANAKIRI].dsn)
    try:
        held: int = await connection.fetchval(
            "SELECT max(seq) FROM peer_audit_checkpoints WHERE origin = $1", POLICE
        )
    finally:
        await connection.close()
    return held


async def _rewrite_from(connection: asyncpg.Connection, first: int) -> None:
    """Edit entry `first` and recompute every hash from it on, as a careful DBA would."""
    await connection.execute("UPDATE audit_log SET subject = 'rewritten' WHERE seq = $1", first)
    rows = await connection.fetch(
        "SELECT seq, at, actor, action, subject, detail::text AS detail FROM audit_log "
        "WHERE seq >= $1 ORDER BY seq",
        first,
    )
    prev = await connection.fetchval("SELECT hash FROM audit_log WHERE seq = $1", first - 1)
    prev = GENESIS if prev is None else bytes(prev)
    for row in rows:
        entry = AuditEntry(row["actor"], row["action"], row["subject"], json.loads(row["detail"]))
        digest = entry_hash(prev, row["seq"], row["at"], entry)
        await connection.execute(
            "UPDATE audit_log SET prev_hash = $2, hash = $3 WHERE seq = $1",
            row["seq"],
            prev,
            digest,
        )
        prev = digest


@pytest.mark.parametrize("tampering", ["truncated", "rewritten", "unrecorded"])
async def test_audit_verify_detects_tampering_through_countersigned_checkpoints(
    federation: Federation, tampering: str
) -> None:
    for node in (POLICE, RATANAKIRI):
        federation.sections[node] = {"audit": {"checkpoints": {"every": "1h", "after_entries": 5}}}
    await federation.add(POLICE, RATANAKIRI)
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
    for node in (POLICE, RATANAKIRI):
        await federation.wait_ready(node)
    await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{n}") for n in range(ALERTS)])
    signed = await _wait_covered(federation)
    metrics = await federation.metrics_text(POLICE)
    assert (
        federation.metric_value(
            metrics, "blg_audit_checkpoint_countersigned_timestamp_seconds", f'peer="{RATANAKIRI}"'
        )
        > 0
    )
    federation.kill(POLICE, signal.SIGTERM)

    config = str(federation.config_path(POLICE))
    listed = _gateway("audit", "checkpoints", "--config", config)
    assert listed.returncode == 0, listed.stderr
    assert f"{RATANAKIRI} 20" in listed.stdout  # countersigned, with the year of its time
    intact = _gateway("audit", "verify", "--config", config)
    assert intact.returncode == 0, intact.stderr
    assert "audit chain intact" in intact.stdout

    connection = await asyncpg.connect(federation.nodes[POLICE].dsn)
    try:
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        if tampering == "truncated":
            await connection.execute("DELETE FROM audit_log WHERE seq > $1", signed - 10)
            expected = f"truncated: entries {signed - 9}..{signed} missing; {RATANAKIRI} "
            expected += f"countersigned {signed} entries at "
        elif tampering == "unrecorded":
            # The evidence goes too: only asking the peer (still running) shows the cut.
            await connection.execute("DELETE FROM audit_log WHERE seq > $1", signed - 10)
            await connection.execute("DELETE FROM audit_checkpoint_copies")
            await connection.execute("DELETE FROM audit_checkpoints")
            held = await _held_by_peer(federation)
            expected = f"truncated: entries {signed - 9}..{held} missing; {RATANAKIRI} (asked) "
            expected += f"countersigned {held} entries at "
        else:
            await _rewrite_from(connection, 5)
            expected = (
                f"rewritten: entry 5 no longer matches the hash {RATANAKIRI} countersigned at "
            )
    finally:
        await connection.close()

    store = await federation.store(POLICE)
    try:
        assert (await store.verify_audit()).intact  # the chain alone no longer shows it
    finally:
        await store.close()
    asking = ["--ask-peers"] if tampering == "unrecorded" else []
    if asking:
        unasked = _gateway("audit", "verify", "--config", config)
        assert unasked.returncode == 0, unasked.stderr  # nothing left here to check against
    verified = _gateway("audit", "verify", "--config", config, *asking)
    assert verified.returncode == 1, verified.stdout
    assert "audit chain intact" in verified.stdout
    [line] = verified.stderr.splitlines()
    assert line.startswith(expected), line
    shown = json.loads(_gateway("audit", "verify", "--config", config, "--json", *asking).stdout)
    assert shown["intact"] is False
    problem = "truncated" if tampering == "unrecorded" else tampering
    assert [finding["problem"] for finding in shown["findings"]] == [problem]
