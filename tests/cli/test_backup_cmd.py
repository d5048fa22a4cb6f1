"""`gateway backup` and `gateway restore` refusals, each one line naming what to do: no
pg_dump where a DSN needs one, a file that is no backup, a database still in use, a
database that is not empty (and --force replacing it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from gateway.ops.backup import embedded_bin_dir, split_password
from tests.federation.harness import Federation, alert

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


def _gateway(*args: str, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATEWAY, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": path},
    )


def test_a_password_travels_in_the_environment_not_on_the_command_line() -> None:
    assert split_password("postgresql://blg:s3cret@db.example:5432/gateway?sslmode=require") == (
        "postgresql://blg@db.example:5432/gateway?sslmode=require",
        {"PGPASSWORD": "s3cret"},
    )
    assert split_password("postgresql://db/gateway?user=blg&password=s3cret") == (
        "postgresql://db/gateway?user=blg",
        {"PGPASSWORD": "s3cret"},
    )
    assert split_password("postgresql://postgres:@/gateway?host=/run/pg") == (
        "postgresql://postgres@/gateway?host=%2Frun%2Fpg",
        {"PGPASSWORD": ""},
    )


async def test_refusals_name_what_is_missing_and_force_replaces(
    federation: Federation, tmp_path: Path
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    config = str(federation.config_path(POLICE))
    await federation.send(POLICE, RATANAKIRI, [alert("TB-1")])
    with_tools = f"{embedded_bin_dir()}:/usr/bin:/bin"

    missing = _gateway(
        "backup", "--config", config, "--out", str(tmp_path / "a.dump"), path="/nowhere"
    )
    assert missing.returncode == 1
    assert "pg_dump not found on PATH" in missing.stderr
    assert "postgresql-client" in missing.stderr
    assert not (tmp_path / "a.dump").exists()

    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("so_cuoc_goi\n")
    wrong = _gateway("restore", "--config", config, str(not_a_backup), path=with_tools)
    assert wrong.returncode == 1
    assert "expected a backup made by gateway backup" in wrong.stderr

    archive = tmp_path / "police.dump"
    made = _gateway("backup", "--config", config, "--out", str(archive), path=with_tools)
    assert made.returncode == 0, made.stderr

    in_use = await asyncpg.connect(federation.nodes[POLICE].dsn)
    try:
        busy = _gateway("restore", "--config", config, "--force", str(archive), path=with_tools)
    finally:
        await in_use.close()
    assert busy.returncode == 1
    assert "the database is in use (1 other sessions): stop the node" in busy.stderr

    full = _gateway("restore", "--config", config, str(archive), path=with_tools)
    assert full.returncode == 1
    assert "the database is not empty" in full.stderr

    connection = await asyncpg.connect(federation.nodes[POLICE].dsn)
    try:
        await connection.execute("DELETE FROM outbox")  # lost since the backup
    finally:
        await connection.close()
    forced = _gateway("restore", "--config", config, "--force", str(archive), path=with_tools)
    assert forced.returncode == 0, forced.stderr
    assert "audit chain intact (1 entries)" in forced.stdout
    connection = await asyncpg.connect(federation.nodes[POLICE].dsn)
    try:
        assert await connection.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await connection.close()
