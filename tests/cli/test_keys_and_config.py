"""`gateway keys generate` and `gateway config check`, run as the installed command."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from gateway.config import load_config, parse_public_key
from gateway.crypto import KeyValidity, OwnKeyPair

GATEWAY = str(Path(sys.executable).parent / "gateway")
EXAMPLES = Path(__file__).resolve().parents[2] / "config"


# The example configs take the case system's webhook secret from the environment.
ENV = {**os.environ, "BLG_CASE_SYSTEM_HMAC": "x" * 40}


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATEWAY, *args], check=False, capture_output=True, text=True, timeout=60, env=ENV
    )


def test_every_command_has_help() -> None:
    for command in (
        [],
        ["keys"],
        ["keys", "generate"],
        ["config"],
        ["config", "check"],
        ["run"],
        ["send"],
        ["outbox", "list"],
        ["inbox", "show"],
        ["audit", "verify"],
        ["db", "migrate"],
    ):
        result = _gateway(*command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "usage: gateway" in result.stdout


def test_keys_generate_writes_a_private_file_only_its_owner_can_read(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    result = _gateway(
        "keys",
        "generate",
        "--node",
        "vn-gialai-police",
        "--out",
        str(out),
        "--valid-from",
        "2026-11-23T00:00:00Z",
        "--valid-days",
        "30",
    )
    assert result.returncode == 0, result.stderr
    private = out / "k20261123.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert "secret" not in result.stdout.lower().replace("keep it secret", "")
    public_snippet = yaml.safe_load((out / "k20261123.public.yaml").read_text())
    assert public_snippet[0]["id"] == "k20261123"
    assert public_snippet[0]["signing_public_key"].startswith("ed25519:")
    again = _gateway(
        "keys",
        "generate",
        "--node",
        "vn-gialai-police",
        "--out",
        str(out),
        "--valid-from",
        "2026-11-23T00:00:00Z",
    )
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert private.read_text() != ""


def test_generated_keys_work_end_to_end_through_a_config(tmp_path: Path) -> None:
    """A node's generated key and its published snippet, loaded through configs, interoperate."""
    config_dir = tmp_path / "config"
    shutil.copytree(EXAMPLES, config_dir, ignore=shutil.ignore_patterns("keys"))
    for node in (
        "vn-gialai-police",
        "vn-gialai-blo",
        "kh-ratanakiri-police",
        "kh-stungtreng-police",
    ):
        result = _gateway(
            "keys",
            "generate",
            "--node",
            node,
            "--out",
            str(config_dir / "keys" / node),
            "--valid-from",
            "2026-11-23T00:00:00Z",
        )
        assert result.returncode == 0, result.stderr
    check = _gateway("config", "check", str(config_dir / "vn-gialai-police.yaml"))
    assert check.returncode == 0, check.stderr
    assert "ok: node vn-gialai-police" in check.stdout
    police = load_config(config_dir / "vn-gialai-police.yaml", environ=ENV)
    snippet = yaml.safe_load(
        (config_dir / "keys" / "vn-gialai-police" / "k20261123.public.yaml").read_text()
    )
    own = police.keys[0]
    pair = OwnKeyPair.from_secrets(
        own.id,
        own.signing_seed,
        own.encryption_secret,
        KeyValidity(own.valid_from, own.valid_until),
    )
    published = parse_public_key(snippet[0]["signing_public_key"], "ed25519")
    assert published == pair.public().signing_public


def test_config_check_reports_each_problem_on_one_line(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    shutil.copytree(EXAMPLES, config_dir, ignore=shutil.ignore_patterns("keys"))
    path = config_dir / "vn-gialai-police.yaml"
    text = path.read_text().replace(
        "api: {host: 127.0.0.1, port: 9201}", 'api: {host: 127.0.0.1, port: "abc"}'
    )
    path.write_text(text)
    result = _gateway("config", "check", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    port_line = next(i for i, line in enumerate(text.splitlines(), 1) if 'port: "abc"' in line)
    assert any(
        line.startswith(f"{path}:{port_line}: listen.api.port: expected") for line in lines
    ), lines
    assert any("key file not found" in line for line in lines), lines
    assert all(line.count("\n") == 0 and "Traceback" not in line for line in lines)
