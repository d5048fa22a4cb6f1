"""The example configs in config/ load, once each node's private key file exists.

The examples ship without key files (config/keys/ is git-ignored), so the test copies them to
a temporary directory and writes throwaway key files where they point. The case system's
webhook key comes from the environment, so the tests pass one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gateway.config import (
    KINDS,
    ConfigError,
    DropFolderDelivery,
    Kind,
    OutgoingFolder,
    PrivateKeyMaterial,
    RoutingRule,
    WebhookDelivery,
    format_private_key_file,
    load_config,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "config"
NODES = ("vn-gialai-police", "vn-gialai-blo", "kh-ratanakiri-police", "kh-stungtreng-police")
CASE_SYSTEM_HMAC = "case-system-hmac-secret-for-tests-0123456789"
ENVIRON = {"BLG_CASE_SYSTEM_HMAC": CASE_SYSTEM_HMAC}


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    copy = tmp_path / "config"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("keys"))
    for node in NODES:
        key_file = copy / "keys" / node / "k20261123.key"
        key_file.parent.mkdir(parents=True)
        material = PrivateKeyMaterial(node, "k20261123", os.urandom(32), os.urandom(32))
        key_file.write_text(format_private_key_file(material))
        key_file.chmod(0o600)
    return copy


def test_each_example_loads(examples: Path) -> None:
    for node in NODES:
        config = load_config(examples / f"{node}.yaml", environ=ENVIRON)
        assert config.node.id == node
        assert {peer.id for peer in config.peers} == set(NODES) - {node}
        assert config.keys[0].private_key_file == examples / "keys" / node / "k20261123.key"
        assert config.state_dir == examples.parent / "state" / node
        assert config.database.dsn is None


def test_examples_agree_with_each_other(examples: Path) -> None:
    configs = {node: load_config(examples / f"{node}.yaml", environ=ENVIRON) for node in NODES}
    ports = {node: config.listen.federation.port for node, config in configs.items()}
    assert sorted(ports.values()) == [9101, 9102, 9103, 9104]
    assert sorted(config.listen.api.port for config in configs.values()) == [
        9201,
        9202,
        9203,
        9204,
    ]
    for node, config in configs.items():
        for peer in config.peers:
            assert peer.url == f"http://127.0.0.1:{ports[peer.id]}/"
            other = configs[peer.id].peer(node)
            assert other is not None
            # What one side may send, the other accepts, and the other way round.
            assert peer.send == other.receive
            assert peer.receive == other.send
            # Every node lists the same public keys for a given peer.
            first_listing = next(c.peer(peer.id) for c in configs.values() if c.peer(peer.id))
            assert first_listing is not None
            assert peer.keys == first_listing.keys
    police = configs["vn-gialai-police"]
    assert all(peer.send == frozenset(KINDS) for peer in police.peers)
    assert all("victim_handover" in peer.send for c in configs.values() for peer in c.peers)


def test_examples_use_routing_redaction_and_local_delivery(examples: Path) -> None:
    configs = {node: load_config(examples / f"{node}.yaml", environ=ENVIRON) for node in NODES}
    for config in configs.values():
        for peer in config.peers:
            # Route policy removes the caller for these peers anyway; the files say so too.
            assert ("hotline_alert.caller" in peer.redact) == (peer.country != "VN")

    police = configs["vn-gialai-police"]
    case_system, hotline = police.local_clients
    assert case_system.delivery == WebhookDelivery(
        url="http://127.0.0.1:9301/blg-inbox",
        hmac_secret=CASE_SYSTEM_HMAC.encode(),
        format="vn-police-json",
    )
    assert case_system.outgoing_folder is None
    assert hotline.id == "hotline-111"
    assert hotline.delivery is None
    assert hotline.outgoing_folder == OutgoingFolder(
        path=examples.parent / "state" / "vn-gialai-police" / "spool" / "hotline-out",
        format="hotline-111-csv",
    )
    notices = frozenset({Kind.WANTED_PERSON_NOTICE, Kind.HOTLINE_ALERT})
    assert police.routing == (
        RoutingRule(notices, ("KH-16",), ("kh-ratanakiri-police",)),
        RoutingRule(notices, ("KH-19",), ("kh-stungtreng-police",)),
        RoutingRule(notices, ("VN-30",), ("vn-gialai-blo",)),
    )
    for node in ("kh-ratanakiri-police", "kh-stungtreng-police"):
        (records,) = configs[node].local_clients
        assert records.id == "police-records"
        # Each node has its own inbox folder, although the files share one directory.
        assert records.delivery == DropFolderDelivery(
            examples.parent / "state" / node / "spool" / "in", "kh-police-xml"
        )
    assert all(not config.routing for node, config in configs.items() if node != police.node.id)


def test_example_needs_the_webhook_key_from_the_environment(examples: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(examples / "vn-gialai-police.yaml", environ={})
    (issue,) = raised.value.issues
    assert (issue.key, issue.message) == (
        "local_clients[0].delivery.hmac_secret",
        "environment variable BLG_CASE_SYSTEM_HMAC is not set",
    )


def test_examples_do_not_load_without_key_files(tmp_path: Path) -> None:
    copy = tmp_path / "config"
    shutil.copytree(EXAMPLES, copy, ignore=shutil.ignore_patterns("keys"))
    with pytest.raises(ConfigError) as raised:
        load_config(copy / "vn-gialai-police.yaml", environ=ENVIRON)
    (issue,) = raised.value.issues
    assert issue.key == "keys[0].private_key_file"
    assert issue.message.startswith("key file not found: ")
