"""Key strings, private key files and public key snippets: one format, read and written here."""

from __future__ import annotations

import base64
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import (
    KeyFileError,
    PeerKeyConfig,
    PrivateKeyMaterial,
    format_key,
    format_private_key_file,
    format_public_keys_snippet,
    load_config,
    parse_private_key_file,
    parse_public_key,
)

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()
SEED = bytes(range(100, 132))
SEED_B64 = base64.b64encode(SEED).decode()
MATERIAL = PrivateKeyMaterial("vn-gialai-police", "k20261123", SEED, bytes(range(200, 232)))


def test_parse_public_key() -> None:
    assert parse_public_key(f"ed25519:{KEY_B64}", "ed25519") == KEY
    assert parse_public_key(f"x25519:{KEY_B64}", "x25519") == KEY
    assert format_key("x25519", KEY) == f"x25519:{KEY_B64}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rsa:AAAA", "unknown key format 'rsa'; expected ed25519:<base64>"),
        (KEY_B64, "missing the algorithm prefix; expected ed25519:<base64>"),
        (f"x25519:{KEY_B64}", "an x25519 key where an ed25519 key belongs"),
        ("ed25519:AAAA", "ed25519 key has 3 bytes; expected 32"),
        (
            "ed25519:not base64!",
            "invalid base64 after 'ed25519:'; expected ed25519:<base64> (standard alphabet, "
            "with padding)",
        ),
        (
            f"ed25519:{KEY_B64.rstrip('=')}",
            "invalid base64 after 'ed25519:'; expected ed25519:<base64> (standard alphabet, "
            "with padding)",
        ),
        (
            "ed25519:" + KEY_B64[:-2] + "9=",
            "non-canonical base64 after 'ed25519:'; expected ed25519:<base64>",
        ),
    ],
)
def test_parse_public_key_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_public_key(text, "ed25519")


@given(
    node=st.from_regex(r"[a-z0-9][a-z0-9-]{1,62}", fullmatch=True),
    key_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True),
    seed=st.binary(min_size=32, max_size=32),
    secret=st.binary(min_size=32, max_size=32),
)
def test_private_key_file_round_trips(node: str, key_id: str, seed: bytes, secret: bytes) -> None:
    material = PrivateKeyMaterial(node, key_id, seed, secret)
    assert parse_private_key_file(format_private_key_file(material), "k.key") == material


def test_private_key_file_text() -> None:
    text = format_private_key_file(MATERIAL)
    assert text.splitlines() == [
        "# Border Liaison Gateway private key pair. Secret: readable only by the gateway's user.",
        "format: blg-private-key-v1",
        "node: vn-gialai-police",
        "key_id: k20261123",
        f'signing_secret: "ed25519:{SEED_B64}"',
        f'encryption_secret: "x25519:{base64.b64encode(bytes(range(200, 232))).decode()}"',
    ]
    assert SEED_B64 not in repr(MATERIAL)


@pytest.mark.parametrize(
    ("edit", "line", "problem"),
    [
        (
            ("blg-private-key-v1", "blg-private-key-v9"),
            2,
            "unsupported format 'blg-private-key-v9'; expected blg-private-key-v1",
        ),
        (("node: vn-gialai-police", "node: VN"), 3, "node: expected a node id matching"),
        (
            ("key_id: k20261123", "keyid: k20261123"),
            4,
            "unknown key 'keyid'; expected one of: format, node, key_id, signing_secret, "
            "encryption_secret",
        ),
        (
            ('signing_secret: "ed25519:', 'signing_secret: "x25519:'),
            5,
            "signing_secret: an x25519 key where an ed25519 key belongs",
        ),
        (('encryption_secret: "x25519:', "# "), 2, "missing key 'encryption_secret'"),
        (("format:", "format: [x\n"), 4, "invalid YAML: "),
    ],
)
def test_private_key_file_refuses(edit: tuple[str, str], line: int, problem: str) -> None:
    text = format_private_key_file(MATERIAL).replace(*edit)
    with pytest.raises(KeyFileError) as raised:
        parse_private_key_file(text, "/keys/k.key")
    error = raised.value
    assert (error.source, error.line) == ("/keys/k.key", line)
    assert error.problem.startswith(problem)
    assert SEED_B64 not in str(error)


def test_formatting_refuses_what_parsing_would_refuse() -> None:
    with pytest.raises(ValueError, match="node id"):
        format_private_key_file(PrivateKeyMaterial("Bad Node", "k1", SEED, SEED))
    with pytest.raises(ValueError, match="31 bytes"):
        format_private_key_file(PrivateKeyMaterial("vn-x", "k1", SEED[:31], SEED))


def test_public_keys_snippet_pastes_into_a_peer_entry(tmp_path: Path) -> None:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    keys = [
        PeerKeyConfig("k1", KEY, SEED, start, start + timedelta(days=365)),
        PeerKeyConfig("k2", SEED, KEY, start + timedelta(days=300), start + timedelta(days=700)),
    ]
    snippet = format_public_keys_snippet("kh-ratanakiri-police", keys, indent=6)
    assert snippet.splitlines()[1] == "      - id: k1"
    assert "valid_from: 2026-11-23T00:00:00Z" in snippet

    key_file = tmp_path / "k.key"
    key_file.write_text(format_private_key_file(MATERIAL))
    key_file.chmod(0o600)
    config_file = tmp_path / "node.yaml"
    config_file.write_text(
        f"""\
node: {{id: vn-gialai-police, names: {{en: Gia Lai}}, country: VN}}
keys:
  - {{id: k20261123, private_key_file: k.key, valid_from: 2026-11-23T00:00:00Z,
     valid_until: 2027-11-23T00:00:00Z}}
listen:
  federation: {{host: 127.0.0.1, port: 9101, insecure_no_mutual_tls: true}}
  api: {{host: 127.0.0.1, port: 9201}}
peers:
  - id: kh-ratanakiri-police
    names: {{en: Ratanakiri}}
    country: KH
    url: http://127.0.0.1:9103
    send: []
    receive: []
    keys:
{snippet}"""
    )
    config = load_config(config_file, environ={})
    assert config.peers[0].keys == tuple(keys)
    assert config.keys[0].signing_seed == SEED


def test_random_keys_round_trip() -> None:
    raw = os.urandom(32)
    assert parse_public_key(format_key("ed25519", raw), "ed25519") == raw
