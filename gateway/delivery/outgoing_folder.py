"""Watching an outgoing drop folder: files in, alerts out, errors beside, file to done/.

Only regular files are taken (a symlink could point anywhere the gateway can read). The
`.errors` report is written 0600 and never through a symlink: one planted at its name is
refused, counted and logged by name only. A file moved to `done/` is made 0600 and its time
set to the move, so retention (purge_done) counts its age from then.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from adapters import Adapter, DocumentInvalid
from gateway.delivery.folder_attachments import ATTACHMENTS, FolderAttachments
from gateway.documents import DocumentDecoder
from gateway.federation.outgoing import Dispatcher, SubmissionRefused
from gateway.ops.logs import fields
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.private_files import PRIVATE_FILE, UnsafePath, private_folder, replace_private
from gateway.store import AlreadyQueued, DroppedFile, Store
from gateway.wire import canonical

log = logging.getLogger(__name__)

DONE = "done"
ERRORS_SUFFIX = ".errors"
# A file younger than this may still be being written by a copy that is not atomic.
SETTLE_SECONDS = 1.0


class OutgoingFolderWatcher:
    """Polls one folder for one local client."""

    def __init__(
        self,
        *,
        client: str,
        folder: Path,
        adapter: Adapter,
        recipients: Sequence[str],
        dispatcher: Dispatcher,
        decoder: DocumentDecoder,
        store: Store,
        poll_interval: float,
        metrics: GatewayMetrics,
        attachments: FolderAttachments | None = None,
    ) -> None:
        self._client = client
        self._folder = folder
        self._adapter = adapter
        self._recipients = tuple(recipients)
        self._dispatcher = dispatcher
        self._decoder = decoder
        self._store = store
        self._poll_interval = poll_interval
        self._metrics = metrics
        # Stages attachments/<id> files; None: records may name only API uploads.
        self._attachments = attachments

    async def run(self) -> None:
        private_folder(self._folder / DONE)
        while True:
            try:
                await self.scan()
            except Exception:
                log.exception("outgoing_folder_scan_failed", extra=fields(client=self._client))
            await asyncio.sleep(self._poll_interval)

    def _ready_files(self) -> list[Path]:
        now = time.time()
        ready = []
        for path in sorted(self._folder.iterdir()):
            if path.name.startswith(".") or path.name.endswith(ERRORS_SUFFIX):
                continue
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= SETTLE_SECONDS:
                ready.append(path)
        return ready

    async def scan(self) -> int:
        """Process every settled file; returns how many."""
        files = self._ready_files()
        for path in files:
            try:
                await self.process(path)
            except Exception as error:
                # Left in place for the next scan (a database outage passes); the files after
                # it still go on, so one file never holds up the folder. The type only: a
                # database error's text can quote a value of the file.
                log.warning(
                    "outgoing_file_failed",
                    extra=fields(client=self._client, error_type=type(error).__name__),
                )
        return len(files)

    async def process(self, path: Path) -> None:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as dropped_file:
            # A caller's export, written with the hotline's umask: 0600 before it goes to done/.
            os.fchmod(dropped_file.fileno(), PRIVATE_FILE)
            data = dropped_file.read()
        digest = hashlib.sha256(data).digest()
        if await self._store.dropped_file_seen(self._client, digest):
            # Queued before a crash kept us from moving it, or dropped twice: never twice sent.
            self._move_done(path, await self._named_by(data))
            self._metrics.dropped_files.labels(self._client, "already_queued").inc()
            return
        errors: list[str] = []
        messages: list[canonical.Message] = []
        try:
            result = await self._decoder.decode(self._adapter, data)
        except DocumentInvalid as invalid:
            errors += [str(problem) for problem in invalid.problems]
        else:
            for record in result.rejected:
                errors += record.lines()
            for decoded in result.messages:
                try:
                    self._dispatcher.normalise(decoded.message)
                    # Here, not only in submit_all: a refusal there would refuse every record.
                    recipients = await self._dispatcher.check_links(
                        decoded.message, self._recipients, f"drop-folder:{self._client}"
                    )
                    self._dispatcher.check(decoded.message, recipients)
                    await self._stage_attachments(decoded.message)
                    # An attachment the client did not upload refuses its record only.
                    await self._dispatcher.check_attachments(decoded.message, self._client)
                except SubmissionRefused as refused:
                    errors.append(f"{decoded.record}: {refused.field}: {refused.message}")
                    continue
                messages.append(decoded.message)
        if errors:
            # Written before queueing: a crash after the commit must not lose the report.
            self._write_errors(path, errors, digest)
        dropped = DroppedFile(self._client, digest, path.name, len(messages), len(errors))
        try:
            await self._dispatcher.submit_all(
                messages,
                self._recipients,
                actor=f"drop-folder:{self._client}",
                local_client=self._client,
                dropped_file=dropped,
            )
        except AlreadyQueued:
            self._move_done(path, messages)
            return
        self._move_done(path, messages)
        result_label = "partly_rejected" if errors and messages else "rejected" if errors else "ok"
        self._metrics.dropped_files.labels(self._client, result_label).inc()
        log.info(
            "outgoing_file_queued",
            extra=fields(
                client=self._client,
                # By content, not name: a local system may name a file after a person
                # (`sha256sum done/*` finds it).
                file_sha256=digest.hex(),
                queued=len(messages),
                rejected=len(errors),
            ),
        )

    async def _stage_attachments(self, message: canonical.Message) -> None:
        """The record's attachment files staged as uploads; a problem refuses the record."""
        if self._attachments is None:
            return
        problem = await self._attachments.stage(message)
        if problem is not None:
            field, reason = problem
            raise SubmissionRefused("attachment_unknown", field, reason)

    async def _named_by(self, data: bytes) -> list[canonical.Message]:
        """The messages of a file queued before: their attachment files still go to done/."""
        if self._attachments is None:
            return []
        try:
            result = await self._decoder.decode(self._adapter, data)
        except DocumentInvalid:
            return []
        return [decoded.message for decoded in result.messages]

    def _write_errors(self, path: Path, errors: Sequence[str], digest: bytes) -> None:
        errors_file = self._folder / f"{path.name}{ERRORS_SUFFIX}"
        report = "".join(f"{line}\n" for line in errors).encode("utf-8")
        try:
            replace_private(errors_file, report)
        except UnsafePath:
            self._metrics.unsafe_paths.labels(self._client, "errors").inc()
            log.warning(
                "errors_file_not_written",
                extra=fields(
                    client=self._client,
                    file_sha256=digest.hex(),
                    errors=len(errors),
                    hint="a symlink or other non-regular file holds the name",
                ),
            )

    def _move_done(self, path: Path, messages: Sequence[canonical.Message] = ()) -> None:
        if self._attachments is not None:
            # Before the record: a crash between leaves the record to find them again.
            self._attachments.move_done(self._folder / DONE, messages)
        target = self._folder / DONE / path.name
        counter = 1
        while os.path.lexists(target):
            target = self._folder / DONE / f"{path.stem}.{counter}{path.suffix}"
            counter += 1
        # Aged from the move: retention purges done/ by this time.
        os.utime(path, follow_symlinks=False)
        path.replace(target)


def purge_done(folder: Path, older_than: timedelta, now: float, *, dry_run: bool = False) -> int:
    """Delete regular files in folder/done/ moved there before now - older_than; how many
    (with dry_run, how many it would delete, deleting none)."""
    done = folder / DONE
    cutoff = now - older_than.total_seconds()
    removed = 0
    entries: list[Path] = []
    # Attachment files moved with their records (gateway.delivery.folder_attachments) age alike.
    for place in (done, done / ATTACHMENTS):
        try:
            entries += list(place.iterdir())
        except FileNotFoundError:
            continue
    for path in entries:
        try:
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                if not dry_run:
                    path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # removed meanwhile (another node sharing the folder)
    return removed
