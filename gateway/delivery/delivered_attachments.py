"""Attachments of a message delivered into a drop folder: files beside the message file.

A received message's attachments (verified at acceptance, PROTOCOL 7.4) are written as
`<message file stem>.attachments/<attachment id>` (folder 0700, files 0600). Design:

- Plaintext comes only from AttachmentReader.verify: the stream is checked whole (hash,
  tags, size) before a byte is released, so a partner never gets part of a photo.
- Each file is written under a dot temporary name in the folder (created 0600, never
  through a symlink), synced, then renamed: a name that exists holds the whole attachment.
- All attachments are written before the message file's name is recorded and the message
  renamed into place (gateway.delivery.targets.DropFolderTarget), so a partner never sees a
  message before its attachments. A crash before that record redelivers afresh: the
  renames replace the same content, a leftover temporary is removed, nothing is doubled.
- A stream not all here yet (409) leaves the delivery for a retry; one that can never be
  read (502 corrupt at rest, an id no file may carry) holds the delivery aside with its
  reason code, as an unrenderable message is, so the feed goes on. Ids are wire ids
  (random, 7.4), never content.
"""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections.abc import Sequence
from pathlib import Path

from gateway.attachments_read import AttachmentReader, AttachmentReadError
from gateway.delivery.folder_attachments import usable_id
from gateway.ops.private_files import (
    PRIVATE_FILE,
    UnsafePath,
    private_folder,
    refuse_unless_regular_or_absent,
    sync_folder,
)
from gateway.wire import envelope

SUFFIX = ".attachments"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class AttachmentNotWritten(Exception):  # noqa: N818 - a state of the stream
    """An attachment could not be read whole; reason is a short code. final: no retry can
    help (corrupt at rest, an id no file may have), so the delivery is held aside rather
    than stalling the client's feed; otherwise it is retried (not all pushed yet)."""

    def __init__(self, reason: str, *, final: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


def attachments_folder(message_file: Path) -> Path:
    """Where the attachments of the message file go."""
    return message_file.with_name(f"{Path(message_file.name).stem}{SUFFIX}")


async def write_attachments(
    reader: AttachmentReader,
    message_file: Path,
    *,
    sender: str,
    message_id: uuid.UUID,
    keys: Sequence[envelope.AttachmentKey],
) -> int:
    """Every attachment of the message written whole beside message_file; how many.
    Raises AttachmentNotWritten, UnsafePath or OSError (the delivery is retried)."""
    usable = [key for key in keys if usable_id(key.attachment_id)]
    if len(usable) != len(keys):
        raise AttachmentNotWritten("attachment_id_unusable", final=True)
    if not usable:
        return 0
    folder = attachments_folder(message_file)
    try:
        info = folder.lstat()
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafePath(folder)  # a symlink planted at the name is never followed
    private_folder(folder)
    for key in usable:
        await _write_one(reader, folder, sender, message_id, key)
    sync_folder(folder)
    return len(usable)


async def _write_one(
    reader: AttachmentReader,
    folder: Path,
    sender: str,
    message_id: uuid.UUID,
    key: envelope.AttachmentKey,
) -> None:
    final = folder / key.attachment_id
    temporary = folder / f".{key.attachment_id}.tmp"
    refuse_unless_regular_or_absent(final)
    try:
        verified = await reader.verify(sender, message_id, key)
    except AttachmentReadError as refused:
        raise AttachmentNotWritten(
            refused.code, final=refused.code != "attachment_unavailable"
        ) from None
    loop = asyncio.get_running_loop()
    try:
        try:
            descriptor = os.open(temporary, _CREATE, PRIVATE_FILE)
        except FileExistsError:
            # Our own leftover from a crash part-way through this file.
            refuse_unless_regular_or_absent(temporary)
            temporary.unlink()
            descriptor = os.open(temporary, _CREATE, PRIVATE_FILE)
        with os.fdopen(descriptor, "wb") as out:
            async for piece in verified.pieces():
                await loop.run_in_executor(None, out.write, piece)
            out.flush()
            await loop.run_in_executor(None, os.fsync, out.fileno())
    finally:
        verified.close()
    os.replace(temporary, final)
