"""What several subcommands share: loading a config or explaining why not."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.config import ConfigError, NodeConfig, load_config


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", required=True, type=Path, metavar="FILE", help="the node's YAML configuration"
    )


def load_or_report(path: Path) -> NodeConfig | None:
    """The config, or None after printing one line per problem on stderr."""
    try:
        return load_config(path)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return None


def fail(command: str, message: str) -> int:
    print(f"gateway {command}: {message}", file=sys.stderr)
    return 1
