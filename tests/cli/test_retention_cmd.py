"""`gateway retention run` against a real node database: the dry run counts per table and
marking and deletes nothing; the run deletes that, and only that, and audits it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg

from tests.federation.harness import Federation, alert

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], check=False, capture_output=True, text=True, timeout=60)


async def _kept(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        kept: int = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE envelope IS NOT NULL"
        )
        return kept
    finally:
        await connection.close()


async def test_a_dry_run_says_what_a_run_then_deletes(federation: Federation) -> None:
    await federation.add(POLICE, RATANAKIRI)
    config = str(federation.config_path(POLICE))
    queued = await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{n}") for n in range(3)])
    dsn = federation.nodes[POLICE].dsn
    connection = await asyncpg.connect(dsn)
    try:
        # Two were rejected by the peer 31 days ago (restricted: 30 days); one is queued.
        for statement in (
            "UPDATE outbox SET state = 'sending' WHERE message_id = ANY($1::uuid[])",
            "UPDATE outbox SET state = 'rejected', finished_at = now() - interval '31 days' "
            "WHERE message_id = ANY($1::uuid[])",
        ):
            await connection.execute(statement, [str(item.message_id) for item in queued[:2]])
    finally:
        await connection.close()

    dry = _gateway("retention", "run", "--config", config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "retention dry run: nothing deleted" in dry.stdout
    assert "outbox  restricted        30d       2\n" in dry.stdout
    assert "inbox   victim_protected  14d       0\n" in dry.stdout
    assert "total: 2 envelopes, 0 files" in dry.stdout
    assert await _kept(dsn) == 3

    run = _gateway("retention", "run", "--config", config)
    assert run.returncode == 0, run.stderr
    assert "outbox  restricted        30d       2\n" in run.stdout
    assert await _kept(dsn) == 1
    again = _gateway("retention", "run", "--config", config, "--dry-run")
    assert "total: 0 envelopes, 0 files" in again.stdout

    audit = _gateway("audit", "verify", "--config", config)
    assert audit.returncode == 0, audit.stderr
    shown = _gateway("outbox", "show", "--config", config, str(queued[0].message_id))
    assert '"state": "rejected"' in shown.stdout  # the row and its metadata stay


def test_a_bad_config_is_reported_not_run(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    answer = _gateway("retention", "run", "--config", str(missing))
    assert answer.returncode == 1
    assert "nowhere.yaml" in answer.stderr
    assert "Traceback" not in answer.stderr
