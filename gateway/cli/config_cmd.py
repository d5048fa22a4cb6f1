"""`gateway config check FILE`: validate a node configuration before deploying it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, load_config


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    config = commands.add_parser("config", help="work with node configuration files")
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="validate a node configuration file",
        description="Exit 0 when FILE is a valid node configuration and every key file it "
        "names is present and private; otherwise print one line per problem "
        "(FILE:LINE: KEY: what was expected) and exit 1.",
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the node's YAML configuration")
    check.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return 1
    print(
        f"{args.file}: ok: node {config.node.id}, {len(config.keys)} key pair(s), "
        f"{len(config.peers)} peer(s), {len(config.local_clients)} local client(s)"
    )
    return 0
