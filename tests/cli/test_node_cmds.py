"""Operator commands against a real node database: send, outbox, inbox, audit verify."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
from google.protobuf import json_format

from tests.federation.harness import Federation, alert

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], check=False, capture_output=True, text=True, timeout=60)


async def test_send_list_show_and_audit_from_the_command_line(
    federation: Federation, tmp_path: Path
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    config = str(federation.config_path(POLICE))
    message_file = tmp_path / "alert.json"
    message_file.write_text(json_format.MessageToJson(alert("TB-77")))

    sent = _gateway("send", "--config", config, "--to", RATANAKIRI, str(message_file))
    assert sent.returncode == 0, sent.stderr
    message_id = sent.stdout.split("\t")[0]

    listed = _gateway("outbox", "list", "--config", config)
    assert message_id in listed.stdout
    assert "\tqueued\t" in listed.stdout
    shown = _gateway("outbox", "show", "--config", config, message_id)
    assert '"state": "queued"' in shown.stdout
    assert "Hai anh em" not in shown.stdout + listed.stdout  # never content

    refused = _gateway("send", "--config", config, "--to", "xx-nobody", str(message_file))
    assert refused.returncode == 1
    assert "unknown_peer: to: 'xx-nobody' is not a peer of this node" in refused.stderr
    requeue = _gateway("outbox", "requeue", "--config", config, message_id)
    assert requeue.returncode == 1
    assert "only rejected or dead messages can be requeued" in requeue.stderr

    verified = _gateway("audit", "verify", "--config", config)
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact: 1 entries" in verified.stdout

    connection = await asyncpg.connect(federation.nodes[POLICE].dsn)
    try:
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await connection.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 1")
    finally:
        await connection.close()
    broken = _gateway("audit", "verify", "--config", config)
    assert broken.returncode == 1
    assert "audit chain broken at entry 1" in broken.stderr
    assert "Traceback" not in broken.stderr
