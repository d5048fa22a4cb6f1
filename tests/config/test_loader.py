"""load_config on one valid node file and on single-fault variants of it.

Every bad-config test changes one line of VALID_CONFIG and asserts the complete list of issue
lines, so a test also fails when a fault is reported twice or drags a second, derived issue
along. The line numbers in the assertions are those of VALID_CONFIG (see the margin below).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import (
    ConfigError,
    ConfigIssue,
    PrivateKeyMaterial,
    format_private_key_file,
    load_config,
)

SIGNING_SEED = bytes(range(128, 160))
ENCRYPTION_SECRET = bytes(range(160, 192))
SIGNING_SEED_B64 = "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8="
ENCRYPTION_SECRET_B64 = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
DSN = "postgresql://blg:dsn-password@db.internal/blg"
ENV = {"BLG_DATABASE_DSN": DSN}
TOKEN_SHA256 = hashlib.sha256(b"case-system-token").hexdigest()

# Line numbers:  1..7 node, 8..12 keys, 13..21 listen, 22..23 database, 24 state_dir,
# 25..53 peers (peers[0] 26..41, peers[1] 42..53), 54..58 local_clients, 59 retry, 60 limits.
VALID_CONFIG = f"""\
node:
  id: vn-test-police
  names:
    en: "Test Provincial Police"
    vi: "Công an tỉnh Thử"
  country: VN
  province: VN-30
keys:
  - id: k1
    private_key_file: keys/k1.key
    valid_from: 2026-11-23T00:00:00Z
    valid_until: "2027-11-23T07:00:00+07:00"
listen:
  federation:
    host: 0.0.0.0
    port: 9101
    tls:
      cert_file: tls/server.crt
      key_file: tls/server.key
      client_ca_file: tls/ca.crt
  api: {{host: 127.0.0.1, port: 9201}}
database:
  dsn: !env BLG_DATABASE_DSN
state_dir: ../state/vn-test-police
peers:
  - id: kh-test-police
    names: {{en: "Test Police KH", km: "នគរបាល"}}
    country: KH
    url: https://kh.example.org:9443/blg
    tls:
      ca_file: tls/ca.crt
      mutual: true
    keys:
      - id: k20261123
        signing_public_key: "ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        encryption_public_key: "x25519:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
        valid_from: 2026-11-23T00:00:00Z
        valid_until: 2027-11-23T00:00:00Z
    send: [wanted_person_notice, hotline_alert]
    receive: [victim_handover]
    rate_limit: {{requests_per_second: 2.5}}
  - id: vn-local-blo
    names: {{en: "Local BLO"}}
    country: VN
    url: http://127.0.0.1:9102
    keys:
      - id: k1
        signing_public_key: "ed25519:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="
        encryption_public_key: "x25519:YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8="
        valid_from: 2026-11-23T00:00:00Z
        valid_until: 2027-11-23T00:00:00Z
    send: [victim_handover]
    receive: []
local_clients:
  - id: case-system
    token_sha256: "{TOKEN_SHA256}"
    formats: [vn-police-json]
    kinds: [wanted_person_notice]
retry: {{initial_backoff: 500ms, max_backoff: 2h, batch_size: 10}}
limits: {{max_envelope_bytes: 512KiB, max_batch_bytes: 4194304}}
"""


def write_node(
    directory: Path, config: str = VALID_CONFIG, node: str = "vn-test-police", key_id: str = "k1"
) -> Path:
    """Write the config with the files it refers to; return the config file's path."""
    key_file = directory / "keys" / "k1.key"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    material = PrivateKeyMaterial(node, key_id, SIGNING_SEED, ENCRYPTION_SECRET)
    key_file.write_text(format_private_key_file(material))
    key_file.chmod(0o600)
    (directory / "tls").mkdir(exist_ok=True)
    for name in ("server.crt", "server.key", "ca.crt"):
        (directory / "tls" / name).write_text("placeholder\n")
    config_file = directory / "node.yaml"
    config_file.write_text(config)
    return config_file


def edited(old: str, new: str) -> str:
    """VALID_CONFIG with the one occurrence of `old` replaced."""
    assert VALID_CONFIG.count(old) == 1, old
    return VALID_CONFIG.replace(old, new)


