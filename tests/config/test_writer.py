"""The one config writer: init's files, round-trip peer and key edits, restore on failure."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from gateway.config.node_setup import (
    InitRequest,
    InitResult,
    add_peer_from_public,
    generate_own_key,
    init_node,
)
from gateway.config.public_file import (
    PublicFileError,
    certificate_pin,
    parse_public_file,
    read_public_file,
)
from gateway.config.writer import OwnKeyEntry, PeerEntry, add_own_key, add_peer
from gateway.crypto import KeyValidity


def _init(root: Path, node_id: str, port: int) -> InitResult:
    return init_node(
        InitRequest(node_id, root / node_id, ("127.0.0.1", port), ("127.0.0.1", port + 100))
    )


@pytest.fixture
def pair(tmp_path: Path) -> tuple[InitResult, InitResult]:
    return _init(tmp_path, "vn-gialai-police", 19101), _init(
        tmp_path, "kh-ratanakiri-police", 19102
    )


def test_init_writes_private_files_a_loadable_config_and_a_matching_public_file(
    pair: tuple[InitResult, InitResult],
) -> None:
    node, _ = pair
    folder = node.config_file.parent
    written = [path for path in folder.rglob("*")]
    assert {p.relative_to(folder).as_posix() for p in written if p.is_file()} >= {
        "node.yaml",
        "metrics.token",
        "tls/cert.pem",
        "tls/key.pem",
        "tls/peer-certificates.pem",
        "vn-gialai-police.public.yaml",
    }
    for path in written:
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    config = load_config(node.config_file, environ={})
    assert config.node.id == "vn-gialai-police"
    assert config.peers == ()
    assert config.listen.federation.tls is not None
    assert config.listen.federation.tls.client_ca_file is not None
    public = read_public_file(node.public_file)
    assert public.url == "https://127.0.0.1:19101/"
    assert public.spki_sha256 == (certificate_pin((folder / "tls/cert.pem").read_bytes()),)
    assert [key.id for key in public.keys] == [key.id for key in config.keys]
    # Comments of the template are there for the operator.
    assert "# The agencies this node exchanges with" in node.config_file.read_text()


def test_init_never_overwrites_a_config(pair: tuple[InitResult, InitResult]) -> None:
    node, _ = pair
    before = node.config_file.read_bytes()
    with pytest.raises(FileExistsError):
        init_node(InitRequest("vn-gialai-police", node.config_file.parent))
    assert node.config_file.read_bytes() == before


def test_peers_add_keeps_comments_pins_the_certificate_and_updates_in_place(
    pair: tuple[InitResult, InitResult],
) -> None:
    node, peer = pair
    config_file = node.config_file
    config_file.write_text(
        config_file.read_text().replace("node:\n", "# operator's note\nnode:\n", 1)
    )
    public = read_public_file(peer.public_file)
    first = add_peer_from_public(config_file, public, environ={})
    again = add_peer_from_public(
        config_file, public, url="https://10.0.0.2:9101/", receive=["hotline_alert"], environ={}
    )
    assert (first.added, again.added) == (True, False)
    [entry] = again.config.peers
    assert entry.url == "https://10.0.0.2:9101/"
    assert {str(kind) for kind in entry.receive} == {"hotline_alert"}
    assert len(entry.send) == 3
    assert entry.tls.spki_sha256 == (bytes.fromhex(peer.pin),)
    assert entry.tls.ca_file == again.certificate_file
    text = config_file.read_text()
    assert "# operator's note" in text
    assert "# The agencies this node exchanges with" in text
    bundle = (config_file.parent / "tls/peer-certificates.pem").read_text()
    assert bundle.count("BEGIN CERTIFICATE") == 2


def test_an_edit_that_does_not_load_is_undone(pair: tuple[InitResult, InitResult]) -> None:
    node, peer = pair
    before = node.config_file.read_bytes()
    public = read_public_file(peer.public_file)
    bad = PeerEntry(
        id=public.node_id,
        names=public.names,
        country=public.country,
        url="ftp://example.org/",
        keys=public.keys,
    )
    with pytest.raises(ConfigError) as refused:
        add_peer(node.config_file, bad, environ={})
    assert "url" in str(refused.value.issues[0])
    assert node.config_file.read_bytes() == before
    with pytest.raises(ConfigError):
        add_peer_from_public(node.config_file, public, send=["no_such_kind"], environ={})
    assert node.config_file.read_bytes() == before
    assert not (node.config_file.parent / "tls/peers" / f"{public.node_id}.pem").exists()
    bundle = (node.config_file.parent / "tls/peer-certificates.pem").read_text()
    assert bundle.count("BEGIN CERTIFICATE") == 1


def test_add_own_key_lists_a_second_key_beside_the_first(
    pair: tuple[InitResult, InitResult],
) -> None:
    node, _ = pair
    now = datetime.now(UTC).replace(microsecond=0)
    validity = KeyValidity(now + timedelta(days=300), now + timedelta(days=700))
    generated = generate_own_key(
        "vn-gialai-police", node.config_file.parent / "keys", "k-next", validity
    )
    config = add_own_key(
        node.config_file,
        OwnKeyEntry("k-next", "keys/k-next.key", validity.valid_from, validity.valid_until),
        environ={},
    )
    assert [key.id for key in config.keys][1:] == ["k-next"]
    assert config.keys[1].valid_from == validity.valid_from
    assert generated.private_key_file.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("format: blg-public-node-v1", "format: other"), "format"),
        (("node: kh-", "node: KH "), "node"),
        (("url: https://", "url: ftp://"), "url"),
        (("signing_public_key: ed25519:", "signing_public_key: x25519:"), "signing_public_key"),
        (("valid_until: '2", "valid_until: 'x2"), "valid_until"),
        (("spki_sha256:\n  - ", "spki_sha256:\n  - 00"), "spki_sha256"),
        (("-----BEGIN CERTIFICATE-----", "-----BEGIN NOTHING-----"), "certificate"),
    ],
)
def test_a_bad_public_file_is_refused_naming_the_field(
    pair: tuple[InitResult, InitResult], change: tuple[str, str], field: str
) -> None:
    text = pair[1].public_file.read_text()
    assert change[0] in text
    with pytest.raises(PublicFileError, match=rf": (keys\[0\]\.|tls\.)?{field}: "):
        parse_public_file(text.replace(*change, 1), "peer.public.yaml")
