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
    KINDS,
    ConfigError,
    ConfigIssue,
    DropFolderDelivery,
    Kind,
    OutgoingFolder,
    PrivateKeyMaterial,
    RoutingRule,
    WebhookDelivery,
    format_private_key_file,
    load_config,
)

SIGNING_SEED = bytes(range(128, 160))
ENCRYPTION_SECRET = bytes(range(160, 192))
SIGNING_SEED_B64 = "gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8="
ENCRYPTION_SECRET_B64 = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
DSN = "postgresql://blg:dsn-password@db.internal/blg"
HMAC_SECRET = "hmac-secret-Zm9vYmFyYmF6cXV4cXV1eA"
ENV = {"BLG_DATABASE_DSN": DSN, "CASE_SYSTEM_HMAC": HMAC_SECRET}
TOKEN_SHA256 = hashlib.sha256(b"case-system-token").hexdigest()
RECORDS_TOKEN_SHA256 = hashlib.sha256(b"records-token").hexdigest()

# Line numbers:  1..7 node, 8..12 keys, 13..21 listen, 22..23 database, 24 state_dir,
# 25..54 peers (peers[0] 26..41, peers[1] 42..54), 55..73 local_clients (local_clients[0]
# 56..63, local_clients[1] 64..73), 74..80 routing, 81 retry, 82 limits.
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
    redact: [victim_handover.escort, wanted_person_notice.subject.identity_documents]
local_clients:
  - id: case-system
    token_sha256: "{TOKEN_SHA256}"
    formats: [vn-police-json]
    kinds: [wanted_person_notice]
    delivery:
      type: webhook
      url: https://case.test.local/blg-inbox
      hmac_secret: !env CASE_SYSTEM_HMAC
  - id: records
    token_sha256: "{RECORDS_TOKEN_SHA256}"
    formats: [kh-police-xml, hotline-111-csv]
    kinds: [hotline_alert, victim_handover]
    delivery: {{type: drop_folder, path: spool/in, format: kh-police-xml}}
    outgoing_folder:
      path: spool/out
      format: hotline-111-csv
      to: [kh-test-police]
      poll_interval: 500ms
routing:
  - kinds: [hotline_alert]
    provinces: [KH-16, KH]
    to:
      - kh-test-police
  - kinds: [victim_handover]
    to: [vn-local-blo]
retry: {{initial_backoff: 500ms, max_backoff: 2h, batch_size: 10}}
limits: {{max_attachment_bytes: 20MiB, max_envelope_bytes: 512KiB, max_batch_bytes: 4194304}}
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
    (directory / "tls" / "server.key").chmod(0o600)
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
    assert kh.rate_limit.burst == 200
    assert blo.url == "http://127.0.0.1:9102/"
    assert blo.receive == frozenset()
    assert blo.tls.ca_file is None

    assert kh.redact == ()
    assert blo.redact == (
        "victim_handover.escort",
        "wanted_person_notice.subject.identity_documents",
    )

    case_system, records = config.local_clients
    assert case_system.token_sha256 == hashlib.sha256(b"case-system-token").digest()
    assert case_system.formats == ("vn-police-json",)
    # The URL names one endpoint: kept as written, no "/" added. The format defaults to the
    # client's first.
    assert case_system.delivery == WebhookDelivery(
        url="https://case.test.local/blg-inbox",
        hmac_secret=HMAC_SECRET.encode(),
        format="vn-police-json",
    )
    assert case_system.outgoing_folder is None
    # Folders need not exist yet; relative to the config file's directory.
    assert not (tmp_path / "spool").exists()
    assert isinstance(records.delivery, DropFolderDelivery)
    assert records.delivery == DropFolderDelivery(tmp_path / "spool" / "in", "kh-police-xml")
    assert records.outgoing_folder == OutgoingFolder(
        path=tmp_path / "spool" / "out",
        format="hotline-111-csv",
        to=("kh-test-police",),
        poll_interval=timedelta(milliseconds=500),
    )

    assert config.routing == (
        RoutingRule(
            kinds=frozenset({Kind.HOTLINE_ALERT}), provinces=("KH-16", "KH"), to=("kh-test-police",)
        ),
        RoutingRule(kinds=frozenset({Kind.VICTIM_HANDOVER}), provinces=(), to=("vn-local-blo",)),
    )

    assert config.retry.initial_backoff == timedelta(milliseconds=500)
    assert config.retry.max_backoff == timedelta(hours=2)
    assert config.retry.batch_size == 10
    assert config.retry.message_ttl == timedelta(days=7)
    assert config.retention.audit_log == timedelta(days=3650)
    assert config.limits.max_envelope_bytes == 512 * 1024
    assert config.limits.max_batch_bytes == 4 * 1024 * 1024
    assert config.limits.max_clock_skew == timedelta(minutes=5)
    assert config.limits.max_attachment_bytes == 20 * 1024 * 1024


