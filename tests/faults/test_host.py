"""Fault matrix, host: the receiver's drop folder on a full disk, and the receiver's clock
4 then 10 minutes behind the sender's.

The full disk is a real one: a small tmpfs mounted over the drop folder (the tests run as
root, as `make test` does for its apt-get), grown when the operator "frees space". The clock
is shifted with libfaketime preloaded into the receiver's gateway process only (Debian
package `faketime`, installed by the Makefile); the monotonic clock stays true, so timeouts
and backoff behave.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from tests.faults.cells import RECEIVER, SENDER, Exchange, gateway_cli
from tests.federation.harness import Federation

MESSAGES = 150
LOCAL_CLIENT_METRIC = "blg_local_deliveries_total"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs: room for a few dozen of the receiver's documents, not 150."""
    folder = tmp_path / "small-disk"
    folder.mkdir(mode=0o700)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(folder)], check=True
    )
    yield folder
    # Lazy: a gateway still running at teardown must not make the unmount fail.
    subprocess.run(["umount", "-l", str(folder)], check=True)


async def test_a_full_drop_folder_disk_holds_deliveries_until_space_is_freed(
    federation: Federation, small_disk: Path
) -> None:
    exchange = await Exchange.create(federation, drop_folder=small_disk)
    await exchange.start(RECEIVER, SENDER)
    queued = await exchange.send(MESSAGES, "disk")
    await federation.wait_delivered(SENDER, MESSAGES)
    # The receiver has every message; writing them out must meet the full disk.
    await exchange.wait_metric(RECEIVER, LOCAL_CLIENT_METRIC, result="filesystem", timeout=30)
    subprocess.run(["mount", "-o", "remount,size=8m", "tmpfs", str(small_disk)], check=True)
    await exchange.assert_exactly_once(queued)
    # A write cut short by the full disk leaves no half file behind once it has gone through.
    assert [path.name for path in small_disk.iterdir() if path.name.startswith(".")] == []


FAKETIME_LIBRARIES = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))


def _start_with_clock_offset(federation: Federation, node_id: str, offset: str) -> None:
    assert FAKETIME_LIBRARIES, "libfaketime is missing: apt-get install faketime (make test does)"
    shifted = {
        "LD_PRELOAD": str(FAKETIME_LIBRARIES[0]),
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    with mock.patch.dict(os.environ, shifted):
        federation.start(node_id)


async def test_clocks_4_minutes_apart_work_10_minutes_apart_are_refused_until_fixed(
    federation: Federation,
) -> None:
    exchange = await Exchange.create(federation)
    # Within the default 5-minute skew allowance: nothing to see.
    _start_with_clock_offset(federation, RECEIVER, "-4m")
    await federation.wait_ready(RECEIVER)
    await exchange.start(SENDER)
    queued = await exchange.send(MESSAGES // 3, "skew4")
    await exchange.assert_exactly_once(queued)
    assert (
        await exchange.metric(RECEIVER, "blg_received_envelopes_total", result="created_in_future")
        == 0
    )

    # Ten minutes: every envelope is refused as created in the future, and kept queued.
    federation.kill(RECEIVER)
    _start_with_clock_offset(federation, RECEIVER, "-10m")
    await federation.wait_ready(RECEIVER)
    queued += await exchange.send(MESSAGES // 3, "skew10")
    await exchange.wait_metric(
        RECEIVER, "blg_received_envelopes_total", result="created_in_future", timeout=30
    )
    sender = await federation.store(SENDER)
    try:
        refused = {q.message_id for q in queued[MESSAGES // 3 :]}
        async with asyncio.timeout(30):
            while not all(
                row.last_error is not None and "created_in_future" in row.last_error
                for row in await sender.list_outbox(limit=MESSAGES)
                if row.message_id in refused
            ):
                await asyncio.sleep(0.1)
        states = await sender.state_counts()
    finally:
        await sender.close()
    # Refused, not lost: still queued, none ended `rejected`.
    assert "rejected" not in {state for _, state in states}, states
    code, shown = await gateway_cli(
        "outbox",
        "show",
        str(queued[-1].message_id),
        "--config",
        str(federation.config_path(SENDER)),
    )
    assert code == 0, shown
    assert "created_in_future" in shown, shown
    assert await exchange.metric(SENDER, "blg_deliveries_total", outcome="deferred") > 0

    # The receiver's clock is fixed (restarted without the offset): everything goes through.
    federation.kill(RECEIVER)
    await exchange.start(RECEIVER)
    await exchange.assert_exactly_once(queued)
