"""README's "Setting up a node", run as written: two nodes made by its commands exchange a
message.

The fenced block is read from README.md at test time and run by bash, unchanged, in a fresh
folder; only the port variables the README documents (VN_PORT, VN_LOCAL, KH_PORT, KH_LOCAL)
are set, to free ports. bash is started in a session of its own, so that the two `gateway
run` processes the block leaves in the background are stopped through that process group.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.federation.harness import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent
GATEWAY = str(BIN / "gateway")
VN, KH = "vn-gialai-police", "kh-ratanakiri-police"


def setup_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Setting up a node\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```sh\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    assert match, "README's Setting up a node has no ```sh block"
    return match.group(1)


def _gateway(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [GATEWAY, *args], cwd=folder, check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def _stop_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(group, signal.SIGKILL)
    raise AssertionError("the README's nodes did not stop within 60 s of SIGTERM")


def test_the_readme_setup_block_makes_two_nodes_that_exchange_a_message(tmp_path: Path) -> None:
    ports = {name: str(free_port()) for name in ("VN_PORT", "VN_LOCAL", "KH_PORT", "KH_LOCAL")}
    environment = {**os.environ, **ports, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    shell = subprocess.Popen(
        ["bash", "-eu", "-c", setup_block()],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = shell.communicate(timeout=300)
        logs = "".join(
            (tmp_path / node / "run.log").read_text(errors="replace")[-2000:]
            for node in (VN, KH)
            if (tmp_path / node / "run.log").exists()
        )
        assert shell.returncode == 0, f"{err}\n{logs}"
        assert "config check passed" in err
        assert f"added {KH}" in err
        assert f"added {VN}" in err
        [message_id] = [line.split("\t")[0] for line in out.splitlines() if "\tcase " in line]

        outbox = _gateway(tmp_path, "outbox", "list", "--config", f"{VN}/node.yaml")
        [row] = [line.split("\t") for line in outbox.splitlines() if line.startswith(message_id)]
        assert row[3] == "delivered", outbox
        assert row[6] != "-", "no receipt time: the signed receipt was not stored"
        inbox = _gateway(tmp_path, "inbox", "list", "--config", f"{KH}/node.yaml")
        assert f"{message_id}\t{VN}\thotline_alert" in inbox
    finally:
        _stop_group(shell.pid)
