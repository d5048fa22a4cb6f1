"""Loading one node's YAML file into a `NodeConfig`, or a `ConfigError` listing every problem.

The file is composed, not loaded (see walker.py for why line numbers need that), then each
section has a small reader (below, or in the section's own module beside this one:
identity, peers, local_clients, tuning, listen, retention, console, logs) that states the
section's keys, their types and the checks that span several keys. The readers are written
out by hand rather than derived from the dataclasses: the messages, the defaults that depend
on the file's location, and the files that must be opened (private keys) differ enough per
section that a generic mapper would be mostly special cases.

Loading fails early, at startup or when a CLI command checks the file, for anything that would
otherwise fail later and further from its cause: missing or world-readable key files, key
files of another node, plain HTTP towards a remote host, a peer that we would require a client
certificate from while our listener cannot verify one, a redaction path that names no field,
a routing rule that sends a peer a kind it does not accept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from gateway.config.acknowledgements import DEFAULT_ACKNOWLEDGEMENTS, read_acknowledgements
from gateway.config.audit import read_audit
from gateway.config.console import read_console
from gateway.config.converters import choice, path, sequence_of, text
from gateway.config.identity import read_identity, read_own_key
from gateway.config.issues import ConfigError, ConfigIssue
from gateway.config.listen import (
    read_listen,
)
from gateway.config.local_clients import read_local_client
from gateway.config.logs import read_logging
from gateway.config.peers import configured_peer, read_peer
from gateway.config.retention import read_retention
from gateway.config.schema import (
    COUNTRY_PATTERN,
    DEFAULT_AUDIT,
    DEFAULT_CONSOLE,
    DEFAULT_DATABASE,
    DEFAULT_LIMITS,
    DEFAULT_LOGGING,
    DEFAULT_RETENTION,
    DEFAULT_RETRY,
    DEFAULT_ROUTING_KINDS,
    DEFAULT_ROUTING_PROVINCES,
    DEFAULT_STATE_DIR,
    KINDS,
    PROVINCE_PATTERN,
    DatabaseConfig,
    NodeConfig,
    PeerConfig,
    RoutingRule,
)
from gateway.config.tuning import check_in_flight_against_batch, read_limits, read_retry
from gateway.config.walker import Rejected, Value, Walk, node_line


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
    node = r.required("node", read_identity)
    node_id = node.id if r.ok("node") else None
    keys = r.required(
        "keys",
        sequence_of(
            lambda item: read_own_key(item, node_id),
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
    limits = r.optional("limits", read_limits, DEFAULT_LIMITS)
    per_batch = limits.max_envelopes_per_batch if r.ok("limits") else None
    peers: tuple[PeerConfig, ...] = r.optional(
        "peers",
        sequence_of(
            lambda item: read_peer(item, node_id, federation_listener, per_batch),
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
            lambda item: read_local_client(item, peers_by_id, folders),
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
    retry = r.optional("retry", lambda item: read_retry(item, per_batch), DEFAULT_RETRY)
    retention = r.optional("retention", read_retention, DEFAULT_RETENTION)
    console = r.optional("console", read_console, DEFAULT_CONSOLE)
    logging = r.optional("logging", read_logging, DEFAULT_LOGGING)
    acknowledgements = r.optional(
        "acknowledgements", read_acknowledgements, DEFAULT_ACKNOWLEDGEMENTS
    )
    audit = r.optional("audit", read_audit, DEFAULT_AUDIT)
    check_in_flight_against_batch(r, listen, limits)
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
        acknowledgements=acknowledgements,
        audit=audit,
    )


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


# Routing


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
            configured_peer(peers, kinds if r.ok("kinds") else None, r.has("kinds")),
            item="peer id",
            min_items=1,
        ),
    )
    r.finish()
    return RoutingRule(kinds=kinds, provinces=provinces, to=to)
