"""Loading one node's YAML file into a `NodeConfig`, or a `ConfigError` listing every problem.

The file is composed, not loaded (see walker.py for why line numbers need that), then each
section has a small reader below that states the section's keys, their types and the checks
that span several keys. The readers are written out by hand rather than derived from the
dataclasses: the messages, the defaults that depend on the file's location, and the files
that must be opened (private keys) differ enough per section that a generic mapper would be
mostly special cases.

Loading fails early, at startup or when a CLI command checks the file, for anything that would
otherwise fail later and further from its cause: missing or world-readable key files, key
files of another node, plain HTTP towards a remote host, a peer that we would require a client
certificate from while our listener cannot verify one, a redaction path that names no field,
a routing rule that sends a peer a kind it does not accept.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from gateway.config.console import read_console
from gateway.config.issues import ConfigError, ConfigIssue
from gateway.config.keyfiles import (
    KeyAlgorithm,
    KeyFileError,
    PrivateKeyMaterial,
    parse_private_key_file,
    parse_public_key,
)
from gateway.config.listen import (
    LOOPBACK_HOSTS,
    MUTUAL_TLS_WAIVER,
    existing_file,
    is_host,
    is_loopback_host,
    private_file,
    read_listen,
    read_token_sha256,
    spki_sha256,
)
from gateway.config.logs import read_logging
from gateway.config.retention import read_retention
from gateway.config.schema import (
    CLIENT_ID_PATTERN,
    COUNTRY_PATTERN,
    DEFAULT_CONSOLE,
    DEFAULT_DATABASE,
    DEFAULT_LIMITS,
    DEFAULT_LOGGING,
    DEFAULT_PEER_TLS,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETENTION,
    DEFAULT_RETRY,
    DEFAULT_ROUTING_KINDS,
    DEFAULT_ROUTING_PROVINCES,
    DEFAULT_STATE_DIR,
    DELIVERY_TYPES,
    FORMAT_ID_PATTERN,
    KEY_ID_PATTERN,
    KINDS,
    MIN_HMAC_SECRET_CHARS,
    NODE_ID_PATTERN,
    PROVINCE_PATTERN,
    DatabaseConfig,
    DropFolderDelivery,
    FederationListenConfig,
    LimitsConfig,
    ListenConfig,
    LocalClientConfig,
    LocalizedNames,
    NodeConfig,
    NodeIdentity,
    OutgoingFolder,
    OwnKeyConfig,
    PeerConfig,
    PeerKeyConfig,
    PeerTlsConfig,
    RateLimitConfig,
    RetryConfig,
    RoutingRule,
    WebhookDelivery,
)
from gateway.config.values import format_duration, format_instant
from gateway.config.walker import (
    MappingReader,
    Rejected,
    Value,
    Walk,
    boolean,
    choice,
    duration,
    instant,
    integer_in,
    node_line,
    path,
    positive_number,
    sequence_of,
    size,
    text,
    text_matching,
)
from gateway.wire import Kind, canonical


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> NodeConfig:
    """Load and check one node's config file; ConfigError lists every problem found.

    `environ` resolves `!env NAME` tags (default: the process environment).
    """
    file = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(file, 0, "", "config file not found")]) from None
    except OSError as error:
        message = f"cannot read the config file: {error.strerror or error}"
        raise ConfigError([ConfigIssue(file, 0, "", message)]) from None
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        message = "expected UTF-8 text; this line holds bytes that are not UTF-8"
        raise ConfigError([ConfigIssue(file, line, "", message)]) from None
    try:
        root = yaml.compose(content, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        context = f" ({error.context})" if error.context else ""
        message = f"invalid YAML: {error.problem}{context}"
        raise ConfigError([ConfigIssue(file, mark.line + 1 if mark else 0, "", message)]) from None
    except yaml.reader.ReaderError as error:
        line = content[: error.position].count("\n") + 1
        message = f"invalid YAML: character #x{error.character:04x} is not allowed in YAML text"
        raise ConfigError([ConfigIssue(file, line, "", message)]) from None
    except (yaml.YAMLError, RecursionError) as error:
        message = (
            f"invalid YAML: {error}" if isinstance(error, yaml.YAMLError) else "nested too deep"
        )
        raise ConfigError([ConfigIssue(file, 0, "", message)]) from None
    if root is None:
        message = "the file is empty; expected a mapping with node, keys, listen, peers, ..."
        raise ConfigError([ConfigIssue(file, 1, "", message)])

    # abspath, not resolve(): see Walk.resolve_path on symlinks.
    config_file = Path(os.path.abspath(path))
    walk = Walk(file, config_file.parent, os.environ if environ is None else environ)
    try:
        config = _read_node_config(walk.value(root, "", node_line(root)), config_file)
    except Rejected:
        raise ConfigError(walk.issues) from None
    if walk.issues:  # every reader raises after reporting; this guards against one that forgets
        raise ConfigError(walk.issues)
    return config


def _read_node_config(value: Value, config_file: Path) -> NodeConfig:
    r = value.mapping()
    node = r.required("node", _read_identity)
    node_id = node.id if r.ok("node") else None
    keys = r.required(
        "keys",
        sequence_of(
            lambda item: _read_own_key(item, node_id),
            item="key pair",
            min_items=1,
            unique_by=[("id", lambda key: key.id)],
        ),
    )
    listen = r.required("listen", read_listen)
    # None when listen itself is broken: then the peers' `mutual` settings are not judged
    # against the listener.
    federation_listener = listen.federation if r.ok("listen") else None
    database = r.optional("database", _read_database, DEFAULT_DATABASE)
    state_dir = r.optional("state_dir", path, value.walk.resolve_path(str(DEFAULT_STATE_DIR)))
    # Read before the sections it bounds (peers' rate limits, retry); None when broken.
    limits = r.optional("limits", _read_limits, DEFAULT_LIMITS)
    per_batch = limits.max_envelopes_per_batch if r.ok("limits") else None
    peers: tuple[PeerConfig, ...] = r.optional(
        "peers",
        sequence_of(
            lambda item: _read_peer(item, node_id, federation_listener, per_batch),
            item="peer",
            unique_by=[("id", lambda peer: peer.id)],
        ),
        (),
    )
    # None when the peers section is broken: then the peer ids named elsewhere are not judged.
    peers_by_id = {peer.id: peer for peer in peers} if r.ok("peers") else None
    folders: dict[Path, tuple[str, int]] = {}
    local_clients = r.optional(
        "local_clients",
        sequence_of(
            lambda item: _read_local_client(item, peers_by_id, folders),
            item="local client",
            unique_by=[
                ("id", lambda client: client.id),
                ("token_sha256", lambda client: client.token_sha256),
            ],
        ),
        (),
    )
    routing: tuple[RoutingRule, ...] = r.optional(
        "routing",
        sequence_of(lambda item: _read_routing_rule(item, peers_by_id), item="routing rule"),
        (),
    )
    retry = r.optional("retry", lambda item: _read_retry(item, per_batch), DEFAULT_RETRY)
    retention = r.optional("retention", read_retention, DEFAULT_RETENTION)
    console = r.optional("console", read_console, DEFAULT_CONSOLE)
    logging = r.optional("logging", read_logging, DEFAULT_LOGGING)
    _check_in_flight_against_batch(r, listen, limits)
    r.finish()
    return NodeConfig(
        config_file=config_file,
        node=node,
        keys=keys,
        listen=listen,
        database=database,
        state_dir=state_dir,
        peers=peers,
        local_clients=local_clients,
        retry=retry,
        retention=retention,
        limits=limits,
        routing=routing,
        console=console,
        logging=logging,
    )


# Identity and names


def _country(value: Value) -> str:
    expected = "an ISO 3166-1 alpha-2 country code in upper case, such as VN or KH"
    code = value.scalar_text(expected)
    if not COUNTRY_PATTERN.fullmatch(code):
        value.expected(expected)
    return code


def _read_names(value: Value) -> LocalizedNames:
    r = value.mapping()
    names = LocalizedNames(
        en=r.required("en", text),
        vi=r.optional("vi", text, None),
        km=r.optional("km", text, None),
        lo=r.optional("lo", text, None),
    )
    r.finish()
    return names


def _read_identity(value: Value) -> NodeIdentity:
    r = value.mapping()
    node_id = r.required("id", text_matching(NODE_ID_PATTERN, "a node id"))
    names = r.required("names", _read_names)
    country = r.required("country", _country)
    province = r.optional(
        "province",
        text_matching(PROVINCE_PATTERN, "an ISO 3166-2 subdivision code such as VN-30"),
        None,
    )
    if (
        r.ok("country", "province")
        and province is not None
        and not province.startswith(f"{country}-")
    ):
        r.report(
            "province", f"expected a subdivision of {country} ({country}-...), got {province!r}"
        )
    r.finish()
    return NodeIdentity(id=node_id, names=names, country=country, province=province)


# Own keys


def _check_validity(r: MappingReader, valid_from: datetime, valid_until: datetime) -> None:
    if r.ok("valid_from", "valid_until") and valid_until <= valid_from:
        r.report(
            "valid_until",
            f"expected a time after valid_from ({format_instant(valid_from)}), "
            f"got {format_instant(valid_until)}",
        )


def _read_own_key(value: Value, node_id: str | None) -> OwnKeyConfig:
    r = value.mapping()
    key_id = r.required("id", text_matching(KEY_ID_PATTERN, "a key id"))
    private_key_file = r.required("private_key_file", path)
    valid_from = r.required("valid_from", instant)
    valid_until = r.required("valid_until", instant)
    _check_validity(r, valid_from, valid_until)
    material = None
    if r.ok("private_key_file"):
        material = _load_private_key(r, private_key_file, node_id, key_id if r.ok("id") else None)
    r.finish()
    if material is None:  # _load_private_key reported why, so finish() has raised already
        raise Rejected
    return OwnKeyConfig(
        id=key_id,
        valid_from=valid_from,
        valid_until=valid_until,
        private_key_file=private_key_file,
        signing_seed=material.signing_seed,
        encryption_secret=material.encryption_secret,
    )


def _load_private_key(
    r: MappingReader, key_file: Path, node_id: str | None, key_id: str | None
) -> PrivateKeyMaterial | None:
    """Read and check one key file; problems are reported at the config's private_key_file."""
    problems: list[str] = []
    readable = False
    try:
        mode = key_file.stat().st_mode
    except FileNotFoundError:
        problems.append(f"key file not found: {key_file}")
    except OSError as error:
        problems.append(f"cannot read key file {key_file}: {error.strerror or error}")
    else:
        readable = stat.S_ISREG(mode)
        if not readable:
            problems.append(f"expected a key file, {key_file} is not a regular file")
        elif mode & 0o077:
            # Reported, yet the file is still read, so that one run shows its other problems.
            problems.append(f"key file {key_file} is readable by others; run chmod 600 {key_file}")
    material = None
    if readable:
        try:
            material = parse_private_key_file(key_file.read_text(encoding="utf-8"), str(key_file))
        except KeyFileError as error:
            problems.append(f"invalid key file {error.source}, line {error.line}: {error.problem}")
        except UnicodeDecodeError:
            problems.append(f"invalid key file {key_file}: expected UTF-8 text")
        except OSError as error:
            problems.append(f"cannot read key file {key_file}: {error.strerror or error}")
    if material is not None and node_id is not None and material.node != node_id:
        problems.append(
            f"key file {key_file} belongs to node {material.node!r}; expected node {node_id!r}"
        )
    if material is not None and key_id is not None and material.key_id != key_id:
        problems.append(
            f"key file {key_file} holds key {material.key_id!r}; expected key {key_id!r}"
        )
    for problem in problems:
        r.report("private_key_file", problem)
    return None if problems else material


