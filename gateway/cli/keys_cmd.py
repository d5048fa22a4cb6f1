"""`gateway keys generate`: a new key pair for this node.

The files are written by `generate_own_key` (gateway/config/node_setup.py), which
`gateway init` uses too: the private key file is created with mode 0600 in one
`open(O_CREAT | O_EXCL)`, so it is never readable by others even for an instant, and an
existing key is never overwritten (a lost private key cannot be recovered; an overwritten
one silently breaks every peer).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.cli.rotate_cmds import register_rotate
from gateway.config.node_setup import generate_own_key
from gateway.config.schema import KEY_ID_PATTERN, NODE_ID_PATTERN
from gateway.config.values import format_instant, parse_instant
from gateway.crypto import KeyValidity
from gateway.ops.private_files import UnsafePath


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    keys = commands.add_parser("keys", help="manage this node's key pairs")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    generate = actions.add_parser(
        "generate",
        help="generate a signing and an encryption key pair",
        description="Write a new private key file (mode 0600) and the public key snippet that "
        "peers paste into their configs.",
    )
    generate.add_argument("--node", required=True, help="this node's id, e.g. vn-gialai-police")
    generate.add_argument("--out", required=True, type=Path, help="directory for the key files")
    generate.add_argument(
        "--key-id", help="key id; default k<YYYYMMDD> of --valid-from (UTC)", default=None
    )
    generate.add_argument(
        "--valid-from",
        help="start of validity, ISO 8601 with a zone; default now",
        default=None,
    )
    generate.add_argument(
        "--valid-days", type=int, default=365, help="length of validity in days (default 365)"
    )
    generate.set_defaults(handler=run_generate)
    register_rotate(actions)


def _fail(message: str) -> int:
    print(f"gateway keys generate: {message}", file=sys.stderr)
    return 1


def run_generate(args: argparse.Namespace) -> int:
    node: str = args.node
    if not NODE_ID_PATTERN.fullmatch(node):
        return _fail(f"--node: expected a node id matching ^{NODE_ID_PATTERN.pattern}$")
    try:
        valid_from = (
            parse_instant(args.valid_from)
            if args.valid_from
            else datetime.now(UTC).replace(microsecond=0)
        )
    except ValueError as error:
        return _fail(f"--valid-from: {error}")
    if args.valid_days < 1:
        return _fail("--valid-days: expected a whole number of days, at least 1")
    key_id: str = args.key_id or f"k{valid_from:%Y%m%d}"
    if not KEY_ID_PATTERN.fullmatch(key_id):
        return _fail(f"--key-id: expected a key id matching ^{KEY_ID_PATTERN.pattern}$")
    validity = KeyValidity(valid_from, valid_from + timedelta(days=args.valid_days))
    out: Path = args.out
    try:
        generated = generate_own_key(node, out, key_id, validity)
    except FileExistsError:
        return _fail(f"{out / (key_id + '.key')} exists; choose another --key-id or --out")
    except (OSError, UnsafePath) as error:
        return _fail(f"cannot write to {out}: {getattr(error, 'strerror', None) or error}")
    private_path = generated.private_key_file
    public_path = generated.public_key_file
    snippet = public_path.read_text(encoding="utf-8")
    print(f"# wrote {private_path} (mode 0600; keep it secret, back it up offline)")
    print(f"# wrote {public_path}")
    print("# In this node's config, under keys:")
    print(f"- id: {key_id}")
    print(f"  private_key_file: {private_path.resolve()}")
    print(f"  valid_from: {format_instant(validity.valid_from)}")
    print(f"  valid_until: {format_instant(validity.valid_until)}")
    print(snippet, end="")
    return 0
