"""Parser and dispatch for the `gateway` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gateway.cli import (
    backup_cmd,
    config_cmd,
    convert_cmd,
    delivery_cmds,
    demo_cmd,
    keys_cmd,
    node_cmds,
    retention_cmd,
    users_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Border Liaison Gateway: signed, encrypted exchange between border agencies.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    keys_cmd.register(commands)
    config_cmd.register(commands)
    convert_cmd.register(commands)
    node_cmds.register(commands)
    delivery_cmds.register(commands)
    demo_cmd.register(commands)
    users_cmd.register(commands)
    retention_cmd.register(commands)
    backup_cmd.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def entry() -> None:
    sys.exit(main())
