"""Reading the listen section: hosts, TLS files, waivers and limits of the two listeners.

Split from loader.py, which reads the rest of the file with the same walker. The rules here
are the ones that keep a node from listening wider than it should: HTTPS with client
certificates on the federation listener unless waived by name on loopback, no plain-HTTP
local API off loopback unless waived, no TLS key that group or others may read.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from gateway.config.converters import boolean, duration, integer_in, path, size
from gateway.config.schema import (
    DEFAULT_LISTENER_LIMITS,
    ApiListenConfig,
    FederationListenConfig,
    ListenConfig,
    ListenerLimits,
    ServerTlsConfig,
)
from gateway.config.walker import Value

_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_WILDCARD_HOSTS = ("0.0.0.0", "::")  # noqa: S104 (recognised, not bound to)
_SHA256_HEX = re.compile(r"[0-9A-Fa-f]{64}")
LOOPBACK_HOSTS = "loopback hosts (127.0.0.1, ::1, localhost)"


def is_loopback_host(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOSTNAME.fullmatch(host) is not None
    return True


def _host(value: Value) -> str:
    host = value.scalar_text("a host name or IP address")
    if not is_host(host):
        value.expected("a host name or IP address")
    return host


_port = integer_in(1, 65535, "a port number")


def existing_file(value: Value) -> Path:
    file = path(value)
    # os.path, not Path.is_file(): it answers False instead of raising on permission errors.
    if not os.path.exists(file):
        value.fail(f"file not found: {file}")
    if not os.path.isfile(file):
        value.fail(f"expected a file, {file} is not a regular file")
    return file


def private_file(value: Value) -> Path:
    """A TLS private key: an existing file that neither group nor others may read."""
    file = existing_file(value)
    try:
        mode = file.stat().st_mode
    except OSError as error:
        value.fail(f"cannot read key file {file}: {error.strerror or error}")
    if mode & 0o077:
        value.fail(f"key file {file} is readable by others; run chmod 600 {file}")
    return file


def _read_server_tls(value: Value, *, verifies_clients: bool = True) -> ServerTlsConfig:
    r = value.mapping()
    tls = ServerTlsConfig(
        cert_file=r.required("cert_file", existing_file),
        key_file=r.required("key_file", private_file),
        client_ca_file=(
            r.optional("client_ca_file", existing_file, None) if verifies_clients else None
        ),
    )
    r.finish()
    return tls


MUTUAL_TLS_WAIVER = "insecure_no_mutual_tls"


def _read_federation_listen(value: Value) -> FederationListenConfig:
    r = value.mapping()
    host = r.required("host", _host)
    port = r.required("port", _port)
    tls = r.optional("tls", _read_server_tls, None)
    waived = r.optional(MUTUAL_TLS_WAIVER, boolean, False)
    loopback = r.ok("host") and is_loopback_host(host)
    if r.ok("host") and not r.has("tls") and not loopback:
        r.report(
            "host",
            f"expected one of the {LOOPBACK_HOSTS} when there is no tls section, got {host!r}; "
            "add tls (cert_file, key_file, client_ca_file) to serve HTTPS on other hosts",
        )
    elif r.ok("host", MUTUAL_TLS_WAIVER) and waived and not loopback:
        r.report(
            MUTUAL_TLS_WAIVER,
            f"expected false on {host!r}: mutual TLS may be waived on {LOOPBACK_HOSTS} only; "
            "set tls.client_ca_file to the CA of the peers' client certificates",
        )
    elif r.ok("host", MUTUAL_TLS_WAIVER, "tls") and not waived:
        if tls is None:
            r.report(
                "tls",
                "expected a tls section with cert_file, key_file and client_ca_file: peers are "
                f"known by their client certificates (or set {MUTUAL_TLS_WAIVER}: true, "
                "loopback only, for a demo or a TLS proxy on this machine)",
            )
        elif tls.client_ca_file is None:
            r.report(
                "tls",
                "expected client_ca_file: it verifies the client certificates that identify "
                f"peers (or set listen.federation.{MUTUAL_TLS_WAIVER}: true, loopback only)",
            )
    r.finish()
    return FederationListenConfig(host=host, port=port, tls=tls, insecure_no_mutual_tls=waived)


_PLAIN_HTTP_WAIVER = "insecure_plain_http"


def _read_api_listen(value: Value) -> ApiListenConfig:
    r = value.mapping()
    host = r.required("host", _host)
    port = r.required("port", _port)
    tls = r.optional("tls", lambda item: _read_server_tls(item, verifies_clients=False), None)
    waived = r.optional(_PLAIN_HTTP_WAIVER, boolean, False)
    metrics_token = r.optional("metrics_token_sha256", read_token_sha256, None)
    plain_remote = not r.has("tls") and r.ok("host") and not is_loopback_host(host)
    if plain_remote and r.ok(_PLAIN_HTTP_WAIVER) and not waived:
        r.report(
            "host",
            f"expected one of the {LOOPBACK_HOSTS} when there is no tls section, got "
            f"{host!r}: bearer tokens and documents would cross the network in clear; add "
            f"tls (cert_file, key_file), or set {_PLAIN_HTTP_WAIVER}: true behind a proxy",
        )
    r.finish()
    return ApiListenConfig(
        host=host,
        port=port,
        tls=tls,
        insecure_plain_http=waived,
        metrics_token_sha256=metrics_token,
    )


def _seconds_at_least(low: float) -> Callable[[Value], timedelta]:
    def convert(value: Value) -> timedelta:
        span = duration(value)
        if span.total_seconds() < low:
            value.expected(f"a duration of at least {low:g}s")
        return span

    return convert


def _read_listener_limits(value: Value) -> ListenerLimits:
    r = value.mapping()
    defaults = DEFAULT_LISTENER_LIMITS
    limits = ListenerLimits(
        max_connections=r.optional(
            "max_connections", integer_in(1, 100_000), defaults.max_connections
        ),
        header_timeout=r.optional(
            "header_timeout", _seconds_at_least(0.1), defaults.header_timeout
        ),
        body_timeout=r.optional("body_timeout", _seconds_at_least(0.1), defaults.body_timeout),
        idle_timeout=r.optional("idle_timeout", _seconds_at_least(0.1), defaults.idle_timeout),
        max_body_bytes_in_flight=r.optional(
            "max_body_bytes_in_flight", size, defaults.max_body_bytes_in_flight
        ),
    )
    r.finish()
    return limits


def read_listen(value: Value) -> ListenConfig:
    r = value.mapping()
    federation = r.required("federation", _read_federation_listen)
    api = r.required("api", _read_api_listen)
    limits = r.optional("limits", _read_listener_limits, DEFAULT_LISTENER_LIMITS)
    if r.ok("federation", "api") and federation.port == api.port:
        hosts = {federation.host, api.host}
        if len(hosts) == 1 or hosts & set(_WILDCARD_HOSTS):
            r.report(
                "api",
                f"expected a port other than listen.federation's, got the same address "
                f"{api.host}:{api.port}",
            )
    r.finish()
    return ListenConfig(federation=federation, api=api, limits=limits)


def read_token_sha256(value: Value) -> bytes:
    digest = value.scalar_text("the SHA-256 of the bearer token as 64 hexadecimal characters")
    if not _SHA256_HEX.fullmatch(digest):
        # Not echoed: a common mistake is pasting the token itself here.
        value.fail(
            "expected the SHA-256 of the bearer token as 64 hexadecimal characters (never the "
            f"token itself), got {len(digest)} characters"
        )
    return bytes.fromhex(digest)


def spki_sha256(value: Value) -> bytes:
    expected = "the SHA-256 of the certificate's Subject Public Key Info, 64 hex characters"
    digest = value.scalar_text(expected).replace(":", "")
    if not _SHA256_HEX.fullmatch(digest):
        value.expected(expected)
    return bytes.fromhex(digest)
