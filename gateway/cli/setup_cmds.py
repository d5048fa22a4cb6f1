"""`gateway init` and `gateway peers add|list`: a node and its federation set up in commands.

The files are written by gateway/config/node_setup.py and gateway/config/writer.py (the one
writer of configs; their docstrings hold the design). Here: options, one clear line per
problem, progress on stderr, and nothing half-written: init refuses an existing config and
removes nothing of an operator's, `peers add` restores the config when the result does not
pass `gateway config check`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.cli.rotate_cmds import register_peer_key_commands
from gateway.config import KINDS, ConfigError, NodeConfig, load_config
from gateway.config.node_setup import (
    WILDCARD_HOSTS,
    InitRequest,
    add_peer_from_public,
    init_node,
    split_host_port,
)
from gateway.config.public_file import PublicFileError, read_public_file
from gateway.config.schema import COUNTRY_PATTERN, NODE_ID_PATTERN
from gateway.config.values import format_instant
from gateway.ops.private_files import UnsafePath

KIND_NAMES = [str(kind) for kind in KINDS]


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    init = commands.add_parser(
        "init",
        help="set up a node: keys, TLS certificate, metrics token, config, public file",
        description="Write a new node's files into DIR (0700, files 0600): keys/, tls/ (a "
        "self-signed certificate unless --tls-cert/--tls-key), metrics.token, node.yaml (which "
        "passes `gateway config check`) and NODE.public.yaml, the file to send each peer. "
        "Refuses to overwrite an existing node.yaml.",
    )
    init.add_argument("--node", required=True, help="this node's id, e.g. vn-gialai-police")
    init.add_argument("--dir", required=True, type=Path, help="the node's folder")
    init.add_argument(
        "--listen", default="127.0.0.1:9101", metavar="HOST:PORT", help="federation endpoint"
    )
    init.add_argument(
        "--local", default="127.0.0.1:9201", metavar="HOST:PORT", help="local API and /metrics"
    )
    init.add_argument("--url", help="the URL peers reach the endpoint at; default https://LISTEN/")
    init.add_argument("--country", help="ISO 3166-1 alpha-2 code; default from the node id")
    init.add_argument("--name", help="the agency's name in English; default the node id")
    init.add_argument("--tls-cert", type=Path, metavar="FILE", help="an existing certificate")
    init.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key")
    init.set_defaults(handler=run_init)

    peers = commands.add_parser("peers", help="the agencies this node exchanges with")
    actions = peers.add_subparsers(dest="peers_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add or update a peer from its public file",
        description="Add the peer of PUBLIC_FILE to the config (keys, URL, certificate pin, "
        "names), or update its entry, keeping the file's comments; then check the config and "
        "put the previous file back if it does not pass.",
    )
    add.add_argument("--config", required=True, type=Path, metavar="FILE")
    add.add_argument("--url", help="the peer's URL, if not the one in its public file")
    for direction in ("send", "receive"):
        add.add_argument(
            f"--{direction}",
            type=_kinds,
            metavar="KIND,...",
            help=f"kinds to {direction} (default all: {','.join(KIND_NAMES)}; kept on update)",
        )
    add.add_argument(
        "--ca-file",
        type=Path,
        metavar="FILE",
        help="the CA the peer's certificate chains to, when it is not self-signed",
    )
    add.add_argument("public_file", type=Path, metavar="PUBLIC_FILE")
    add.set_defaults(handler=run_peers_add)
    listing = actions.add_parser("list", help="peers, their keys and certificate pins")
    listing.add_argument("--config", required=True, type=Path, metavar="FILE")
    listing.set_defaults(handler=run_peers_list)
    register_peer_key_commands(actions)


def _kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KIND_NAMES]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"expected kinds among {', '.join(KIND_NAMES)}")
    return kinds


def _fail(command: str, message: str) -> int:
    print(f"gateway {command}: {message}", file=sys.stderr)
    return 1


def _progress(line: str) -> None:
    print(f"gateway init: {line}", file=sys.stderr)


def run_init(args: argparse.Namespace) -> int:
    node: str = args.node
    if not NODE_ID_PATTERN.fullmatch(node):
        return _fail("init", f"--node: expected a node id matching ^{NODE_ID_PATTERN.pattern}$")
    country: str = args.country or node[:2].upper()
    if not COUNTRY_PATTERN.fullmatch(country):
        return _fail("init", "--country: expected an ISO 3166-1 alpha-2 code such as VN or KH")
    if (args.tls_cert is None) != (args.tls_key is None):
        return _fail("init", "--tls-cert and --tls-key: expected both or neither")
    try:
        listen = split_host_port(args.listen, "--listen")
        local = split_host_port(args.local, "--local")
    except ValueError as error:
        return _fail("init", str(error))
    if listen[0] in WILDCARD_HOSTS and not args.url:
        return _fail("init", "--url: expected the URL peers reach a wildcard --listen host at")
    if args.url and not args.url.startswith("https://"):
        return _fail("init", "--url: expected an https:// URL")
    request = InitRequest(
        node_id=node,
        folder=args.dir,
        listen=listen,
        local=local,
        country=country,
        names={"en": args.name or node},
        url=args.url and (args.url if args.url.endswith("/") else args.url + "/"),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    try:
        result = init_node(request, _progress)
    except FileExistsError as error:
        return _fail("init", f"{error.filename}: exists; init never overwrites a file")
    except UnsafePath as error:
        return _fail("init", f"{error.path}: not a regular file")
    except OSError as error:
        return _fail("init", f"{error.filename}: {error.strerror}")
    except ValueError:  # a --tls-cert that is not a PEM certificate
        return _fail("init", "--tls-cert: expected a PEM certificate")
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return 1
    _progress(
        f"next: send {result.public_file} to each peer; add theirs with "
        f"`gateway peers add --config {result.config_file} PEER.public.yaml`"
    )
    return 0


def run_peers_add(args: argparse.Namespace) -> int:
    try:
        public = read_public_file(args.public_file)
    except PublicFileError as error:
        return _fail("peers add", str(error))
    url: str | None = args.url
    if url is not None and not url.endswith("/"):
        url += "/"
    try:
        added = add_peer_from_public(
            args.config,
            public,
            url=url,
            send=args.send,
            receive=args.receive,
            ca_file=args.ca_file,
        )
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return _fail("peers add", f"{args.config} left as it was")
    except (OSError, UnsafePath) as error:
        return _fail("peers add", f"{args.config}: {getattr(error, 'strerror', None) or error}")
    verb = "added" if added.added else "updated"
    print(
        f"gateway peers add: {verb} {public.node_id} ({len(added.config.peers)} peer(s)); "
        f"{args.config}: config check ok",
        file=sys.stderr,
    )
    return 0


def run_peers_list(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return 1
    print(peers_table(config, datetime.now(UTC)), end="")
    return 0


def peers_table(config: NodeConfig, now: datetime) -> str:
    """One row per peer key: peer, URL, key id, validity window and state, certificate pin."""
    header = ("PEER", "URL", "KEY", "VALID FROM", "VALID UNTIL", "STATE", "PIN (SPKI SHA-256)")
    rows: list[tuple[str, ...]] = []
    for peer in config.peers:
        pins = ",".join(pin.hex() for pin in peer.tls.spki_sha256) or "-"
        for key in peer.keys:
            if key.valid_at(now):
                state = "valid"
            elif now < key.valid_from:
                state = "not yet valid"
            else:
                state = "expired"
            rows.append(
                (
                    peer.id,
                    peer.url,
                    key.id,
                    format_instant(key.valid_from),
                    format_instant(key.valid_until),
                    state,
                    pins,
                )
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in [header, *rows]
    )
