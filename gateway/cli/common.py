"""What several subcommands share: loading a config or explaining why not."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from gateway.config import ConfigError, NodeConfig, load_config
from gateway.ops.database import open_database
from gateway.store import Store

_T = TypeVar("_T")

ConfigCommand = Callable[[argparse.Namespace, NodeConfig], int]
StoreCommand = Callable[[argparse.Namespace, NodeConfig, Store], Awaitable[int]]


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


def with_config(command: ConfigCommand) -> Callable[[argparse.Namespace], int]:
    """An argparse handler that runs command with the node's config, or exits 1 after
    printing why it cannot be loaded."""

    def handler(args: argparse.Namespace) -> int:
        config = load_or_report(args.config)
        if config is None:
            return 1
        return command(args, config)

    return handler


async def on_store(config: NodeConfig, work: Callable[[Store], Awaitable[_T]]) -> _T:
    """work run against the node's database, opened (and migrated) for it and closed after."""
    database = await open_database(config)
    try:
        return await work(database.store)
    finally:
        await database.close()


def with_store(command: StoreCommand) -> Callable[[argparse.Namespace], int]:
    """An argparse handler that runs command against the node's database."""

    def handler(args: argparse.Namespace) -> int:
        config = load_or_report(args.config)
        if config is None:
            return 1
        return asyncio.run(on_store(config, lambda store: command(args, config, store)))

    return handler
