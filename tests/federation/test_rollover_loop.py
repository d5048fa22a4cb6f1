"""The rollover loop in one process against a real database: baseline at first start, then a
rotated config announced to each peer, the new key withheld until the peer accepts."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.components import keyring_from_config
from gateway.config import load_config
from gateway.config.node_setup import InitRequest, add_peer_from_public, init_node
from gateway.config.public_file import read_public_file
from gateway.crypto import parse_header
from gateway.federation.rollover import KeyRollover
from gateway.store import Store
from gateway.wire import ControlKind
from tests.federation.harness import GATEWAY

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


@pytest.mark.parametrize("restarted", [False, True], ids=["running", "rotated-while-down"])
async def test_a_rotated_config_is_announced_once_per_peer_under_the_current_key(
    tmp_path: Path, store: Store, database: str, restarted: bool
) -> None:
    police = init_node(
        InitRequest(
            POLICE, tmp_path / "p", ("127.0.0.1", 19401), ("127.0.0.1", 19501), dsn=database
        )
    )
    ratanakiri = init_node(
        InitRequest(RATANAKIRI, tmp_path / "r", ("127.0.0.1", 19402), ("127.0.0.1", 19502))
    )
    add_peer_from_public(police.config_file, read_public_file(ratanakiri.public_file), environ={})
    config = load_config(police.config_file, environ={})
    keyring = keyring_from_config(config)
    rollover = KeyRollover(
        config=config, keyring=keyring, store=store, clock=lambda: datetime.now(UTC)
    )
    await rollover.start()
    current = config.keys[0].id
    assert [row.key_id for row in await store.own_keys_published()] == [current]
    assert await store.list_outbox() == []  # peers got the first key with the config

    rotated = subprocess.run(
        [GATEWAY, "keys", "rotate", "--config", str(police.config_file)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert rotated.returncode == 0, rotated.stderr
    new = load_config(police.config_file, environ={}).keys[-1].id
    if restarted:
        config = load_config(police.config_file, environ={})
        keyring = keyring_from_config(config)
        rollover = KeyRollover(
            config=config, keyring=keyring, store=store, clock=lambda: datetime.now(UTC)
        )
        await rollover.start()
    await rollover.check()
    await rollover.check()  # a second round announces nothing more

    rows = await store.list_outbox()
    assert [(row.recipient, row.kind, row.state) for row in rows] == [
        (RATANAKIRI, "key_announcement", "queued")
    ]
    found = await store.get_outbox(rows[0].message_id)
    assert found is not None
    assert found[1] is not None
    header = parse_header(found[1])[1]
    assert (header.kind, header.sender_key_id) == (ControlKind.KEY_ANNOUNCEMENT, current)
    # The node holds the new key, and keeps it from Ratanakiri until it accepts.
    now = datetime.now(UTC)
    assert keyring.own_key(new) is not None
    assert keyring.own_key_at(now, RATANAKIRI).key_id == current  # type: ignore[union-attr]
    assert await store.own_keys_withheld() == {RATANAKIRI: frozenset({new})}
    # An announcement is in no case, and audited as what the node published.
    assert (await store.list_cases()).cases == []
    assert "node.keys_announced" in [row.action for row in await store.list_audit()]