def test_minimal_config_takes_defaults(tmp_path: Path) -> None:
    minimal = """\
node: {id: vn-test-police, names: {en: Test}, country: VN}
keys:
  - {id: k1, private_key_file: keys/k1.key, valid_from: 2026-11-23T00:00:00Z,
     valid_until: 2027-11-23T00:00:00Z}
listen:
  federation: {host: localhost, port: 9101, insecure_no_mutual_tls: true}
  api: {host: 127.0.0.1, port: 9201}
"""
    config = load_config(write_node(tmp_path, minimal), {})
    assert config.node.province is None
    assert config.database.dsn is None
    assert config.state_dir == tmp_path / "state"
    assert config.listen.federation.tls is None
    assert config.peers == ()
    assert config.local_clients == ()
    assert config.routing == ()
    assert config.retry.initial_backoff == timedelta(seconds=1)
    assert config.retry.max_backoff == timedelta(minutes=10)
    assert config.retry.batch_size == 100
    assert config.retention.content.normal == timedelta(days=90)
    assert config.limits.max_batch_bytes == 16 * 1024 * 1024
    assert config.limits.max_envelopes_per_batch == config.retry.batch_size == 100
    assert config.limits.max_attachment_bytes == 100 * 1024 * 1024


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
    delivery = config.local_clients[0].delivery
    assert isinstance(delivery, WebhookDelivery)
    assert delivery.hmac_secret == HMAC_SECRET.encode()
    for shown in (repr(config), str(config), repr(config.local_clients[0]), repr(delivery)):
        assert "https://case.test.local/blg-inbox" in shown
        assert HMAC_SECRET not in shown
        assert "Zm9vYmFy" not in shown


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
        "expected one of: host, port, tls, insecure_no_mutual_tls"
    ]


