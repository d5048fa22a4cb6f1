"""Attachments of an outgoing drop folder: files in `<folder>/attachments/`, named by id.

A drop-folder partner cannot call `PUT /api/v1/attachments/{id}`, so it puts each photo or
scan its records name (vn-police-json `anh[]` / `tai_lieu[]`, kh-police-xml `Photo ref=` /
`Document ref=`) as the file `attachments/<id>` before it drops the record. Design:

- Before a record is judged, every id it names that is not yet a complete upload of the
  client is staged from its file through the API's own staging path
  (gateway.federation.streams.stage_afresh): streamed in pieces, encrypted as read, bounded
  by `limits.max_attachment_bytes` of plaintext. Nothing is held whole.
- The media type comes from the file's first bytes (JPEG, PNG, WebP, PDF, TIFF), as a file
  carries no Content-Type; anything else refuses the record, naming the field.
- An id is used as a file name only when it is in the upload alphabet and not `.`/`..`;
  only a regular file is read, never through a symlink (O_NOFOLLOW + fstat).
- A problem refuses that record only: (field path, reason) goes to the file's `.errors`.
- After the records are queued, the files they named move to `done/attachments/` (0700
  folder, 0600 files), aged from the move so retention purges them with the records.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from gateway.crypto import Keyring
from gateway.federation.outgoing_attachments import attachment_refs
from gateway.federation.streams import (
    ATTACHMENT_ID,
    MEDIA_TYPES,
    READ_PIECE,
    PlaintextTooLarge,
    StagingLocks,
    stage_afresh,
)
from gateway.ops.private_files import PRIVATE_FILE, private_folder
from gateway.store import Store
from gateway.wire import canonical

ATTACHMENTS = "attachments"
# How many leading bytes decide the media type (WebP needs 12).
SNIFF_BYTES = 16


def sniff_media_type(head: bytes) -> str | None:
    """The media type a file's first bytes show, among the accepted ones; None otherwise."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return None


def usable_id(attachment_id: str) -> bool:
    """An id that can name a file of attachments/ and nothing else."""
    return ATTACHMENT_ID.fullmatch(attachment_id) is not None and attachment_id not in {
        ".",
        "..",
    }


class FolderAttachments:
    """Stages the attachment files of one client's outgoing drop folder."""

    def __init__(
        self,
        *,
        client: str,
        folder: Path,
        store: Store,
        keyring: Keyring,
        max_bytes: int,
        clock: Callable[[], datetime],
        executor: Executor | None = None,
        locks: StagingLocks | None = None,
    ) -> None:
        self._client = client
        self._folder = folder / ATTACHMENTS
        self._store = store
        self._keyring = keyring
        self._max_bytes = max_bytes
        self._clock = clock
        self._executor = executor
        # Shared with the API's uploads (app.py): never two stagings of one id at once.
        self._locks = locks or StagingLocks()

    async def stage(self, message: canonical.Message) -> tuple[str, str] | None:
        """Stage every file the message names that is not a complete upload yet; the first
        problem as (field path, reason), or None when every id is a complete upload."""
        for path, attachment_id in attachment_refs(message):
            async with self._locks.hold(self._client, attachment_id):
                staged = await self._store.staged_attachment(self._client, attachment_id)
                if staged is not None and staged.complete:
                    continue
                problem = await self._stage_file(attachment_id)
            if problem is not None:
                return path, problem
        return None

    async def _stage_file(self, attachment_id: str) -> str | None:
        missing = f"expected a file {ATTACHMENTS}/{attachment_id} or an upload"
        if not usable_id(attachment_id):
            return "expected 1 to 128 of A-Z a-z 0-9 . _ - (not . or ..)"
        try:
            descriptor = os.open(
                self._folder / attachment_id, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
            )
        except (FileNotFoundError, NotADirectoryError):
            return missing
        except OSError:
            return f"{missing}: {ATTACHMENTS}/{attachment_id} is not a readable regular file"
        with os.fdopen(descriptor, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                return f"{missing}: {ATTACHMENTS}/{attachment_id} is not a regular file"
            os.fchmod(file.fileno(), PRIVATE_FILE)
            if info.st_size > self._max_bytes:
                return _too_large(self._max_bytes)
            media_type = sniff_media_type(file.read(SNIFF_BYTES))
            if media_type is None:
                return f"expected a file of type {', '.join(MEDIA_TYPES)} (by its first bytes)"
            file.seek(0)
            try:
                await stage_afresh(
                    self._store,
                    self._keyring,
                    actor=f"drop-folder:{self._client}",
                    client=self._client,
                    attachment_id=attachment_id,
                    plaintext=_pieces(file),
                    media_type=media_type,
                    max_plaintext=self._max_bytes,
                    now=self._clock(),
                    executor=self._executor,
                )
            except PlaintextTooLarge:
                return _too_large(self._max_bytes)
        return None

    def move_done(self, done: Path, messages: Iterable[canonical.Message]) -> None:
        """The files the queued messages named, moved to done/attachments/ (0700/0600)."""
        target_folder = done / ATTACHMENTS
        ids = {aid for message in messages for _, aid in attachment_refs(message)}
        for attachment_id in sorted(ids):
            if not usable_id(attachment_id):
                continue
            source = self._folder / attachment_id
            try:
                info = source.lstat()
            except FileNotFoundError:
                continue  # uploaded through the API, or named by an earlier record too
            if not stat.S_ISREG(info.st_mode):
                continue
            private_folder(target_folder)
            target = target_folder / attachment_id
            counter = 1
            while os.path.lexists(target):
                target = target_folder / f"{attachment_id}.{counter}"
                counter += 1
            os.chmod(source, PRIVATE_FILE, follow_symlinks=False)
            # Aged from the move: retention purges done/ by this time.
            os.utime(source, follow_symlinks=False)
            source.replace(target)


async def _pieces(file: BinaryIO) -> AsyncIterator[bytes]:
    # Local disk, read a piece at a time: memory stays bounded whatever the file's size.
    while piece := file.read(READ_PIECE):
        yield piece


def _too_large(limit: int) -> str:
    return f"at most {limit} bytes per attachment (limits.max_attachment_bytes)"
