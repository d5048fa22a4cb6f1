"""`gateway demo`: run the four-node federation locally and show a message exchange.

The command only parses its options and reports failures; gateway/demo/ does the work and
explains why it is built the way it is.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import fail
from gateway.demo import DemoError, DemoOptions, run_demo


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    demo = commands.add_parser(
        "demo",
        help="run four gateways on loopback and exchange the partner samples",
        description="Generate keys and configs for the four nodes of the first federation, "
        "start one embedded PostgreSQL and the four nodes as processes on 127.0.0.1, send the "
        "partners' sample messages between them and show each one's delivery and signed "
        "receipt. Every node gets a console user per role and a local API client; their "
        "passwords and tokens go into a 0600 file in the work directory. Then keep the nodes "
        "running until Ctrl-C (printing each console's URL and a curl to try the API), or stop "
        "with --once.",
    )
    demo.add_argument(
        "--once",
        action="store_true",
        help="stop after the exchange; exit 0 only if every message was delivered and receipted",
    )
    demo.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="a new or empty directory for keys, configs, logs and the database, kept "
        "afterwards (default: a temporary directory, removed at the end)",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = DemoOptions(workdir=args.workdir, once=args.once)
    try:
        return asyncio.run(run_demo(options))
    except DemoError as error:
        if error.details:
            print(error.details, file=sys.stderr)
        return fail("demo", str(error))
    except KeyboardInterrupt:  # before the demo's own signal handling was in place
        return fail("demo", "interrupted")