def test_unknown_key_in_an_optional_section(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("{requests_per_second: 2.5}", "{burts: 5}"))
    assert issues(config_file) == [
        f"{config_file}:41: peers[0].rate_limit.burts: unknown key 'burts' "
        "(did you mean 'burst'?); expected one of: requests_per_second, burst, "
        "envelopes_per_second, envelope_burst"
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
        "node, keys, listen, database, state_dir, limits, peers, local_clients, routing, "
        "retry, retention, console, logging, acknowledgements, audit"
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
    assert issues(config_file, environ={"CASE_SYSTEM_HMAC": HMAC_SECRET}) == [
        f"{config_file}:23: database.dsn: environment variable BLG_DATABASE_DSN is not set"
    ]


def test_bad_environment_value_is_not_echoed(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    environ = {**ENV, "BLG_DATABASE_DSN": "mysql://blg:hunter2@db/blg"}
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
        "(cert_file, key_file, client_ca_file) to serve HTTPS on other hosts"
    ]


def test_mutual_tls_needs_a_client_ca(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("      client_ca_file: tls/ca.crt\n", "\n"))
    assert issues(config_file) == [
        f"{config_file}:17: listen.federation.tls: expected client_ca_file: it verifies the "
        "client certificates that identify peers (or set "
        "listen.federation.insecure_no_mutual_tls: true, loopback only)"
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
    assert line.startswith(f"{config_file}:57: local_clients[0].token_sha256: expected the ")


def test_retry_bounds(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("max_backoff: 2h", "max_backoff: 100ms"))
    assert issues(config_file) == [
        f"{config_file}:81: retry.max_backoff: expected at least initial_backoff (500ms), got 100ms"
    ]


@pytest.mark.parametrize(
    ("old", "new", "issue"),
    [
        (
            "batch_size: 10}",
            "batch_size: 101}",
            "81: retry.batch_size: expected at most limits.max_envelopes_per_batch (100), got 101",
        ),
        (
            "max_batch_bytes: 4194304}",
            "max_batch_bytes: 4194304, max_envelopes_per_batch: 5}",
            "81: retry.batch_size: expected at most limits.max_envelopes_per_batch (5), got 10",
        ),
        (
            "rate_limit: {requests_per_second: 2.5}",
            "rate_limit: {requests_per_second: 2.5, envelope_burst: 99}",
            "41: peers[0].rate_limit.envelope_burst: expected at least "
            "limits.max_envelopes_per_batch (100), got 99",
        ),
        (
            "max_batch_bytes: 4194304}",
            "max_batch_bytes: 4194304, max_envelopes_per_batch: 0}",
            "82: limits.max_envelopes_per_batch: expected an integer from 1 to 10000, got 0",
        ),
    ],
)
def test_envelope_count_limits_bound_batches_and_buckets(
    tmp_path: Path, old: str, new: str, issue: str
) -> None:
    config_file = write_node(tmp_path, edited(old, new))
    assert issues(config_file) == [f"{config_file}:{issue}"]


def test_envelope_rate_limit_is_read_per_peer(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path,
        edited(
            "rate_limit: {requests_per_second: 2.5}",
            "rate_limit: {requests_per_second: 2.5, envelopes_per_second: 50, envelope_burst: 300}",
        ),
    )
    config = load_config(config_file, ENV)
    kh, blo = config.peers
    assert (kh.rate_limit.envelopes_per_second, kh.rate_limit.envelope_burst) == (50.0, 300)
    assert (blo.rate_limit.envelopes_per_second, blo.rate_limit.envelope_burst) == (2000.0, 4000)


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


# Routing, redactions, deliveries and outgoing folders: one fault, one issue each.


def test_new_sections_take_their_defaults(tmp_path: Path) -> None:
    config = edited(
        "    send: [wanted_person_notice, hotline_alert]\n",
        "    send: [wanted_person_notice, hotline_alert, victim_handover]\n",
    )
    config = config.replace(
        "  - kinds: [victim_handover]\n    to: [vn-local-blo]\n", "  - to: [kh-test-police]\n"
    )
    config = config.replace("      to: [kh-test-police]\n      poll_interval: 500ms\n", "")
    config = config.replace("path: spool/in, format: kh-police-xml}", "path: spool/in}")
    loaded = load_config(write_node(tmp_path, config), ENV)
    # A rule without kinds routes every kind, one without provinces any place.
    assert loaded.routing[1] == RoutingRule(frozenset(KINDS), (), ("kh-test-police",))
    records = loaded.local_clients[1]
    assert records.outgoing_folder is not None
    assert records.outgoing_folder.to == ()
    assert records.outgoing_folder.poll_interval == timedelta(seconds=2)
    assert records.delivery == DropFolderDelivery(tmp_path / "spool" / "in", "kh-police-xml")


def test_routing_to_an_unknown_peer(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("      - kh-test-police\n", "      - kh-tset-police\n")
    )
    assert issues(config_file) == [
        f"{config_file}:78: routing[0].to[0]: unknown peer 'kh-tset-police'; expected one of "
        "the configured peers: kh-test-police, vn-local-blo"
    ]


def test_routing_a_kind_the_peer_does_not_accept(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("to: [vn-local-blo]", "to: [vn-local-blo, kh-test-police]")
    )
    assert issues(config_file) == [
        f"{config_file}:80: routing[1].to[1]: kh-test-police does not accept victim_handover "
        "from this node: add it to the peer's send list or remove it from this rule's kinds"
    ]


def test_routing_every_kind_to_a_peer_that_accepts_some(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("  - kinds: [victim_handover]\n", "  - provinces: [VN]\n")
    )
    assert issues(config_file) == [
        f"{config_file}:80: routing[1].to[0]: vn-local-blo does not accept "
        "wanted_person_notice, hotline_alert from this node, and a rule without kinds routes "
        "every kind: add them to the peer's send list or give this rule kinds"
    ]


def test_routing_province_must_be_a_subdivision_or_country_code(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("[KH-16, KH]", "[KH-16, Ratanakiri]"))
    assert issues(config_file) == [
        f"{config_file}:76: routing[0].provinces[1]: expected an ISO 3166-2 subdivision code "
        "such as KH-16 or a country code such as KH, got 'Ratanakiri'"
    ]


def test_routing_rule_needs_recipients(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("    to:\n      - kh-test-police\n", ""))
    assert issues(config_file) == [f"{config_file}:75: routing[0]: missing required key 'to'"]
    config_file = write_node(tmp_path, edited("to: [vn-local-blo]", "to: []"))
    assert issues(config_file) == [
        f"{config_file}:80: routing[1].to: expected at least one peer id, got an empty list"
    ]


def test_routing_kinds_may_not_be_an_empty_list(tmp_path: Path) -> None:
    # Absent means every kind; an empty list would read as the opposite, so it is refused.
    config_file = write_node(tmp_path, edited("  - kinds: [hotline_alert]\n", "  - kinds: []\n"))
    assert issues(config_file) == [
        f"{config_file}:75: routing[0].kinds: expected at least one message kind, got an empty list"
    ]


def test_routing_with_an_unknown_kind(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("  - kinds: [hotline_alert]\n", "  - kinds: [fax]\n"))
    assert issues(config_file) == [
        f"{config_file}:75: routing[0].kinds[0]: expected one of: "
        "wanted_person_notice, victim_handover, hotline_alert, got 'fax'"
    ]


@pytest.mark.parametrize(
    "field_path",
    [
        "hotline_alert.caller",
        "hotline_alert.caller.phone",
        "hotline_alert.persons.person.name",
        "hotline_alert.received_at",
        "victim_handover.escort",
        "victim_handover.victims.accompanying_children",
        "wanted_person_notice.subject.identity_documents",
        "wanted_person_notice.subject.identity_documents.number",
    ],
)
def test_redaction_paths_that_exist(tmp_path: Path, field_path: str) -> None:
    config_file = write_node(
        tmp_path, edited("redact: [victim_handover.escort,", f"redact: [{field_path},")
    )
    assert load_config(config_file, ENV).peers[1].redact[0] == field_path


def test_redaction_path_with_an_unknown_field(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("[victim_handover.escort,", "[victim_handover.escrot,")
    )
    assert issues(config_file) == [
        f"{config_file}:54: peers[1].redact[0]: unknown field 'escrot' in victim_handover.escrot; "
        "expected a field of victim_handover: victims, border_gate, planned_at, escort, note, "
        "attachment_ids"
    ]


def test_redaction_path_with_an_unknown_body(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("[victim_handover.escort,", "[handover.escort,"))
    assert issues(config_file) == [
        f"{config_file}:54: peers[1].redact[0]: unknown field 'handover' in handover.escort; "
        "expected a body field of blg.v1.Message: wanted_person_notice, victim_handover, "
        "hotline_alert"
    ]


def test_redaction_path_with_an_unknown_field_further_down(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("subject.identity_documents]", "subject.identity_document.number]")
    )
    assert issues(config_file) == [
        f"{config_file}:54: peers[1].redact[1]: unknown field 'identity_document' in "
        "wanted_person_notice.subject.identity_document.number; expected a field of "
        "wanted_person_notice.subject: name, name_latin, aliases, sex, birth_date, birth_place, "
        "nationality, identity_documents, ethnicity, description, attachment_ids"
    ]


def test_redaction_path_below_a_leaf(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("subject.identity_documents]", "subject.name.first]"))
    assert issues(config_file) == [
        f"{config_file}:54: peers[1].redact[1]: unknown field 'first' in "
        "wanted_person_notice.subject.name.first: wanted_person_notice.subject.name has no "
        "fields; expected the path to end there"
    ]


def test_redaction_of_a_whole_body(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("[victim_handover.escort,", "[victim_handover,"))
    assert issues(config_file) == [
        f"{config_file}:54: peers[1].redact[0]: expected a field inside victim_handover, such "
        "as victim_handover.victims: to send no victim_handover to this peer, leave it out of "
        "the peer's send list"
    ]


def test_redaction_path_with_an_empty_segment(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("[victim_handover.escort,", "[victim_handover..escort,")
    )
    assert issues(config_file) == [
        f"{config_file}:54: peers[1].redact[0]: expected a canonical field path such as "
        "hotline_alert.caller (field names joined by single dots), got 'victim_handover..escort'"
    ]


def test_unknown_delivery_type_lists_the_known_ones(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("type: webhook", "type: email"))
    # The webhook keys next to it are not reported too: with no type, no shape is known.
    assert issues(config_file) == [
        f"{config_file}:61: local_clients[0].delivery.type: expected one of: "
        "webhook, drop_folder, got 'email'"
    ]


def test_missing_delivery_type(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("      type: webhook\n", ""))
    assert issues(config_file) == [
        f"{config_file}:60: local_clients[0].delivery: missing required key 'type'"
    ]


def test_key_of_another_delivery_type(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("      type: webhook\n", "      type: webhook\n      path: spool/x\n")
    )
    assert issues(config_file) == [
        f"{config_file}:62: local_clients[0].delivery.path: unknown key 'path'; "
        "expected one of: type, url, hmac_secret, format"
    ]
    config_file = write_node(
        tmp_path, edited("path: spool/in, format", "path: spool/in, url: https://x.test/, format")
    )
    assert issues(config_file) == [
        f"{config_file}:68: local_clients[1].delivery.url: unknown key 'url'; "
        "expected one of: type, path, format"
    ]


def test_webhook_needs_its_secret(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("      hmac_secret: !env CASE_SYSTEM_HMAC\n", ""))
    assert issues(config_file) == [
        f"{config_file}:60: local_clients[0].delivery: missing required key 'hmac_secret'"
    ]


def test_webhook_over_http_to_a_remote_host(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("url: https://case.test.local/", "url: http://case.test.local/")
    )
    assert issues(config_file) == [
        f"{config_file}:62: local_clients[0].delivery.url: expected an https:// URL (http:// "
        "is allowed only for loopback hosts (127.0.0.1, ::1, localhost)), "
        "got 'http://case.test.local/blg-inbox'"
    ]


def test_webhook_over_http_to_loopback(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("url: https://case.test.local/", "url: http://127.0.0.1:9301/")
    )
    delivery = load_config(config_file, ENV).local_clients[0].delivery
    assert isinstance(delivery, WebhookDelivery)
    assert delivery.url == "http://127.0.0.1:9301/blg-inbox"


def test_short_hmac_secret_is_refused_without_echo(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    assert issues(config_file, {**ENV, "CASE_SYSTEM_HMAC": "short-secret"}) == [
        f"{config_file}:63: local_clients[0].delivery.hmac_secret: expected a secret of at "
        "least 32 characters, such as the output of `openssl rand -base64 32`, got 12 characters"
    ]
    config_file = write_node(tmp_path, edited("!env CASE_SYSTEM_HMAC", "short-secret"))
    (line,) = issues(config_file)
    assert "short-secret" not in line
    assert line.startswith(f"{config_file}:63: local_clients[0].delivery.hmac_secret: ")


def test_hmac_secret_never_appears_in_an_issue(tmp_path: Path) -> None:
    literal = edited("!env CASE_SYSTEM_HMAC", f'"{HMAC_SECRET}"')
    assert load_config(write_node(tmp_path, literal), ENV).local_clients[0].delivery is not None
    faults = [
        literal.replace("type: webhook", "type: email"),
        literal.replace("type: webhook", "type: drop_folder"),
        literal.replace("url: https://case.test.local/", "url: ftp://case.test.local/"),
        literal.replace("[vn-police-json]", "[vn-police-json]\n    kinds: []"),
        literal.replace("formats: [vn-police-json]", "formats: [Bad Format]"),
        literal.replace(f'"{HMAC_SECRET}"', f'"{HMAC_SECRET}"\n      hmac_secret: "{HMAC_SECRET}"'),
        literal.replace(f'"{HMAC_SECRET}"', f"[{HMAC_SECRET}]"),
    ]
    for fault in faults:
        found = issues(write_node(tmp_path, fault))
        assert found
        for line in found:
            assert HMAC_SECRET not in line
            assert "Zm9vYmFy" not in line
    # From the environment, a value that does not fit is not echoed either.
    found = issues(write_node(tmp_path, edited("type: webhook", "type: !env CASE_SYSTEM_HMAC")))
    assert found == [
        f"{tmp_path}/node.yaml:61: local_clients[0].delivery.type: expected one of: webhook, "
        "drop_folder, got the value of environment variable CASE_SYSTEM_HMAC"
    ]


def test_delivery_format_must_be_one_of_the_clients(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("format: kh-police-xml}", "format: vn-police-json}"))
    assert issues(config_file) == [
        f"{config_file}:68: local_clients[1].delivery.format: expected one of this client's "
        "formats (kh-police-xml, hotline-111-csv), got 'vn-police-json'"
    ]


def test_outgoing_folder_format_must_be_one_of_the_clients(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("      format: hotline-111-csv\n", "      format: vn-police-json\n")
    )
    assert issues(config_file) == [
        f"{config_file}:71: local_clients[1].outgoing_folder.format: expected one of this "
        "client's formats (kh-police-xml, hotline-111-csv), got 'vn-police-json'"
    ]


def test_outgoing_folder_needs_a_format(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("      format: hotline-111-csv\n", ""))
    assert issues(config_file) == [
        f"{config_file}:69: local_clients[1].outgoing_folder: missing required key 'format'"
    ]


def test_outgoing_folder_to_an_unknown_peer(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("to: [kh-test-police]", "to: [kh-nowhere]"))
    assert issues(config_file) == [
        f"{config_file}:72: local_clients[1].outgoing_folder.to[0]: unknown peer 'kh-nowhere'; "
        "expected one of the configured peers: kh-test-police, vn-local-blo"
    ]


def test_outgoing_folder_poll_interval_is_a_duration(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, edited("poll_interval: 500ms", "poll_interval: 2"))
    assert issues(config_file) == [
        f"{config_file}:73: local_clients[1].outgoing_folder.poll_interval: expected a duration "
        "such as 500ms, 30s, 10m, 2h or 7d, got 2"
    ]


def test_folder_that_is_a_file(tmp_path: Path) -> None:
    config_file = write_node(tmp_path)
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "out").mkdir()  # an existing directory is fine
    (tmp_path / "spool" / "in").write_text("not a directory\n")
    assert issues(config_file) == [
        f"{config_file}:68: local_clients[1].delivery.path: expected a directory, "
        f"{tmp_path}/spool/in exists and is not a directory"
    ]


def test_one_folder_for_two_purposes(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, edited("      path: spool/out\n", "      path: ./spool/in\n")
    )
    assert issues(config_file) == [
        f"{config_file}:70: local_clients[1].outgoing_folder.path: expected a directory of its "
        f"own, got {tmp_path}/spool/in, which local_clients[1].delivery.path at line 68 already "
        "uses"
    ]


def test_routing_is_not_judged_when_peers_are_broken(tmp_path: Path) -> None:
    # The peer that failed is reported; the rules and folders naming it are not, a second time.
    config_file = write_node(tmp_path, edited("    country: KH\n", "    country: Cambodia\n"))
    assert issues(config_file) == [
        f"{config_file}:28: peers[0].country: expected an ISO 3166-1 alpha-2 country code in "
        "upper case, such as VN or KH, got 'Cambodia'"
    ]


def test_the_console_owner_id_is_refused_as_a_local_client(tmp_path: Path) -> None:
    # Files officers attach in the console are staged as client "console": a configured client
    # of that id could name them in its own messages.
    config_file = write_node(tmp_path, edited("  - id: case-system\n", "  - id: console\n"))
    assert issues(config_file) == [
        f"{config_file}:56: local_clients[0].id: expected a client id other than console "
        "(reserved), got 'console'"
    ]
