"""`gateway backup` and `gateway restore`: the node's database to one file and back.

See gateway/ops/backup.py for how (pg_dump -Fc / pg_restore, which binaries, what is
refused). Progress and errors go to stderr; a failure is one line naming what to do, exit
status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import add_config_argument, fail, with_config
from gateway.config import NodeConfig
from gateway.ops.backup import BackupError, backup, restore
from gateway.ops.private_files import UnsafePath


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    made = commands.add_parser(
        "backup",
        help="write the node's database to a file (pg_dump -Fc)",
        description="Write a consistent copy of the node's database to FILE (mode 0600), "
        "also while the node runs. Keys and configuration are not in it: keep them apart.",
    )
    add_config_argument(made)
    made.add_argument("--out", required=True, type=Path, metavar="FILE", help="the new file")
    made.set_defaults(handler=with_config(_backup))

    back = commands.add_parser(
        "restore",
        help="restore the node's database from a backup (pg_restore)",
        description="Restore FILE, made by gateway backup, into the node's database, with the "
        "node stopped. Refuses a database that is not empty unless --force.",
    )
    add_config_argument(back)
    back.add_argument("file", type=Path, metavar="FILE", help="a file made by gateway backup")
    back.add_argument(
        "--force", action="store_true", help="replace everything in a non-empty database"
    )
    back.set_defaults(handler=with_config(_restore))


def _progress(command: str) -> Any:  # noqa: ANN401 - a callable of str
    def say(line: str) -> None:
        print(f"gateway {command}: {line}", file=sys.stderr, flush=True)

    return say


def _backup(args: argparse.Namespace, config: NodeConfig) -> int:
    try:
        asyncio.run(backup(config, args.out, _progress("backup")))
    except (BackupError, UnsafePath, OSError) as error:
        return fail("backup", _reason(error))
    except Exception as error:  # the database or the embedded server: one line, no trace
        return fail(
            "backup", f"failed on the node's database or its server: {type(error).__name__}"
        )
    return 0


def _restore(args: argparse.Namespace, config: NodeConfig) -> int:
    try:
        restored = asyncio.run(
            restore(config, args.file, force=args.force, progress=_progress("restore"))
        )
    except (BackupError, OSError) as error:
        return fail("restore", _reason(error))
    except Exception as error:  # the database or the embedded server: one line, no trace
        return fail(
            "restore", f"failed on the node's database or its server: {type(error).__name__}"
        )
    applied = ", ".join(restored.migrations) or "none needed"
    print(
        f"restored {args.file}: audit chain intact ({restored.audit_entries} entries); "
        f"migrations applied: {applied}"
    )
    return 0


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename or ''}: {error.strerror}".lstrip(": ")
    return str(error)