def issues(config_file: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(config_file, ENV if environ is None else environ)
    return [str(issue) for issue in raised.value.issues]


def test_valid_config_loads_typed_values(tmp_path: Path) -> None:
    config = load_config(write_node(tmp_path), ENV)

    assert config.config_file == tmp_path / "node.yaml"
    assert config.node.id == "vn-test-police"
    assert config.node.names.in_language("vi") == "Công an tỉnh Thử"
    assert config.node.names.in_language("km") == "Test Provincial Police"
    assert (config.node.country, config.node.province) == ("VN", "VN-30")

    (key,) = config.keys
    assert key.id == "k1"
    assert key.private_key_file == tmp_path / "keys" / "k1.key"
    assert key.valid_from == datetime(2026, 11, 23, tzinfo=UTC)
    # Written with +07:00, stored in UTC.
    assert key.valid_until == datetime(2027, 11, 23, tzinfo=UTC)
    assert key.valid_until.tzinfo is UTC
    assert (key.signing_seed, key.encryption_secret) == (SIGNING_SEED, ENCRYPTION_SECRET)

    federation = config.listen.federation
    assert (federation.host, federation.port) == ("0.0.0.0", 9101)
    assert federation.tls is not None
    assert federation.tls.cert_file == tmp_path / "tls" / "server.crt"
    assert federation.tls.client_ca_file == tmp_path / "tls" / "ca.crt"
    assert (config.listen.api.host, config.listen.api.port) == ("127.0.0.1", 9201)

    assert config.database.dsn == DSN
    # Relative to the config file's directory, normalized, absolute.
    assert config.state_dir == tmp_path.parent / "state" / "vn-test-police"

    kh, blo = config.peers
    assert config.peer("kh-test-police") is kh
    assert kh.url == "https://kh.example.org:9443/blg/"
    assert kh.tls.ca_file == tmp_path / "tls" / "ca.crt"
    assert kh.tls.mutual is True
    assert kh.keys[0].signing_public_key == bytes(range(32))
    assert kh.keys[0].encryption_public_key == bytes(range(32, 64))
    assert kh.send == frozenset({"wanted_person_notice", "hotline_alert"})
    assert kh.receive == frozenset({"victim_handover"})
    assert kh.rate_limit.requests_per_second == 2.5
    assert kh.rate_limit.burst == 50
    assert blo.url == "http://127.0.0.1:9102/"
    assert blo.receive == frozenset()
    assert blo.tls.ca_file is None

    (client,) = config.local_clients
    assert client.token_sha256 == hashlib.sha256(b"case-system-token").digest()
    assert client.formats == ("vn-police-json",)

    assert config.retry.initial_backoff == timedelta(milliseconds=500)
    assert config.retry.max_backoff == timedelta(hours=2)
    assert config.retry.batch_size == 10
    assert config.retry.message_ttl == timedelta(days=7)
    assert config.retention.audit_log == timedelta(days=3650)
    assert config.limits.max_envelope_bytes == 512 * 1024
    assert config.limits.max_batch_bytes == 4 * 1024 * 1024
    assert config.limits.max_clock_skew == timedelta(minutes=5)


def test_minimal_config_takes_defaults(tmp_path: Path) -> None:
    minimal = """\
node: {id: vn-test-police, names: {en: Test}, country: VN}
keys:
  - {id: k1, private_key_file: keys/k1.key, valid_from: 2026-11-23T00:00:00Z,
     valid_until: 2027-11-23T00:00:00Z}
listen: {federation: {host: localhost, port: 9101}, api: {host: 127.0.0.1, port: 9201}}
"""
    config = load_config(write_node(tmp_path, minimal), {})
    assert config.node.province is None
    assert config.database.dsn is None
    assert config.state_dir == tmp_path / "state"
    assert config.listen.federation.tls is None
    assert config.peers == ()
    assert config.local_clients == ()
    assert config.retry.initial_backoff == timedelta(seconds=1)
    assert config.retry.max_backoff == timedelta(minutes=10)
    assert config.retry.batch_size == 100
    assert config.retention.delivered_messages == timedelta(days=90)
    assert config.limits.max_batch_bytes == 16 * 1024 * 1024


def test_secrets_stay_out_of_repr(tmp_path: Path) -> None:
    config = load_config(write_node(tmp_path), ENV)
    assert "k20261123" in repr(config)  # public parts are shown
    for shown in (repr(config), str(config), repr(config.keys[0]), repr(config.database)):
        for secret in (SIGNING_SEED, ENCRYPTION_SECRET):
            assert repr(secret) not in shown
            assert secret.hex() not in shown
        assert SIGNING_SEED_B64 not in shown
        assert ENCRYPTION_SECRET_B64 not in shown
        assert "dsn-password" not in shown


# One fault, one issue line, at the right line.


def test_missing_key_file(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    (tmp_path / "keys" / "k1.key").unlink()
    assert issues(config_file) == [
        f"{config_file}:10: keys[0].private_key_file: key file not found: {tmp_path}/keys/k1.key"
    ]


def test_group_readable_key_file(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    key_file = tmp_path / "keys" / "k1.key"
    key_file.chmod(0o640)
    assert issues(config_file) == [
        f"{config_file}:10: keys[0].private_key_file: "
        f"key file {key_file} is readable by others; run chmod 600 {key_file}"
    ]


def test_key_file_of_another_node(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, node="kh-test-police")
    key_file = tmp_path / "keys" / "k1.key"
    assert issues(config_file) == [
        f"{config_file}:10: keys[0].private_key_file: key file {key_file} belongs to node "
        "'kh-test-police'; expected node 'vn-test-police'"
    ]


def test_key_file_with_another_key_id(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, key_id="k2")
    key_file = tmp_path / "keys" / "k1.key"
    assert issues(config_file) == [
        f"{config_file}:10: keys[0].private_key_file: key file {key_file} holds key 'k2'; "
        "expected key 'k1'"
    ]


def test_malformed_key_file_names_its_line_without_the_secret(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    key_file = tmp_path / "keys" / "k1.key"
    broken = key_file.read_text().replace(SIGNING_SEED_B64, SIGNING_SEED_B64[:-4] + "!!!=")
    key_file.write_text(broken)
    (line,) = issues(config_file)
    assert line.startswith(
        f"{config_file}:10: keys[0].private_key_file: invalid key file {key_file}, line 5: "
        "signing_secret: invalid base64 after 'ed25519:'"
    )
    assert SIGNING_SEED_B64[:-4] not in line


def test_unknown_peer_key_format(tmp_path: Path) -> None:
    config = edited(
        '"ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="', '"rsa:AAAAB3NzaC1yc2E="'
    )
    config_file = write_node(tmp_path, config)
    assert issues(config_file) == [
        f"{config_file}:35: peers[0].keys[0].signing_public_key: "
        "unknown key format 'rsa'; expected ed25519:<base64>"
    ]


def test_signing_key_in_the_encryption_field(tmp_path: Path) -> None:
    config = edited(
        '"x25519:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="',
        '"ed25519:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="',
    )
    config_file = write_node(tmp_path, config)
    assert issues(config_file) == [
        f"{config_file}:36: peers[0].keys[0].encryption_public_key: "
        "an ed25519 key where an x25519 key belongs"
    ]


def test_wrong_type(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("    port: 9101\n", '    port: "abc"\n'))
    assert issues(config_file) == [
        f"{config_file}:16: listen.federation.port: expected an integer, got 'abc'"
    ]


def test_port_out_of_range(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("port: 9201", "port: 70000"))
    assert issues(config_file) == [
        f"{config_file}:21: listen.api.port: expected a port number from 1 to 65535, got 70000"
    ]


def test_typo_in_a_required_key_is_one_issue(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("    port: 9101\n", "    prot: 9101\n"))
    assert issues(config_file) == [
        f"{config_file}:16: listen.federation.prot: unknown key 'prot' (did you mean 'port'?); "
        "expected one of: host, port, tls"
    ]


def test_unknown_key_in_an_optional_section(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("{requests_per_second: 2.5}", "{burts: 5}"))
    assert issues(config_file) == [
        f"{config_file}:41: peers[0].rate_limit.burts: unknown key 'burts' "
        "(did you mean 'burst'?); expected one of: requests_per_second, burst"
    ]


def test_missing_required_key_is_reported_at_the_parent(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("    port: 9101\n", "    # no port\n"))
    assert issues(config_file) == [
        f"{config_file}:14: listen.federation: missing required key 'port'"
    ]


def test_missing_top_level_section(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, VALID_CONFIG.replace("node:\n", "# node:\nnod:\n", 1))
    # The root mapping starts at line 2 once a comment line is put in front of it.
    assert issues(config_file) == [
        f"{config_file}:2: nod: unknown key 'nod' (did you mean 'node'?); expected one of: "
        "node, keys, listen, database, state_dir, peers, local_clients, retry, retention, limits"
    ]


def test_invalid_kind_lists_the_allowed_ones(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("receive: [victim_handover]", "receive: [fax]"))
    assert issues(config_file) == [
        f"{config_file}:40: peers[0].receive[0]: expected one of: "
        "wanted_person_notice, victim_handover, hotline_alert, got 'fax'"
    ]


def test_naive_timestamp(tmp_path: Path) -> None:
    config = edited(
        'valid_from: 2026-11-23T00:00:00Z\n    valid_until: "',
        'valid_from: 2026-11-23T00:00:00\n    valid_until: "',
    )
    config_file = write_node(tmp_path, config)
    assert issues(config_file) == [
        f"{config_file}:11: keys[0].valid_from: expected a date and time with a zone, such as "
        "2026-11-23T00:00:00Z or 2026-11-23T07:00:00+07:00, got 2026-11-23T00:00:00"
    ]


def test_valid_until_before_valid_from(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited('valid_until: "2027-11-23T07:00:00+07:00"', "valid_until: 2026-01-01")
    )
    # A date alone is no instant either, so it is the date that is reported first ...
    assert issues(config_file) == [
        f"{config_file}:12: keys[0].valid_until: expected a date and time with a zone, such as "
        "2026-11-23T00:00:00Z or 2026-11-23T07:00:00+07:00, got 2026-01-01"
    ]
    config_file = write_node(
        tmp_path,
        edited('valid_until: "2027-11-23T07:00:00+07:00"', "valid_until: 2026-01-01T00:00:00Z"),
    )
    # ... and a well-formed but earlier instant is then the only issue.
    assert issues(config_file) == [
        f"{config_file}:12: keys[0].valid_until: expected a time after valid_from "
        "(2026-11-23T00:00:00Z), got 2026-01-01T00:00:00Z"
    ]


def test_unset_environment_variable(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    assert issues(config_file, environ={}) == [
        f"{config_file}:23: database.dsn: environment variable BLG_DATABASE_DSN is not set"
    ]


def test_bad_environment_value_is_not_echoed(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    environ = {"BLG_DATABASE_DSN": "mysql://blg:hunter2@db/blg"}
    assert issues(config_file, environ=environ) == [
        f"{config_file}:23: database.dsn: "
        "expected a PostgreSQL DSN starting with postgresql:// or postgres://"
    ]


def test_environment_values_are_typed_like_yaml(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("port: 9201", "port: !env API_PORT"))
    config = load_config(config_file, {**ENV, "API_PORT": "9333"})
    assert config.listen.api.port == 9333
    assert issues(config_file, {**ENV, "API_PORT": "secret-ish"}) == [
        f"{config_file}:21: listen.api.port: expected an integer, "
        "got the value of environment variable API_PORT"
    ]


def test_duplicate_peer_id(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("  - id: vn-local-blo", "  - id: kh-test-police"))
    assert issues(config_file) == [
        f"{config_file}:42: peers[1].id: duplicate id 'kh-test-police': peers[0] already has "
        "it; expected each id to be unique"
    ]


def test_peer_with_the_nodes_own_id(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("  - id: vn-local-blo", "  - id: vn-test-police"))
    assert issues(config_file) == [
        f"{config_file}:42: peers[1].id: expected the id of another node, got this node's own "
        "id 'vn-test-police'"
    ]


def test_http_url_to_a_remote_host(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("url: http://127.0.0.1:9102", "url: http://10.1.2.3:9102")
    )
    assert issues(config_file) == [
        f"{config_file}:45: peers[1].url: expected an https:// URL (http:// is allowed only "
        "for loopback hosts (127.0.0.1, ::1, localhost)), got 'http://10.1.2.3:9102'"
    ]


def test_url_with_another_scheme(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("url: http://127.0.0.1:9102", "url: ftp://x"))
    assert issues(config_file) == [
        f"{config_file}:45: peers[1].url: expected an https:// or http:// URL, got 'ftp://x'"
    ]


def test_plain_http_listener_on_a_remote_interface(tmp_path: Path) -> None:
    config = edited(
        "    tls:\n      cert_file: tls/server.crt\n      key_file: tls/server.key\n"
        "      client_ca_file: tls/ca.crt\n",
        "\n\n\n\n",
    ).replace("      mutual: true\n", "      mutual: false\n")
    config_file = write_node(tmp_path, config)
    assert issues(config_file) == [
        f"{config_file}:15: listen.federation.host: expected one of the loopback hosts "
        "(127.0.0.1, ::1, localhost) when there is no tls section, got '0.0.0.0'; add tls "
        "(cert_file, key_file) to serve HTTPS on other hosts"
    ]


def test_mutual_tls_needs_a_client_ca(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("      client_ca_file: tls/ca.crt\n", "\n"))
    assert issues(config_file) == [
        f"{config_file}:32: peers[0].tls.mutual: expected listen.federation.tls.client_ca_file "
        "to be set: it verifies the client certificate that mutual: true requires from this peer"
    ]


def test_client_certificate_without_its_key(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("      ca_file: tls/ca.crt\n", "      client_cert_file: tls/ca.crt\n")
    )
    assert issues(config_file) == [
        f"{config_file}:31: peers[0].tls.client_cert_file: expected client_key_file too: a "
        "client certificate and its key come together"
    ]


def test_missing_tls_file(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    (tmp_path / "tls" / "server.key").unlink()
    assert issues(config_file) == [
        f"{config_file}:19: listen.federation.tls.key_file: "
        f"file not found: {tmp_path}/tls/server.key"
    ]


def test_duplicate_mapping_key(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("    port: 9101\n", "    port: 9101\n    port: 1\n"))
    assert issues(config_file) == [
        f"{config_file}:17: listen.federation.port: duplicate key 'port'; it is already set at "
        "line 16"
    ]


def test_unknown_tag(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("dsn: !env BLG_DATABASE_DSN", "dsn: !ENV X"))
    assert issues(config_file) == [
        f"{config_file}:23: database.dsn: unknown tag '!ENV'; expected !env or no tag"
    ]


def test_token_is_never_echoed(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited(TOKEN_SHA256, "case-system-token"))
    (line,) = issues(config_file)
    assert "case-system-token" not in line
    assert line.startswith(f"{config_file}:56: local_clients[0].token_sha256: expected the ")


def test_retry_bounds(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("max_backoff: 2h", "max_backoff: 100ms"))
    assert issues(config_file) == [
        f"{config_file}:59: retry.max_backoff: expected at least initial_backoff (500ms), got 100ms"
    ]


def test_all_independent_issues_are_collected_in_file_order(tmp_path: Path) -> None:
    config = (
        edited("  country: VN\n  province", "  country: vn\n  province")
        .replace("url: http://127.0.0.1:9102", "url: ftp://x")
        .replace("    port: 9101\n", '    port: "abc"\n')
    )
    config_file = write_node(tmp_path, config)
    (tmp_path / "keys" / "k1.key").unlink()
    assert [line.split(": ")[0] for line in issues(config_file)] == [
        f"{config_file}:6",
        f"{config_file}:10",
        f"{config_file}:16",
        f"{config_file}:45",
    ]


def test_yaml_syntax_error_is_an_issue_with_its_line(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("  country: VN\n  province", "  country: [VN\n  province")
    )
    (line,) = issues(config_file)
    assert line.startswith(f"{config_file}:7: invalid YAML: ")


def test_missing_and_empty_config_files(tmp_path: Path) -> None:
    assert issues(tmp_path / "absent.yaml") == [f"{tmp_path}/absent.yaml: config file not found"]
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert issues(empty) == [
        f"{empty}:1: the file is empty; expected a mapping with node, keys, listen, peers, ..."
    ]


def test_issue_formats_as_one_line() -> None:
    issue = ConfigIssue("config/vn.yaml", 12, "peers[0].url", "expected an https URL")
    assert str(issue) == "config/vn.yaml:12: peers[0].url: expected an https URL"
    assert str(ConfigIssue("x.yaml", 3, "", "invalid YAML: oops")) == "x.yaml:3: invalid YAML: oops"
    assert str(ConfigIssue("x.yaml", 0, "", "config file not found")) == (
        "x.yaml: config file not found"
    )
    error = ConfigError([ConfigIssue("x.yaml", 9, "b", "m2"), ConfigIssue("x.yaml", 2, "a", "m1")])
    assert str(error) == "x.yaml:2: a: m1\nx.yaml:9: b: m2"


def test_control_character_is_an_issue_with_its_line(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("  country: VN\n  province", "  country: V\x07N\n  province")
    )
    assert issues(config_file) == [
        f"{config_file}:6: invalid YAML: character #x0007 is not allowed in YAML text"
    ]
