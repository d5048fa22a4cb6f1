"""Real nodes and what they leave on disk: 0600 files and 0700 folders under umask 000, no
write through a symlink planted as an `.errors` file, retention that purges old content and
old `done/` files."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from tests.delivery.test_held_and_keyed import wait_for
from tests.federation.harness import Federation, alert, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners"
CALLER = "Rah Lan Thị Hoa"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _start_with_umask(federation: Federation, node: str, umask: int) -> None:
    # The child inherits the umask of the process that starts it.
    previous = os.umask(umask)
    try:
        federation.start(node)
    finally:
        os.umask(previous)


async def test_files_are_private_under_umask_000_and_a_planted_errors_symlink_is_refused(
    federation: Federation, tmp_path: Path
) -> None:
    _token, hotline = local_client("hotline-111", ["hotline-111-csv"], ["hotline_alert"])
    outgoing = tmp_path / "hotline-out"
    hotline["outgoing_folder"] = {
        "path": str(outgoing),
        "format": "hotline-111-csv",
        "to": [RATANAKIRI],
        "poll_interval": "200ms",
    }
    _token, records = local_client("police-records", ["kh-police-xml"], ["hotline_alert"])
    drop = tmp_path / "rtk-in"
    records["delivery"] = {"type": "drop_folder", "path": str(drop)}
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [hotline]}
    federation.sections[RATANAKIRI] = {"local_clients": [records]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        # As an earlier version left it: open to all.
        (federation.root / node / "state").mkdir(mode=0o755)
        _start_with_umask(federation, node, 0)
        await federation.wait_ready(node)

    export = (SAMPLES / "hotline-111-csv" / "samples" / "calls.csv").read_bytes()
    header, first, second, third, _ = export.decode("utf-8-sig").split("\r\n")
    broken = "\r\n".join(
        [header, first, second.replace("22/11/2026 06:10", "31/02/2026 06:10"), third, ""]
    ).encode("utf-8-sig")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"untouched")
    (outgoing / "calls.csv.errors").symlink_to(outside)
    previous = os.umask(0)  # the hotline's own files: world-readable as it writes them
    try:
        (outgoing / "calls.csv").write_bytes(broken)
        (outgoing / "calls-2.csv").write_bytes(broken.replace(b"111-20261121-0457", b"111-X-1"))
    finally:
        os.umask(previous)

    done = outgoing / "done"
    await wait_for(
        lambda: (done / "calls.csv").exists() and (done / "calls-2.csv").exists(), "both done"
    )
    await wait_for(lambda: len(list(drop.glob("*.xml"))) == 4, "4 alerts delivered")
    assert outside.read_bytes() == b"untouched"
    assert (outgoing / "calls.csv.errors").is_symlink()
    assert (outgoing / "calls-2.csv.errors").read_text().startswith("line 4")
    assert (
        'blg_unsafe_paths_refused_total{client="hotline-111",role="errors"} 1.0'
        in await federation.metrics_text(POLICE)
    )
    log = federation.log_tail(POLICE)
    assert '"event": "errors_file_not_written"' in log
    assert f'"file_sha256": "{hashlib.sha256(broken).hexdigest()}"' in log
    assert CALLER not in log

    private_folders = [
        federation.root / POLICE / "state",
        federation.root / RATANAKIRI / "state",
        outgoing,
        done,
        drop,
    ]
    private_files = [
        done / "calls.csv",
        done / "calls-2.csv",
        outgoing / "calls-2.csv.errors",
        *drop.iterdir(),
    ]
    assert {str(p): _mode(p) for p in private_folders} == {str(p): 0o700 for p in private_folders}
    assert {str(p): _mode(p) for p in private_files} == {str(p): 0o600 for p in private_files}


async def test_retention_purges_old_content_and_done_files_and_keeps_the_rest(
    federation: Federation, tmp_path: Path
) -> None:
    _token, hotline = local_client("hotline-111", ["hotline-111-csv"], ["hotline_alert"])
    outgoing = tmp_path / "hotline-out"
    hotline["outgoing_folder"] = {"path": str(outgoing), "format": "hotline-111-csv"}
    _token, records = local_client("police-records", ["kh-police-xml"], ["hotline_alert"])
    records["delivery"] = {"type": "drop_folder", "path": str(tmp_path / "rtk-in")}
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [hotline]}
    federation.sections[RATANAKIRI] = {"local_clients": [records]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    queued = await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{n}") for n in range(4)])
    await federation.wait_delivered(POLICE, 4)
    await wait_for(lambda: len(list((tmp_path / "rtk-in").glob("*.xml"))) == 4, "4 files")
    federation.kill(POLICE, signal.SIGTERM)
    federation.kill(RATANAKIRI, signal.SIGTERM)

    # Two of the four exchanges finished 100 days ago, past the default 90 days.
    old = [str(item.message_id) for item in queued[:2]]
    police = await asyncpg.connect(federation.nodes[POLICE].dsn)
    rtk = await asyncpg.connect(federation.nodes[RATANAKIRI].dsn)
    try:
        await police.execute(
            "UPDATE outbox SET finished_at = now() - interval '100 days' "
            "WHERE message_id = ANY($1::uuid[])",
            old,
        )
        await rtk.execute(
            "UPDATE inbox SET received_at = now() - interval '100 days' "
            "WHERE message_id = ANY($1::uuid[])",
            old,
        )
        await rtk.execute(
            "UPDATE local_deliveries d SET delivered_at = now() - interval '100 days' "
            "FROM inbox i WHERE i.id = d.inbox_id AND i.message_id = ANY($1::uuid[])",
            old,
        )
    finally:
        await police.close()
        await rtk.close()
    done = outgoing / "done"
    done.mkdir(parents=True, exist_ok=True)
    eight_days_ago = time.time() - 8 * 86400
    for name in ("old-1.csv", "old-2.csv", "recent.csv"):
        (done / name).write_text("so_cuoc_goi,ho_ten\n111-1,Nguyễn Thị Thu\n")
    for name in ("old-1.csv", "old-2.csv"):
        os.utime(done / name, (eight_days_ago, eight_days_ago))

    # The first sweep runs at start.
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    await wait_for(lambda: sorted(p.name for p in done.iterdir()) == ["recent.csv"], "purged")

    async def remaining(node: str, query: str) -> list[str]:
        connection = await asyncpg.connect(federation.nodes[node].dsn)
        try:
            return sorted(str(row[0]) for row in await connection.fetch(query))
        finally:
            await connection.close()

    kept = sorted(str(item.message_id) for item in queued[2:])
    await wait_for_async(
        lambda: remaining(POLICE, "SELECT message_id FROM outbox WHERE envelope IS NOT NULL"),
        kept,
        "outbox content purged",
    )
    await wait_for_async(
        lambda: remaining(RATANAKIRI, "SELECT message_id FROM inbox WHERE envelope IS NOT NULL"),
        kept,
        "inbox content purged",
    )
    # The rows stay: only their content went.
    assert len(await remaining(POLICE, "SELECT message_id FROM outbox")) == 4
    assert len(await remaining(RATANAKIRI, "SELECT message_id FROM inbox")) == 4
    store = await federation.store(POLICE)
    try:
        sweeps = [e.detail for e in await store.list_audit(100) if e.action == "retention.purged"]
    finally:
        await store.close()
    assert {"outbox": 2, "done_files": 2} in [
        {"outbox": d.get("outbox.restricted"), "done_files": d["done_files"]} for d in sweeps
    ]
    text = await federation.metrics_text(POLICE)
    assert 'blg_retention_purged_total{what="done_files"} 2.0' in text
    assert 'blg_retention_sweeps_total{result="ok"}' in text


async def wait_for_async(
    fetch: Callable[[], Awaitable[list[str]]], expected: list[str], what: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    got: list[str] = []
    while time.monotonic() < deadline:
        got = await fetch()
        if got == expected:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {got}")
