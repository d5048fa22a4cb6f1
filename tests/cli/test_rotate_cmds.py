"""`gateway keys rotate` and `gateway peers import-key`, run as the installed command on
configs `gateway init` wrote."""

from __future__ import annotations

import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.node_setup import InitRequest, InitResult, add_peer_from_public, init_node
from gateway.config.public_file import read_public_file
from gateway.store import Store

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], check=False, capture_output=True, text=True, timeout=60)


def _init(root: Path, node_id: str, port: int, dsn: str | None = None) -> InitResult:
    return init_node(
        InitRequest(
            node_id, root / node_id, ("127.0.0.1", port), ("127.0.0.1", port + 100), dsn=dsn
        )
    )


@pytest.mark.parametrize(
    "command", [["keys", "rotate"], ["peers", "import-key"], ["peers", "keys"]]
)
def test_the_rollover_commands_have_help(command: list[str]) -> None:
    result = _gateway(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout


def test_rotate_adds_the_next_key_and_ends_the_current_one_after_the_overlap(
    tmp_path: Path,
) -> None:
    node = _init(tmp_path, POLICE, 19301)
    before = node.config_file.read_text()
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    result = _gateway("keys", "rotate", "--config", str(node.config_file), "--overlap", "2d")
    assert result.returncode == 0, result.stderr
    config = load_config(node.config_file, environ={})
    current, new = config.keys
    assert current.valid_until == new.valid_from + timedelta(days=2)
    assert new.valid_until - new.valid_from == timedelta(days=365)
    assert f"added {new.id}" in result.stdout
    for path in (new.private_key_file, new.private_key_file.with_suffix(".public.yaml")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Round-trip: every comment of init's config is still there.
    after = node.config_file.read_text()
    assert all(comment in after for comment in comments)
    # A second rotation the same day gets a key id of its own.
    again = _gateway("keys", "rotate", "--config", str(node.config_file))
    assert again.returncode == 0, again.stderr
    assert len({key.id for key in load_config(node.config_file, environ={}).keys}) == 3


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--overlap", "0s"], "--overlap"),
        (["--valid-for", "1d", "--overlap", "7d"], "--valid-for"),
        (["--valid-from", "tomorrow"], "--valid-from"),
        (["--key-id", "CURRENT"], "--key-id"),
    ],
    ids=["no-overlap", "shorter-than-overlap", "bad-instant", "existing-id"],
)
def test_a_refused_rotation_names_the_option_and_changes_nothing(
    tmp_path: Path, options: list[str], named: str
) -> None:
    node = _init(tmp_path, POLICE, 19302)
    current = load_config(node.config_file, environ={}).keys[0]
    options = [current.id if option == "CURRENT" else option for option in options]
    before = node.config_file.read_bytes()
    files = sorted(current.private_key_file.parent.iterdir())
    result = _gateway("keys", "rotate", "--config", str(node.config_file), *options)
    assert result.returncode == 1
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert node.config_file.read_bytes() == before
    assert sorted(current.private_key_file.parent.iterdir()) == files


async def test_import_key_records_a_peers_rotated_key_once(tmp_path: Path, database: str) -> None:
    police = _init(tmp_path, POLICE, 19303, dsn=database)
    ratanakiri = _init(tmp_path, RATANAKIRI, 19304)
    add_peer_from_public(police.config_file, read_public_file(ratanakiri.public_file), environ={})
    rotated = _gateway("keys", "rotate", "--config", str(ratanakiri.config_file))
    assert rotated.returncode == 0, rotated.stderr
    new = load_config(ratanakiri.config_file, environ={}).keys[-1]
    keys_file = new.private_key_file.with_suffix(".public.yaml")

    unnamed = _gateway("peers", "import-key", "--config", str(police.config_file), str(keys_file))
    assert (unnamed.returncode, "--peer" in unnamed.stderr) == (1, True)
    stranger = _gateway(
        "peers", "import-key", "--config", str(police.config_file), "--peer", "kh-other",
        str(keys_file),
    )  # fmt: skip
    assert (stranger.returncode, "node: kh-other" in stranger.stderr) == (1, True)

    command = ["peers", "import-key", "--config", str(police.config_file), "--peer", RATANAKIRI]
    first = _gateway(*command, str(keys_file))
    assert first.returncode == 0, first.stderr
    assert new.id in first.stdout
    second = _gateway(*command, str(keys_file))
    assert (second.returncode, "nothing new" in second.stdout) == (0, True)

    listed = _gateway("peers", "keys", "--config", str(police.config_file))
    assert listed.returncode == 0, listed.stderr
    states = {tuple(line.split("\t")[:4]) for line in listed.stdout.splitlines()[1:]}
    configured = load_config(ratanakiri.config_file, environ={}).keys[0].id
    assert states == {
        (RATANAKIRI, configured, "config", "configured"),
        (RATANAKIRI, new.id, "import", "pending"),
    }

    store = await Store.connect(database)
    try:
        recorded = await store.recorded_peer_keys()
        assert [(r.peer, r.key.key_id, r.source) for r in recorded] == [
            (RATANAKIRI, new.id, "import")
        ]
        assert [r.action for r in await store.list_audit()].count("peer.keys_imported") == 1
    finally:
        await store.close()
