"""Files and folders the gateway writes: 0600 and 0700 whatever the umask, never through a
symlink.

What lies in them is police data (delivered documents, hotline exports with callers' names
and phones, error reports), so modes are set explicitly rather than left to the process
umask (`gateway run` also sets its umask to 077, for what other code creates, such as the
embedded PostgreSQL). Drop folders are shared with local systems, so a hostile or careless
user of one could plant a symlink where the gateway will write; every file is therefore
created with O_CREAT | O_EXCL | O_NOFOLLOW, and a name held by a symlink or any other
non-regular file is refused (UnsafePath), never followed, never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
_CREATE_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(Exception):  # noqa: N818 - a verdict on a path
    """Something other than a regular file stands at a path the gateway writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"not a regular file: {path.name}")
        self.path = path


def private_folder(path: Path) -> None:
    """Ensure path is a folder; the ones created here, and path itself, are 0700."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            folder.mkdir(mode=PRIVATE_FOLDER)
        os.chmod(folder, PRIVATE_FOLDER)
    info = os.stat(path)
    if stat.S_IMODE(info.st_mode) != PRIVATE_FOLDER and info.st_uid == os.geteuid():
        os.chmod(path, PRIVATE_FOLDER)


def is_regular_file(path: Path) -> bool:
    """Whether path is a regular file itself (a symlink to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def refuse_unless_regular_or_absent(path: Path) -> None:
    """UnsafePath when something other than a regular file (a symlink...) holds the name."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise UnsafePath(path)


def write_new_private(path: Path, data: bytes) -> None:
    """Create path (which must not exist) 0600 with data, synced; UnsafePath on a symlink.

    FileExistsError when a regular file holds the name: the caller decides whether it is its
    own leftover."""
    try:
        descriptor = os.open(path, _CREATE_NEW, PRIVATE_FILE)
    except FileExistsError:
        refuse_unless_regular_or_absent(path)
        raise
    except OSError as error:
        # ELOOP: O_NOFOLLOW met a symlink at the last component.
        if error.errno == errno.ELOOP:
            raise UnsafePath(path) from None
        raise
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace_private(path: Path, data: bytes) -> None:
    """Write data at path 0600, replacing a regular file there, atomically (temporary file
    and rename); UnsafePath when a symlink or other non-regular file holds the name."""
    refuse_unless_regular_or_absent(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if is_regular_file(temporary):
        temporary.unlink()
    write_new_private(temporary, data)
    # rename never follows a symlink at the target: at worst one planted since the check
    # above is replaced, never written through.
    os.replace(temporary, path)


def sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
