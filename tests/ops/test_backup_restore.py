"""Backup and restore with real `gateway run` processes: a node backed up while messages to
its peer wait and flow, restored into a fresh directory (its own embedded PostgreSQL, from
the wheel's pg_restore), started again: the audit chain verifies, the messages the backup
held as undelivered are sent again, and the peer's users get each message once."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from gateway.ops.backup import embedded_bin_dir
from tests.delivery.test_held_and_keyed import wait_for
from tests.federation.harness import Federation, alert, local_client

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
RESTORED = "-restored"


def _gateway(*args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ)
    if path is not None:
        environ["PATH"] = path
    return subprocess.run(
        [GATEWAY, *args], check=False, capture_output=True, text=True, timeout=300, env=environ
    )


async def _count(dsn: str, query: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        found: int = await connection.fetchval(query)
        return found
    finally:
        await connection.close()


async def test_a_node_backed_up_mid_exchange_is_restored_and_delivers_nothing_twice(
    federation: Federation, tmp_path: Path
) -> None:
    _token, records = local_client("police-records", ["kh-police-xml"], ["hotline_alert"])
    drop = tmp_path / "rtk-in"
    records["delivery"] = {"type": "drop_folder", "path": str(drop)}
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[RATANAKIRI] = {"local_clients": [records]}
    federation.write_config(RATANAKIRI)
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{n}") for n in range(10)])
    await federation.wait_delivered(POLICE, 10)

    # The peer goes down; ten more wait in the queue, retried: the backup holds them so.
    federation.kill(RATANAKIRI, signal.SIGTERM)
    await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{n}") for n in range(10, 20)])
    police_dsn = federation.nodes[POLICE].dsn
    # With a DSN, backup takes pg_dump from PATH: here the wheel's, as an operator's
    # installed client programs would be.
    path = f"{embedded_bin_dir()}:{os.environ['PATH']}"
    archive = tmp_path / "backups" / "police.dump"
    made = _gateway(
        "backup", "--config", str(federation.config_path(POLICE)), "--out", str(archive), path=path
    )
    assert made.returncode == 0, made.stderr
    assert "gateway backup: backup written:" in made.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    again = _gateway(
        "backup", "--config", str(federation.config_path(POLICE)), "--out", str(archive), path=path
    )
    assert again.returncode == 1
    assert "already exists: choose a new file name" in again.stderr

    # The peer comes back, the original node delivers the ten, and then it is lost.
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    await federation.wait_delivered(POLICE, 20)
    await wait_for(lambda: len(list(drop.glob("*.xml"))) == 20, "20 files")
    federation.kill(POLICE, signal.SIGTERM)

    # Restored into a fresh directory: no DSN, so its own embedded PostgreSQL.
    document: dict[str, Any] = yaml.safe_load(federation.config_path(POLICE).read_text())
    del document["database"]
    document["state_dir"] = str(tmp_path / "police-restored-state")
    restored_config = federation.config_path(POLICE, RESTORED)
    restored_config.write_text(yaml.safe_dump(document, sort_keys=False))
    restored = _gateway(
        "restore", "--config", str(restored_config), str(archive), path="/usr/bin:/bin"
    )
    assert restored.returncode == 0, restored.stderr
    assert "audit chain intact" in restored.stdout
    refused = _gateway("restore", "--config", str(restored_config), str(archive))
    assert refused.returncode == 1
    assert "the database is not empty" in refused.stderr
    assert "--force" in refused.stderr
    assert "Traceback" not in refused.stderr

    federation.start(POLICE, variant=RESTORED)
    await federation.wait_ready(POLICE)
    verified = _gateway("audit", "verify", "--config", str(restored_config))
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact" in verified.stdout
    # The restored node resends the ten its backup held as queued; the peer answers them as
    # replays, so the restored node ends with all twenty delivered.
    rtk_dsn = federation.nodes[RATANAKIRI].dsn
    await wait_for_replays(federation)
    restored_outbox = await _restored_delivered(federation, restored_config)
    assert restored_outbox == 20
    assert await _count(rtk_dsn, "SELECT count(*) FROM inbox") == 20
    assert await _count(rtk_dsn, "SELECT count(*) FROM local_deliveries") == 20
    assert len(list(drop.glob("*.xml"))) == 20
    assert await _count(police_dsn, "SELECT count(*) FROM outbox WHERE state = 'delivered'") == 20
    # The receiver kept each message's marking from the opened message (for retention).
    assert await _count(rtk_dsn, "SELECT count(*) FROM inbox WHERE handling = 'restricted'") == 20

    # The restored node runs on its embedded PostgreSQL: backed up while it runs, with the
    # wheel's own pg_dump, whatever PATH holds.
    second = tmp_path / "backups" / "restored.dump"
    made = _gateway(
        "backup", "--config", str(restored_config), "--out", str(second), path="/nowhere"
    )
    assert made.returncode == 0, made.stderr
    assert second.read_bytes().startswith(b"PGDMP")


async def wait_for_replays(federation: Federation) -> None:
    """Until the peer has answered ten envelopes as replays."""
    deadline = time.monotonic() + 60
    replays = 0.0
    while time.monotonic() < deadline:
        text = await federation.metrics_text(RATANAKIRI)
        replays = federation.metric_value(
            text, "blg_received_envelopes_total", f'peer="{POLICE}",result="replay"'
        )
        if replays >= 10:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"the peer saw {replays} replays, expected 10")


async def _restored_delivered(federation: Federation, config: Path) -> int:
    deadline = time.monotonic() + 60
    listed = ""
    while time.monotonic() < deadline:
        answer = _gateway(
            "outbox", "list", "--config", str(config), "--state", "delivered", "--limit", "100"
        )
        listed = answer.stdout
        delivered = listed.count("\tdelivered\t")
        if delivered >= 20:
            return delivered
        await asyncio.sleep(0.5)
    raise AssertionError(f"restored node did not deliver all: {listed}")