# Database


def _dsn(value: Value) -> str:
    dsn = text(value)
    # Never echoed: a DSN usually carries the database password.
    if not dsn.startswith(("postgresql://", "postgres://")):
        value.fail("expected a PostgreSQL DSN starting with postgresql:// or postgres://")
    return dsn


def _read_database(value: Value) -> DatabaseConfig:
    r = value.mapping()
    database = DatabaseConfig(dsn=r.optional("dsn", _dsn, None))
    r.finish()
    return database


# Peers


def _http_url(value: Value) -> str:
    """An https:// URL, or http:// to a loopback host; returned as written."""
    url = value.scalar_text("an https:// or http:// URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        value.expected("an https:// or http:// URL with a valid host and port")
    if parts.username is not None or parts.password is not None:
        # Checked first and not echoed: the URL holds a password.
        value.fail("expected a URL without a user name or password")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        value.expected("an https:// or http:// URL")
    if not is_host(parts.hostname):
        value.expected("an https:// or http:// URL with a valid host name or IP address")
    if port == 0:
        value.expected("a URL with a port number from 1 to 65535")
    if parts.query or parts.fragment:
        value.expected("a URL without ?query or #fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        value.expected(f"an https:// URL (http:// is allowed only for {LOOPBACK_HOSTS})")
    return url


def _peer_url(value: Value) -> str:
    url = _http_url(value)
    return url if url.endswith("/") else f"{url}/"


def _public_key(algorithm: KeyAlgorithm) -> Callable[[Value], bytes]:
    def convert(value: Value) -> bytes:
        try:
            return parse_public_key(value.scalar_text(f"{algorithm}:<base64>"), algorithm)
        except ValueError as error:
            value.fail(str(error))

    return convert


def _read_peer_key(value: Value) -> PeerKeyConfig:
    r = value.mapping()
    key_id = r.required("id", text_matching(KEY_ID_PATTERN, "a key id"))
    signing_public_key = r.required("signing_public_key", _public_key("ed25519"))
    encryption_public_key = r.required("encryption_public_key", _public_key("x25519"))
    valid_from = r.required("valid_from", instant)
    valid_until = r.required("valid_until", instant)
    _check_validity(r, valid_from, valid_until)
    r.finish()
    return PeerKeyConfig(
        id=key_id,
        signing_public_key=signing_public_key,
        encryption_public_key=encryption_public_key,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _kinds(value: Value) -> frozenset[Kind]:
    return frozenset(sequence_of(choice(KINDS), item="message kind")(value))


def _read_peer_tls(value: Value, verifies_clients: bool | None, waived: bool) -> PeerTlsConfig:
    r = value.mapping()
    tls = PeerTlsConfig(
        ca_file=r.optional("ca_file", existing_file, None),
        client_cert_file=r.optional("client_cert_file", existing_file, None),
        client_key_file=r.optional("client_key_file", private_file, None),
        mutual=r.optional("mutual", boolean, verifies_clients is not False),
        spki_sha256=r.optional(
            "spki_sha256", sequence_of(spki_sha256, item="SPKI digest", min_items=1), ()
        ),
    )
    for present, absent in (
        ("client_cert_file", "client_key_file"),
        ("client_key_file", "client_cert_file"),
    ):
        if r.has(present) and not r.has(absent):
            r.report(
                present, f"expected {absent} too: a client certificate and its key come together"
            )
    if r.ok("mutual") and tls.mutual and verifies_clients is False:
        r.report(
            "mutual",
            "expected listen.federation.tls.client_ca_file to be set: it verifies the client "
            "certificate that mutual: true requires from this peer",
        )
    elif r.ok("mutual") and not tls.mutual and not waived and verifies_clients is not None:
        r.report(
            "mutual",
            "expected true (the default): without a client certificate any host could claim "
            f"this peer; only listen.federation.{MUTUAL_TLS_WAIVER} (loopback) turns it off",
        )
    r.finish()
    return tls


def _read_rate_limit(value: Value, per_batch: int | None) -> RateLimitConfig:
    r = value.mapping()
    rate_limit = RateLimitConfig(
        requests_per_second=r.optional(
            "requests_per_second", positive_number, DEFAULT_RATE_LIMIT.requests_per_second
        ),
        burst=r.optional("burst", integer_in(1, 1_000_000), DEFAULT_RATE_LIMIT.burst),
        envelopes_per_second=r.optional(
            "envelopes_per_second", positive_number, DEFAULT_RATE_LIMIT.envelopes_per_second
        ),
        envelope_burst=r.optional(
            "envelope_burst", integer_in(1, 100_000_000), DEFAULT_RATE_LIMIT.envelope_burst
        ),
    )
    # A bucket smaller than a full batch would refuse that batch forever.
    if per_batch is not None and r.ok("envelope_burst") and rate_limit.envelope_burst < per_batch:
        r.report(
            "envelope_burst",
            f"expected at least limits.max_envelopes_per_batch ({per_batch}), "
            f"got {rate_limit.envelope_burst}",
        )
    r.finish()
    return rate_limit


def _read_peer(
    value: Value,
    node_id: str | None,
    listener: FederationListenConfig | None,
    per_batch: int | None,
) -> PeerConfig:
    r = value.mapping()
    peer_id = r.required("id", text_matching(NODE_ID_PATTERN, "a node id"))
    if r.ok("id") and peer_id == node_id:
        r.report("id", f"expected the id of another node, got this node's own id {node_id!r}")
    names = r.required("names", _read_names)
    country = r.required("country", _country)
    url = r.required("url", _peer_url)
    # Mutual TLS by default, unless the listener cannot verify client certificates (waived).
    verifies_clients = (
        None
        if listener is None
        else listener.tls is not None and listener.tls.client_ca_file is not None
    )
    waived = listener is not None and listener.insecure_no_mutual_tls
    tls = r.optional(
        "tls",
        lambda tls: _read_peer_tls(tls, verifies_clients, waived),
        replace(DEFAULT_PEER_TLS, mutual=verifies_clients is not False),
    )
    keys = r.required(
        "keys",
        sequence_of(
            _read_peer_key,
            item="public key pair",
            min_items=1,
            unique_by=[("id", lambda key: key.id)],
        ),
    )
    send = r.required("send", _kinds)
    receive = r.required("receive", _kinds)
    rate_limit = r.optional(
        "rate_limit", lambda item: _read_rate_limit(item, per_batch), DEFAULT_RATE_LIMIT
    )
    if (
        not r.has("rate_limit")
        and per_batch is not None
        and DEFAULT_RATE_LIMIT.envelope_burst < per_batch
    ):
        # The default bucket is smaller than a full batch: that batch would be refused forever.
        r.report(
            "rate_limit",
            f"expected a rate_limit section with an envelope_burst of at least "
            f"limits.max_envelopes_per_batch ({per_batch}): the default burst "
            f"({DEFAULT_RATE_LIMIT.envelope_burst}) is smaller than one batch",
        )
    redact: tuple[str, ...] = r.optional("redact", sequence_of(_field_path, item="field path"), ())
    r.finish()
    return PeerConfig(
        id=peer_id,
        names=names,
        country=country,
        url=url,
        tls=tls,
        keys=keys,
        send=send,
        receive=receive,
        rate_limit=rate_limit,
        redact=redact,
    )


# The fields of a body's messages can be named down to their leaves; google.protobuf types
# (Timestamp) are leaves themselves.
_CANONICAL_PACKAGE = canonical.DESCRIPTOR.package
_BODY_FIELDS = canonical.Message.DESCRIPTOR.oneofs_by_name["body"].fields


def _field_path(value: Value) -> str:
    """A dotted path of canonical field names from a body field, checked against blg.v1."""
    expected = "a canonical field path such as hotline_alert.caller"
    field_path = value.scalar_text(expected)
    names = field_path.split(".")
    if not all(names):
        value.expected(f"{expected} (field names joined by single dots)")
    fields = {field.name: field for field in _BODY_FIELDS}
    parent = "a body field of blg.v1.Message"
    for depth, name in enumerate(names):
        if not fields:
            value.fail(
                f"unknown field {name!r} in {field_path}: {'.'.join(names[:depth])} has no "
                "fields; expected the path to end there"
            )
        if name not in fields:
            value.fail(
                f"unknown field {name!r} in {field_path}; expected {parent}: {', '.join(fields)}"
            )
        message_type = fields[name].message_type
        parent = f"a field of {'.'.join(names[: depth + 1])}"
        fields = (
            dict(message_type.fields_by_name)
            if message_type is not None and message_type.file.package == _CANONICAL_PACKAGE
            else {}
        )
    if len(names) == 1:
        value.fail(
            f"expected a field inside {field_path}, such as {field_path}.{next(iter(fields))}: "
            f"to send no {field_path} to this peer, leave it out of the peer's send list"
        )
    return field_path


# Local clients


def _read_local_client(
    value: Value,
    peers: Mapping[str, PeerConfig] | None,
    folders: dict[Path, tuple[str, int]],
) -> LocalClientConfig:
    r = value.mapping()
    client_id = r.required("id", text_matching(CLIENT_ID_PATTERN, "a client id"))
    token_sha256 = r.required("token_sha256", read_token_sha256)
    formats = r.required(
        "formats",
        sequence_of(text_matching(FORMAT_ID_PATTERN, "a format id"), item="format id", min_items=1),
    )
    kinds = r.required("kinds", _kinds)
    # None when formats failed: then the formats named below are not judged against them.
    known_formats = formats if r.ok("formats") else None
    delivery = r.optional(
        "delivery", lambda item: _read_delivery(item, known_formats, folders), None
    )
    outgoing_folder = r.optional(
        "outgoing_folder",
        lambda item: _read_outgoing_folder(item, known_formats, peers, folders),
        None,
    )
    r.finish()
    return LocalClientConfig(
        id=client_id,
        token_sha256=token_sha256,
        formats=formats,
        kinds=kinds,
        delivery=delivery,
        outgoing_folder=outgoing_folder,
    )


def _client_format(r: MappingReader, formats: tuple[str, ...] | None, *, required: bool) -> str:
    """The `format` key of a delivery or outgoing folder: one of the client's formats."""
    convert = text_matching(FORMAT_ID_PATTERN, "a format id")
    if required:
        chosen = r.required("format", convert)
    else:
        # "" only when the client's formats failed, and then the client fails with them.
        chosen = r.optional("format", convert, formats[0] if formats else "")
    if r.ok("format") and formats is not None and chosen not in formats:
        r.report(
            "format",
            f"expected one of this client's formats ({', '.join(formats)}), got {chosen!r}",
        )
    return chosen


def _folder(folders: dict[Path, tuple[str, int]]) -> Callable[[Value], Path]:
    """A directory the gateway creates at start if absent; each may serve one purpose only."""

    def convert(value: Value) -> Path:
        folder = path(value)
        # os.path, not Path.is_dir(): it answers False instead of raising on permission errors.
        if os.path.exists(folder) and not os.path.isdir(folder):
            value.fail(f"expected a directory, {folder} exists and is not a directory")
        if folder in folders:
            # A client's drop folder read back as an outgoing folder would send every
            # incoming message on; two clients in one folder would take each other's files.
            first, line = folders[folder]
            value.fail(
                f"expected a directory of its own, got {folder}, which {first} at line {line} "
                "already uses"
            )
        folders[folder] = (value.path, value.line)
        return folder

    return convert


def _hmac_secret(value: Value) -> bytes:
    secret = value.scalar_text(f"a secret of at least {MIN_HMAC_SECRET_CHARS} characters")
    if len(secret) < MIN_HMAC_SECRET_CHARS:
        # Never echoed, not even in part.
        value.fail(
            f"expected a secret of at least {MIN_HMAC_SECRET_CHARS} characters, such as the "
            f"output of `openssl rand -base64 32`, got {len(secret)} characters"
        )
    return secret.encode("utf-8")


def _read_delivery(
    value: Value, formats: tuple[str, ...] | None, folders: dict[Path, tuple[str, int]]
) -> WebhookDelivery | DropFolderDelivery:
    r = value.mapping()
    delivery_type = r.required("type", choice(DELIVERY_TYPES))
    delivery: WebhookDelivery | DropFolderDelivery | None = None
    if not r.ok("type"):
        # The shape is unknown: the keys of every shape pass, so that the broken type is the
        # one issue.
        r.expect("url", "hmac_secret", "path", "format")
    elif delivery_type == "webhook":
        url = r.required("url", _http_url)
        hmac_secret = r.required("hmac_secret", _hmac_secret)
        delivery_format = _client_format(r, formats, required=False)
        delivery = WebhookDelivery(url=url, hmac_secret=hmac_secret, format=delivery_format)
    else:
        folder = r.required("path", _folder(folders))
        delivery_format = _client_format(r, formats, required=False)
        delivery = DropFolderDelivery(path=folder, format=delivery_format)
    r.finish()
    if delivery is None:  # the type failed, so finish() has raised already
        raise Rejected
    return delivery


def _read_outgoing_folder(
    value: Value,
    formats: tuple[str, ...] | None,
    peers: Mapping[str, PeerConfig] | None,
    folders: dict[Path, tuple[str, int]],
) -> OutgoingFolder:
    r = value.mapping()
    outgoing = OutgoingFolder(
        path=r.required("path", _folder(folders)),
        format=_client_format(r, formats, required=True),
        # An empty list is the default too: the routing rules decide.
        to=r.optional("to", sequence_of(_peer_id(peers), item="peer id"), ()),
        poll_interval=r.optional("poll_interval", duration, DEFAULT_POLL_INTERVAL),
    )
    r.finish()
    return outgoing


# Routing


def _peer_id(
    peers: Mapping[str, PeerConfig] | None,
    kinds: frozenset[Kind] | None = None,
    kinds_written: bool = True,
) -> Callable[[Value], str]:
    """The id of a configured peer that accepts every one of `kinds` (None: any kinds)."""

    def convert(value: Value) -> str:
        peer_id = text(value)
        if peers is None:
            return peer_id
        peer = peers.get(peer_id)
        if peer is None:
            known = ", ".join(peers) if peers else "(none: the peers section lists none)"
            value.fail(f"unknown peer {peer_id!r}; expected one of the configured peers: {known}")
        refused = [kind for kind in KINDS if kinds is not None and kind in kinds - peer.send]
        if refused:
            names = ", ".join(refused)
            them = "it" if len(refused) == 1 else "them"
            if kinds_written:
                value.fail(
                    f"{peer_id} does not accept {names} from this node: add {them} to the "
                    f"peer's send list or remove {them} from this rule's kinds"
                )
            value.fail(
                f"{peer_id} does not accept {names} from this node, and a rule without kinds "
                f"routes every kind: add {them} to the peer's send list or give this rule kinds"
            )
        return peer_id

    return convert


def _place(value: Value) -> str:
    expected = "an ISO 3166-2 subdivision code such as KH-16 or a country code such as KH"
    code = value.scalar_text(expected)
    if not (PROVINCE_PATTERN.fullmatch(code) or COUNTRY_PATTERN.fullmatch(code)):
        value.expected(expected)
    return code


def _read_routing_rule(value: Value, peers: Mapping[str, PeerConfig] | None) -> RoutingRule:
    r = value.mapping()
    # An empty list is refused rather than read as "every kind" or "any place".
    kinds = r.optional(
        "kinds",
        lambda item: frozenset(sequence_of(choice(KINDS), item="message kind", min_items=1)(item)),
        DEFAULT_ROUTING_KINDS,
    )
    provinces = r.optional(
        "provinces",
        sequence_of(_place, item="province or country code", min_items=1),
        DEFAULT_ROUTING_PROVINCES,
    )
    to = r.required(
        "to",
        sequence_of(
            _peer_id(peers, kinds if r.ok("kinds") else None, r.has("kinds")),
            item="peer id",
            min_items=1,
        ),
    )
    r.finish()
    return RoutingRule(kinds=kinds, provinces=provinces, to=to)


# Tuning sections


# The protocol's bound (docs/PROTOCOL.md, lifetime_too_long), kept here as a plain value so
# that configuration needs no crypto import.
MAX_MESSAGE_TTL = timedelta(days=30)


def _read_retry(value: Value, per_batch: int | None) -> RetryConfig:
    r = value.mapping()
    retry = RetryConfig(
        initial_backoff=r.optional("initial_backoff", duration, DEFAULT_RETRY.initial_backoff),
        max_backoff=r.optional("max_backoff", duration, DEFAULT_RETRY.max_backoff),
        batch_size=r.optional("batch_size", integer_in(1, 1000), DEFAULT_RETRY.batch_size),
        message_ttl=r.optional("message_ttl", duration, DEFAULT_RETRY.message_ttl),
    )
    if r.ok("initial_backoff", "max_backoff") and retry.max_backoff < retry.initial_backoff:
        low, high = format_duration(retry.initial_backoff), format_duration(retry.max_backoff)
        if r.has("max_backoff"):
            r.report("max_backoff", f"expected at least initial_backoff ({low}), got {high}")
        else:
            r.report("initial_backoff", f"expected at most max_backoff ({high}), got {low}")
    # Our own receiver's limit stands for the peers': a node whose batches its own endpoint
    # would refuse is misconfigured on one side or the other.
    if per_batch is not None and r.ok("batch_size") and retry.batch_size > per_batch:
        r.report(
            "batch_size",
            f"expected at most limits.max_envelopes_per_batch ({per_batch}), "
            f"got {retry.batch_size}",
        )
    if r.ok("message_ttl") and retry.message_ttl > MAX_MESSAGE_TTL:
        r.report(
            "message_ttl",
            f"expected at most {format_duration(MAX_MESSAGE_TTL)}: receivers refuse messages "
            f"that live longer, got {format_duration(retry.message_ttl)}",
        )
    r.finish()
    return retry


def _check_in_flight_against_batch(
    r: MappingReader, listen: ListenConfig, limits: LimitsConfig
) -> None:
    """A batch body larger than the listener's in-flight budget would be answered 503 on
    every attempt, and a peer would resend it until its messages expire: refuse that."""
    if not (
        r.ok("listen", "limits")
        and isinstance(listen, ListenConfig)
        and isinstance(limits, LimitsConfig)
    ):
        return
    budget = listen.limits.max_body_bytes_in_flight
    if budget < limits.max_batch_bytes:
        r.report(
            "listen",
            f"limits.max_body_bytes_in_flight: expected at least limits.max_batch_bytes "
            f"({limits.max_batch_bytes} bytes), got {budget} bytes",
        )


def _read_limits(value: Value) -> LimitsConfig:
    r = value.mapping()
    limits = LimitsConfig(
        max_envelope_bytes=r.optional(
            "max_envelope_bytes", size, DEFAULT_LIMITS.max_envelope_bytes
        ),
        max_batch_bytes=r.optional("max_batch_bytes", size, DEFAULT_LIMITS.max_batch_bytes),
        max_clock_skew=r.optional("max_clock_skew", duration, DEFAULT_LIMITS.max_clock_skew),
        max_envelopes_per_batch=r.optional(
            "max_envelopes_per_batch",
            integer_in(1, 10_000),
            DEFAULT_LIMITS.max_envelopes_per_batch,
        ),
    )
    envelope, batch = limits.max_envelope_bytes, limits.max_batch_bytes
    # A batch that cannot hold one envelope of the largest allowed size would never drain.
    if r.ok("max_envelope_bytes", "max_batch_bytes") and batch < envelope:
        if r.has("max_batch_bytes"):
            r.report(
                "max_batch_bytes",
                f"expected at least max_envelope_bytes ({envelope} bytes), got {batch} bytes",
            )
        else:
            r.report(
                "max_envelope_bytes",
                f"expected at most max_batch_bytes ({batch} bytes), got {envelope} bytes",
            )
    r.finish()
    return limits
