"""The node's health figures from a real database and config, and how /metrics carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import generate_latest

from gateway.config import PeerKeyConfig
from gateway.crypto import OwnKeyPair
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.node_health import (
    SELF,
    NodeHealth,
    PeerHealth,
    Reachability,
    key_expiries,
    node_health,
)
from gateway.store import PoolUsage
from tests.federation.harness import KEY_VALIDITY, Federation

POLICE, RATANAKIRI, STUNGTRENG = "vn-gialai-police", "kh-ratanakiri-police", "kh-stungtreng-police"


def _successor(days: int) -> PeerKeyConfig:
    """A peer's next key, valid from now for `days` days (and a bit, so the floor is days)."""
    now = datetime.now(UTC)
    public = OwnKeyPair.generate("k2", KEY_VALIDITY).public()
    return PeerKeyConfig(
        "k2",
        public.signing_public,
        public.encryption_public,
        now - timedelta(hours=1),
        now + timedelta(days=days, hours=1),
    )


async def test_figures_from_the_database_judge_a_party_by_its_longest_valid_key(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI, STUNGTRENG)
    federation.write_config(POLICE, extra_peer_keys={STUNGTRENG: [_successor(800)]})
    config = federation.config(POLICE)
    now = datetime.now(UTC)
    k1_days = (KEY_VALIDITY.valid_until - now) // timedelta(days=1)

    keys = key_expiries(config, now)
    assert [(key.owner, key.key_id, key.days_left) for key in keys] == [
        (SELF, "k1", k1_days),
        (RATANAKIRI, "k1", k1_days),
        (STUNGTRENG, "k1", k1_days),
        (STUNGTRENG, "k2", 800),
    ]

    store = await federation.store(POLICE)
    try:
        await store.record_failure(STUNGTRENG, 3, now + timedelta(minutes=5), "connect: refused")
        health = await node_health(config, store, now)
    finally:
        await store.close()
    by_peer = {peer.id: peer for peer in health.peers}
    # The configuration's order, which the status table and the console keep.
    assert [peer.id for peer in health.peers] == [peer.id for peer in config.peers]
    assert by_peer[RATANAKIRI].reachability is Reachability.UNKNOWN
    assert by_peer[STUNGTRENG].reachability is Reachability.UNREACHABLE
    assert (by_peer[STUNGTRENG].failures, by_peer[STUNGTRENG].last_error) == (
        3,
        "connect: refused",
    )
    # During a rollover the old key ending soon is fine: its successor is configured.
    assert by_peer[STUNGTRENG].keys_days_left == 800
    assert by_peer[RATANAKIRI].keys_days_left == k1_days
    assert health.own_keys_days_left == k1_days
    assert health.local_systems == ()


def _peer(peer_id: str, reachability: Reachability) -> PeerHealth:
    return PeerHealth(peer_id, reachability, 2, None, 0.0, 0, None, None, None, 30)


@pytest.mark.parametrize(
    ("reachability", "sample"),
    [
        (Reachability.REACHABLE, "1.0"),
        (Reachability.UNREACHABLE, "0.0"),
        # Never tried: no sample, so `blg_peer_reachable == 0` does not page for an unused link.
        (Reachability.UNKNOWN, None),
    ],
)
def test_metrics_carry_reachability_as_one_or_zero_and_nothing_before_the_first_attempt(
    reachability: Reachability, sample: str | None
) -> None:
    metrics = GatewayMetrics()
    now = datetime.now(UTC)
    health = NodeHealth(POLICE, now, (_peer(RATANAKIRI, reachability),), (), ())
    metrics.record_health(health)
    metrics.record_pool(PoolUsage(in_use=3, size=5, max_size=10))
    text = generate_latest(metrics.registry).decode()
    lines = text.splitlines()
    reachable = [line for line in lines if line.startswith("blg_peer_reachable{")]
    expected = [] if sample is None else [f'blg_peer_reachable{{peer="{RATANAKIRI}"}} {sample}']
    assert reachable == expected
    assert f'blg_outbox_pending{{peer="{RATANAKIRI}"}} 2.0' in lines
    assert "blg_database_pool_in_use 3.0" in lines
    assert "blg_database_pool_size 5.0" in lines
    assert "blg_database_pool_max_size 10.0" in lines
    [build] = [line for line in lines if line.startswith("blg_build_info{")]
    assert 'version="' in build
    assert 'python="3.' in build
