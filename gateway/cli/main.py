"""Parser and dispatch for the `gateway` command.

Only the module of the command being run is imported (COMMANDS): the node, the console and
the demo take most of a second to import, and an operator's `gateway status` must not wait
for them. `gateway --help`, or a command not listed, loads every module.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

MODULES = (
    "keys_cmd",
    "config_cmd",
    "convert_cmd",
    "node_cmds",
    "status_cmd",
    "delivery_cmds",
    "demo_cmd",
    "users_cmd",
    "setup_cmds",
    "retention_cmd",
    "backup_cmd",
    "bundle_cmd",
    "report_cmd",
)
# Which module registers each command; a command missing here still works, more slowly.
COMMANDS = {
    "keys": "keys_cmd",
    "config": "config_cmd",
    "convert": "convert_cmd",
    "run": "node_cmds",
    "db": "node_cmds",
    "send": "node_cmds",
    "outbox": "node_cmds",
    "inbox": "node_cmds",
    "audit": "node_cmds",
    "status": "status_cmd",
    "deliveries": "delivery_cmds",
    "demo": "demo_cmd",
    "users": "users_cmd",
    "init": "setup_cmds",
    "peers": "setup_cmds",
    "retention": "retention_cmd",
    "backup": "backup_cmd",
    "restore": "backup_cmd",
    "bundle": "bundle_cmd",
    "report": "report_cmd",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of `command` alone when its module is known."""
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="Border Liaison Gateway: signed, encrypted exchange between border agencies.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else MODULES
    for module in modules:
        importlib.import_module(f"gateway.cli.{module}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments[0] if arguments else None)
    args = parser.parse_args(arguments)
    code: int = args.handler(args)
    return code


def entry() -> None:
    sys.exit(main())
