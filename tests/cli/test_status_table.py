"""The status command's table and JSON, from figures made here (the database side is tested
on real nodes in tests/ops/test_status_and_dashboard.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.cli.status_cmd import as_json, as_table
from gateway.ops.node_health import (
    KEYS_WARNING_DAYS,
    SELF,
    KeyExpiry,
    LocalSystemHealth,
    NodeHealth,
    PeerHealth,
    Reachability,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PEER = "kh-ratanakiri-police"
SOON = KEYS_WARNING_DAYS - 1


def _health(own_days: int, peer_days: int) -> NodeHealth:
    oldest = NOW - timedelta(days=1, hours=2, minutes=3, seconds=4)
    peer = PeerHealth(
        PEER,
        Reachability.UNREACHABLE,
        7,
        oldest,
        (NOW - oldest).total_seconds(),
        4,
        NOW - timedelta(days=2),
        NOW - timedelta(minutes=1),
        "network: ClientConnectorError\n" + "x" * 200,
        peer_days,
    )
    local = LocalSystemHealth("case-system", 0, None, 0.0, 0, 1)
    keys = (
        KeyExpiry(SELF, "k1", NOW + timedelta(days=own_days), own_days),
        KeyExpiry(PEER, "k1", NOW + timedelta(days=peer_days), peer_days),
    )
    return NodeHealth("vn-gialai-police", NOW, (peer,), (local,), keys)


@pytest.mark.parametrize(
    ("own_days", "peer_days", "warnings"),
    [
        (KEYS_WARNING_DAYS, KEYS_WARNING_DAYS, []),
        (
            SOON,
            400,
            [f"WARNING: this node's keys end in {SOON} days (no key valid longer)"],
        ),
        (400, -2, [f"WARNING: the keys of {PEER} end in -2 days (no key valid longer)"]),
    ],
)
def test_the_table_flags_keys_where_the_alerts_fire(
    own_days: int, peer_days: int, warnings: list[str]
) -> None:
    lines = as_table(_health(own_days, peer_days)).splitlines()
    assert [line for line in lines if line.startswith("WARNING")] == warnings
    row = next(line.split() for line in lines if line.startswith(PEER))
    assert row[:7] == [
        PEER,
        "unreachable",
        "7",
        "1d2h03m04s",
        "4",
        "2026-11-28T09:00:00Z",
        str(peer_days),
    ]
    # One line per peer whatever the error's length; the rest of it is cut.
    assert max(len(line) for line in lines) < 200
    assert ["case-system", "0", "-", "0", "1"] in [line.split() for line in lines]


def test_json_gives_every_figure_with_times_in_utc() -> None:
    shown = as_json(_health(100, 200))
    [peer] = shown["peers"]
    assert peer["oldest_pending_at"] == "2026-11-29T06:56:56Z"
    assert peer["oldest_pending_seconds"] == 93784.0
    assert (peer["reachability"], peer["pending"], peer["key_expiry_days"]) == (
        "unreachable",
        7,
        200,
    )
    assert shown["own_key_expiry_days"] == 100
    assert shown["local_systems"] == [
        {
            "id": "case-system",
            "backlog": 0,
            "oldest_pending_at": None,
            "oldest_pending_seconds": 0.0,
            "head_attempts": 0,
            "held": 1,
        }
    ]
    assert [(key["owner"], key["id"], key["days_left"]) for key in shown["keys"]] == [
        (SELF, "k1", 100),
        (PEER, "k1", 200),
    ]
