"""`gateway status` on a node without a DSN: it joins the embedded PostgreSQL of the running
node (and leaves it running), or starts it from the state folder when the node is down."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from gateway.config.writer import edit_config
from tests.federation.harness import Federation, alert

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATEWAY, *args], check=False, capture_output=True, text=True, timeout=120
    )


def _pending(config: Path) -> dict[str, Any]:
    shown = _gateway("status", "--config", str(config), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    figures: dict[str, Any] = json.loads(shown.stdout)
    assert figures["node"] == POLICE
    return {peer["id"]: peer["pending"] for peer in figures["peers"]}


async def test_status_joins_a_running_nodes_embedded_postgres_or_starts_a_stopped_ones(
    federation: Federation, tmp_path: Path
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    config = federation.config_path(POLICE)
    # Without a database section: the embedded PostgreSQL in state_dir.
    edit_config(config, lambda document: document.pop("database"), environ={})
    federation.start(POLICE)
    await federation.wait_ready(POLICE, timeout=90)
    message = tmp_path / "alert.json"
    message.write_text(json_format.MessageToJson(alert("EMB-1")))
    sent = _gateway("send", "--config", str(config), "--to", RATANAKIRI, str(message))
    assert sent.returncode == 0, sent.stderr

    assert _pending(config) == {RATANAKIRI: 1}
    # The command's exit left the node's database running: /readyz queries it.
    await federation.wait_ready(POLICE, timeout=5)

    federation.kill(POLICE, signal.SIGTERM)
    assert _pending(config) == {RATANAKIRI: 1}
