"""config check on listeners and peer identity: every way to leave a listener open to
anyone, or a key readable by others, is refused with one FILE:LINE issue.

Each case edits VALID_CONFIG of test_loader (a mutual-TLS federation listener on 0.0.0.0, a
loopback API) and keeps its line numbers: inserted keys go where a line is removed, or after
the lines the expectations count.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.config import load_config
from tests.config.test_loader import ENV, VALID_CONFIG, issues, write_node

LOOPBACK_HOSTS = "loopback hosts (127.0.0.1, ::1, localhost)"
TLS_BLOCK = (
    "    tls:\n      cert_file: tls/server.crt\n      key_file: tls/server.key\n"
    "      client_ca_file: tls/ca.crt\n"
)


def _edit(*pairs: tuple[str, str]) -> str:
    config = VALID_CONFIG
    for old, new in pairs:
        assert config.count(old) == 1, old
        config = config.replace(old, new)
    return config


def _no_change(_directory: Path) -> None:
    pass


def _group_readable(name: str) -> Callable[[Path], None]:
    def loosen(directory: Path) -> None:
        (directory / "tls" / name).chmod(0o640)

    return loosen


CASES = {
    "mutual TLS waived on a public address": (
        _edit(("    port: 9101\n", "    port: 9101\n    insecure_no_mutual_tls: true\n")),
        _no_change,
        "17: listen.federation.insecure_no_mutual_tls: expected false on '0.0.0.0': mutual TLS "
        f"may be waived on {LOOPBACK_HOSTS} only; set tls.client_ca_file to the CA of the "
        "peers' client certificates",
    ),
    "no client CA and no waiver": (
        _edit(("      client_ca_file: tls/ca.crt\n", "\n")),
        _no_change,
        "17: listen.federation.tls: expected client_ca_file: it verifies the client "
        "certificates that identify peers (or set listen.federation.insecure_no_mutual_tls: "
        "true, loopback only)",
    ),
    "plain HTTP on loopback without the waiver": (
        _edit(("    host: 0.0.0.0\n", "    host: 127.0.0.1\n"), (TLS_BLOCK, "\n\n\n\n")),
        _no_change,
        "14: listen.federation.tls: expected a tls section with cert_file, key_file and "
        "client_ca_file: peers are known by their client certificates (or set "
        "insecure_no_mutual_tls: true, loopback only, for a demo or a TLS proxy on this "
        "machine)",
    ),
    "one peer let off mutual TLS": (
        _edit(("      mutual: true\n", "      mutual: false\n")),
        _no_change,
        "32: peers[0].tls.mutual: expected true (the default): without a client certificate "
        "any host could claim this peer; only listen.federation.insecure_no_mutual_tls "
        "(loopback) turns it off",
    ),
    "a peer held to mutual TLS on a waived listener": (
        _edit(
            ("    host: 0.0.0.0\n", "    host: 127.0.0.1\n"),
            (TLS_BLOCK, "    insecure_no_mutual_tls: true\n\n\n\n"),
        ),
        _no_change,
        "32: peers[0].tls.mutual: expected listen.federation.tls.client_ca_file to be set: it "
        "verifies the client certificate that mutual: true requires from this peer",
    ),
    "a malformed key pin": (
        _edit(("      mutual: true\n", "      mutual: true\n      spki_sha256: [abc]\n")),
        _no_change,
        "33: peers[0].tls.spki_sha256[0]: expected the SHA-256 of the certificate's Subject "
        "Public Key Info, 64 hex characters, got 'abc'",
    ),
    "a TLS key others may read": (
        VALID_CONFIG,
        _group_readable("server.key"),
        "19: listen.federation.tls.key_file: key file {dir}/tls/server.key is readable by "
        "others; run chmod 600 {dir}/tls/server.key",
    ),
    "a client key others may read": (
        _edit(
            (
                "      mutual: true\n",
                "      mutual: true\n      client_cert_file: tls/server.crt\n"
                "      client_key_file: tls/ca.crt\n",
            )
        ),
        _group_readable("ca.crt"),
        "34: peers[0].tls.client_key_file: key file {dir}/tls/ca.crt is readable by others; "
        "run chmod 600 {dir}/tls/ca.crt",
    ),
    "a plain-HTTP local API on a public address": (
        _edit(("  api: {host: 127.0.0.1, port: 9201}\n", "  api: {host: 192.0.2.1, port: 9201}\n")),
        _no_change,
        f"21: listen.api.host: expected one of the {LOOPBACK_HOSTS} when there is no tls "
        "section, got '192.0.2.1': bearer tokens and documents would cross the network in "
        "clear; add tls (cert_file, key_file), or set insecure_plain_http: true behind a proxy",
    ),
    "a listener without room for one connection": (
        _edit(
            (
                "  api: {host: 127.0.0.1, port: 9201}\n",
                "  api: {host: 127.0.0.1, port: 9201}\n  limits: {max_connections: 0}\n",
            )
        ),
        _no_change,
        "22: listen.limits.max_connections: expected an integer from 1 to 100000, got 0",
    ),
    "an in-flight budget smaller than one batch": (
        _edit(
            (
                "  api: {host: 127.0.0.1, port: 9201}\n",
                "  api: {host: 127.0.0.1, port: 9201}\n"
                "  limits: {max_body_bytes_in_flight: 1MiB}\n",
            )
        ),
        _no_change,
        "13: listen: limits.max_body_bytes_in_flight: expected at least limits.max_batch_bytes "
        "(4194304 bytes), got 1048576 bytes",
    ),
}


@pytest.mark.parametrize(("config", "prepare", "issue"), CASES.values(), ids=CASES.keys())
def test_refused_with_one_issue(
    tmp_path: Path, config: str, prepare: Callable[[Path], None], issue: str
) -> None:
    config_file = write_node(tmp_path, config)
    prepare(tmp_path)
    assert issues(config_file) == [f"{config_file}:{issue.format(dir=tmp_path)}"]


def test_a_plain_local_api_on_a_public_address_loads_when_waived_by_name(tmp_path: Path) -> None:
    config = _edit(
        (
            "  api: {host: 127.0.0.1, port: 9201}\n",
            "  api: {host: 192.0.2.1, port: 9201, insecure_plain_http: true}\n",
        )
    )
    listen = load_config(write_node(tmp_path, config), ENV).listen
    assert (listen.api.tls, listen.api.insecure_plain_http) == (None, True)
    assert listen.federation.insecure_no_mutual_tls is False
    assert listen.limits.max_connections == 512


def test_a_peer_left_on_the_default_envelope_burst_must_hold_a_full_batch(
    tmp_path: Path,
) -> None:
    config = _edit(
        ("max_batch_bytes: 4194304}", "max_batch_bytes: 4194304, max_envelopes_per_batch: 5000}")
    )
    config_file = write_node(tmp_path, config)
    assert issues(config_file) == [
        f"{config_file}:41: peers[0].rate_limit.envelope_burst: expected at least "
        "limits.max_envelopes_per_batch (5000), got 4000",
        f"{config_file}:42: peers[1].rate_limit: expected a rate_limit section with an "
        "envelope_burst of at least limits.max_envelopes_per_batch (5000): the default burst "
        "(4000) is smaller than one batch",
    ]
