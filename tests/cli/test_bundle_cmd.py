"""`gateway bundle export|import` against two real node databases (no node running): the
whole offline round trip, the travelling state in `gateway outbox`, and each refusal's exit
code and reason code."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.federation.harness import Federation, alert

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATEWAY, *args], check=False, capture_output=True, text=True, timeout=120
    )


def _error(run: subprocess.CompletedProcess[str]) -> str:
    """The last line on stderr (progress lines come before it)."""
    return run.stderr.strip().splitlines()[-1]


async def _count(dsn: str, query: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        value: int = await connection.fetchval(query)
    finally:
        await connection.close()
    return value


async def test_export_import_and_receipts_round_trip(
    federation: Federation, tmp_path: Path
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    police, ratanakiri = (str(federation.config_path(n)) for n in (POLICE, RATANAKIRI))
    queued = await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{n}") for n in range(3)])
    bundle = tmp_path / "to-ratanakiri.blgb"

    exported = _gateway(
        "bundle", "export", "--config", police, "--to", RATANAKIRI, "--out", str(bundle)
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("exported 3 messages for kh-ratanakiri-police in bundle ")
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    listed = _gateway("outbox", "list", "--config", police)
    assert listed.stdout.count("queued, travelling in bundle ") == 3
    shown = _gateway("outbox", "show", "--config", police, str(queued[0].message_id))
    assert '"travelling_in_bundle": "' in shown.stdout
    again = _gateway(
        "bundle", "export", "--config", police, "--to", RATANAKIRI, "--out", str(tmp_path / "x")
    )
    assert (again.returncode, again.stdout.strip()) == (
        0,
        "exported 0 messages for kh-ratanakiri-police",
    )
    assert not (tmp_path / "x").exists()

    misaddressed = _gateway("bundle", "import", "--config", police, str(bundle))
    assert misaddressed.returncode == 2
    assert _error(misaddressed).startswith("error: bundle_misaddressed: ")
    imported = _gateway("bundle", "import", "--config", ratanakiri, str(bundle))
    assert imported.returncode == 0, imported.stderr
    assert "3 accepted, 0 duplicates, refused none" in imported.stdout
    receipts = Path(str(bundle) + ".receipts")
    assert stat.S_IMODE(receipts.stat().st_mode) == 0o600
    ratanakiri_dsn = federation.nodes[RATANAKIRI].dsn
    assert await _count(ratanakiri_dsn, "SELECT count(*) FROM inbox") == 3

    replayed = _gateway("bundle", "import", "--config", ratanakiri, str(bundle))
    assert replayed.returncode == 2
    assert _error(replayed).startswith("error: bundle_replayed: ")

    # A lost bundle: exported again, the peer stores nothing twice.
    lost = tmp_path / "again.blgb"
    resent = _gateway(
        "bundle",
        "export",
        "--config",
        police,
        "--to",
        RATANAKIRI,
        "--out",
        str(lost),
        "--include-exported",
    )
    assert resent.stdout.startswith("exported 3 messages"), resent.stderr
    twice = _gateway(
        "bundle",
        "import",
        "--config",
        ratanakiri,
        str(lost),
        "--receipts-out",
        str(tmp_path / "r2"),
    )
    assert "0 accepted, 3 duplicates" in twice.stdout, twice.stderr
    assert await _count(ratanakiri_dsn, "SELECT count(*) FROM inbox") == 3

    back = _gateway("bundle", "import", "--config", police, str(receipts))
    assert back.returncode == 0, back.stderr
    assert "3 messages finished, 3 receipts verified" in back.stdout
    assert (
        _gateway("outbox", "list", "--config", police, "--state", "delivered").stdout.count(
            "\tdelivered\t"
        )
        == 3
    )
    # The second receipts bundle names the same messages: verified, nothing changes.
    later = _gateway("bundle", "import", "--config", police, str(tmp_path / "r2"))
    assert (
        "0 messages finished, 3 receipts verified, 3 for messages finished before" in later.stdout
    )
    assert "travelling" not in _gateway("outbox", "list", "--config", police).stdout


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        (lambda data: data[: len(data) // 2], "bundle_truncated"),
        (lambda data: data[:-1] + bytes([data[-1] ^ 1]), "bundle_signature_invalid"),
        (lambda data: b"not a bundle at all", "bundle_malformed"),
    ],
    ids=["truncated", "tampered", "not_a_bundle"],
)
async def test_a_damaged_bundle_is_refused_with_its_code(
    federation: Federation, tmp_path: Path, damage: object, code: str
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    police, ratanakiri = (str(federation.config_path(n)) for n in (POLICE, RATANAKIRI))
    await federation.send(POLICE, RATANAKIRI, [alert("TB-1")])
    bundle = tmp_path / "b"
    assert (
        _gateway(
            "bundle", "export", "--config", police, "--to", RATANAKIRI, "--out", str(bundle)
        ).returncode
        == 0
    )
    assert callable(damage)
    bundle.write_bytes(damage(bundle.read_bytes()))
    refused = _gateway("bundle", "import", "--config", ratanakiri, str(bundle))
    assert refused.returncode == 2
    assert _error(refused).startswith(f"error: {code}: ")
    assert "Traceback" not in refused.stderr
    assert await _count(federation.nodes[RATANAKIRI].dsn, "SELECT count(*) FROM inbox") == 0
    # Addressed to ratanakiri: the sender itself cannot import it.
    bundle.write_bytes(b"")
    assert _error(_gateway("bundle", "import", "--config", police, str(bundle))).startswith(
        "error: bundle_truncated: "
    )


async def test_a_bundle_past_the_size_limit_is_refused_before_it_is_read(
    federation: Federation, tmp_path: Path
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[RATANAKIRI] = {
        "limits": {"max_bundle_bytes": "1KiB", "max_bundle_items": 5}
    }
    ratanakiri = str(federation.write_config(RATANAKIRI))
    assert federation.config(RATANAKIRI).limits.max_bundle_items == 5
    big = tmp_path / "big.blgb"
    big.write_bytes(b"\x00" * 1025)
    refused = _gateway("bundle", "import", "--config", ratanakiri, str(big))
    assert refused.returncode == 2
    assert _error(refused) == (
        "error: bundle_too_large: the file is 1025 bytes; limits.max_bundle_bytes is 1024"
    )
    assert not Path(f"{big}.receipts").exists()
