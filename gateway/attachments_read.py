"""Reading received attachments: verified plaintext for permitted local clients and users.

A received message names its attachments in its sealed payload (AttachmentKey, docs/PROTOCOL.md
7.2); the peer pushed each encrypted stream beforehand (7.4), stored under (sender,
'incoming', id). Reading one (`AttachmentReader.verify`) goes:

1. The caller finds the inbox row and decides visibility (the inbox's rule for local clients,
   the console's content rule for users): this module never decides who may read.
2. `open_message` opens the sealed envelope on a worker thread and returns the message and
   its AttachmentKeys; the key is only there, so the envelope, not a table, is the authority
   on which attachments a message has.
3. The stored stream must be complete (else 409 attachment_unavailable: the sender has not
   finished pushing it) and its stored SHA-256 must equal the key's ciphertext_sha256 (else
   502 attachment_corrupt) before any decryption.
4. The stream is decrypted chunk by chunk (gateway.crypto.decrypt_attachment) on a worker
   thread, reading the stored rows one at a time from the event loop, into a temporary file.
   PROTOCOL 7.3 forbids releasing plaintext before the whole-stream checks (final tag, hash,
   size) pass, and those come only at the end: so nothing is sent until the file is complete
   and every check passed; on any failure the file is dropped and the answer is 502
   attachment_corrupt (the peer's data is not what its signed envelope promised: an upstream
   fault, not the client's, and retrying will not help), never a partial body.
5. The temporary file is `tempfile.TemporaryFile` in a 0700 folder of its own: 0600, and on
   Linux without a name at all (O_TMPFILE; elsewhere unlinked at once), so it is gone when
   closed, and even after a kill -9 nothing of it stays on disk. The caller streams it out in
   READ_PIECE pieces, then closes it.

Memory is bounded: one stored row (1 MiB) and one secretstream chunk in the decrypting
thread, one READ_PIECE in the answering task, whatever the size. At most MAX_CONCURRENT
decryptions run at once (each costs a thread and up to max_attachment_bytes of temporary
disk); others wait their turn.

Why 502 for a stream whose stored hash differs: the receiver stored what the peer sent, and
it is not the stream the envelope names. A sender that later pushes the right stream cannot
replace a complete one (7.4), so this is final for that stream.

Nothing here logs content: failures are logged by message id, attachment id (random ids,
7.4) and reason code.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from google.protobuf.message import DecodeError

from gateway.crypto import (
    AttachmentInvalid,
    EnvelopeRejected,
    Keyring,
    decrypt_attachment,
    reopen_stored,
)
from gateway.ops.logs import fields
from gateway.store import Store
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import canonical, envelope

log = logging.getLogger(__name__)

# The id alphabet of PROTOCOL 7.4: anything else cannot name a stored stream.
ATTACHMENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# A media type as a header may carry it (RFC 6838 names, no parameters); anything else a
# peer declares is served as application/octet-stream.
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
OCTET_STREAM = "application/octet-stream"
# Shown inline on the console: raster formats a browser decodes as images, never SVG (which
# is a document, with script).
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/webp"})
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "image/tiff": ".tif",
}
READ_PIECE = 256 * 1024
MAX_CONCURRENT = 4
# How long the decrypting thread waits for one stored row before giving up (the loop is
# gone or the database hangs): the thread must end, whatever the request does.
_ROW_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class AttachmentInfo:
    """What a listing shows of an attachment: never its key."""

    attachment_id: str
    media_type: str
    plaintext_size: int

    @property
    def inline_image(self) -> bool:
        return self.media_type in INLINE_IMAGES

    @property
    def file_name(self) -> str:
        """A download's file name: the id (a safe alphabet) and an extension by type."""
        return self.attachment_id + _EXTENSIONS.get(self.media_type, "")


def info_of(key: envelope.AttachmentKey) -> AttachmentInfo:
    media_type = key.media_type.lower()
    return AttachmentInfo(
        key.attachment_id,
        media_type if _MEDIA_TYPE.fullmatch(media_type) else OCTET_STREAM,
        key.plaintext_size,
    )


class AttachmentReadError(Exception):
    """A read that cannot be served: status, machine-readable code, a message for the caller
    (no content, no key)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def not_found() -> AttachmentReadError:
    """The one answer for an unknown message, one the caller may not see, and an id the
    message does not name: they must not be told apart."""
    return AttachmentReadError(
        404, "attachment_not_found", "no attachment with this id in a message this caller may see"
    )


@dataclass(frozen=True)
class OpenedMessage:
    """A received message as opened for an attachment read."""

    message: canonical.Message | None
    keys: tuple[envelope.AttachmentKey, ...]

    def key(self, attachment_id: str) -> envelope.AttachmentKey | None:
        return next((k for k in self.keys if k.attachment_id == attachment_id), None)


class VerifiedAttachment:
    """An attachment whose every check passed: its plaintext in a nameless 0600 file."""

    def __init__(self, info: AttachmentInfo, file: IO[bytes]) -> None:
        self.info = info
        self._file = file

    async def pieces(self) -> AsyncIterator[bytes]:
        """The plaintext in READ_PIECE pieces; closes the file at the end (or when the
        consumer stops early)."""
        loop = asyncio.get_running_loop()
        try:
            while piece := await loop.run_in_executor(None, self._file.read, READ_PIECE):
                yield piece
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()


class _Stopped(Exception):  # noqa: N818 - not an error: the reader went away
    """Raised in the decrypting thread once its caller was cancelled."""


class _RowSource:
    """The stored stream as a blocking byte source for decrypt_attachment on a worker thread:
    each row is fetched on the event loop when the thread needs it, so at most one row (plus
    what a read asked for) is held."""

    def __init__(self, rows: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._rows = rows
        self._loop = loop
        self._pending = bytearray()
        self._ended = False
        self._stopped = False

    def stop(self) -> None:
        """Make the decrypting thread's next read fail: nobody waits for its result."""
        self._stopped = True

    async def _next(self) -> bytes | None:
        return await anext(self._rows, None)

    def read(self, size: int = -1, /) -> bytes:
        if self._stopped:
            raise _Stopped
        while not self._ended and (size < 0 or len(self._pending) < size):
            row = asyncio.run_coroutine_threadsafe(self._next(), self._loop).result(_ROW_TIMEOUT_S)
            if row is None:
                self._ended = True
            else:
                self._pending += row
        if size < 0:
            size = len(self._pending)
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data


class AttachmentReader:
    """Opens received messages and verifies and decrypts their attachments (module doc)."""

    def __init__(self, store: Store, keyring: Keyring, *, spool: Path | None = None) -> None:
        self._store = store
        self._keyring = keyring
        self._spool = spool
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    def _spool_folder(self) -> Path:
        # Made on first use: mkdtemp creates it 0700, for this process only.
        if self._spool is None:
            self._spool = Path(tempfile.mkdtemp(prefix="blg-attachments-"))
        return self._spool

    async def open_message(self, data: bytes | None) -> OpenedMessage:
        """The message and AttachmentKeys of a stored envelope, opened on a worker thread.
        Raises AttachmentReadError 410 content_deleted (retention deleted it) or 500
        envelope_unreadable (it no longer opens with this node's keys)."""
        if data is None:
            raise AttachmentReadError(
                410, "content_deleted", "the message's content was deleted under retention"
            )

        def work() -> OpenedMessage:
            opened = reopen_stored(self._keyring, data)
            try:
                message: canonical.Message | None = canonical.Message.FromString(
                    opened.payload.message
                )
            except DecodeError:
                message = None
            return OpenedMessage(message, tuple(opened.payload.attachments))

        try:
            return await asyncio.get_running_loop().run_in_executor(None, work)
        except EnvelopeRejected as rejected:
            log.error("attachment_envelope_unreadable", extra=fields(reason=rejected.reason))
            raise AttachmentReadError(
                500, "envelope_unreadable", "the message no longer opens with this node's keys"
            ) from None

    async def verify(
        self, sender: str, message_id: uuid.UUID, key: envelope.AttachmentKey
    ) -> VerifiedAttachment:
        """The attachment's plaintext once every check of PROTOCOL 7.3 passed (module doc,
        steps 3 to 5). Raises AttachmentReadError 404, 409 or 502."""
        if not ATTACHMENT_ID.fullmatch(key.attachment_id):
            raise not_found()  # no stream can be stored under such an id
        ref = AttachmentKeyRef(sender, "incoming", key.attachment_id)
        progress = await self._store.attachment_progress(ref)
        if progress is None or progress.state == "receiving":
            raise AttachmentReadError(
                409,
                "attachment_unavailable",
                "the sender has not finished transferring this attachment; try again later",
            )
        if progress.stream_sha256 != key.ciphertext_sha256:
            self._corrupt(sender, message_id, key, "attachment_mismatch")
        async with self._slots:
            loop = asyncio.get_running_loop()
            rows = self._store.read_attachment(ref)
            source = _RowSource(rows, loop)
            file = tempfile.TemporaryFile(dir=self._spool_folder())  # noqa: SIM115 - handed on
            # The thread and the row reader it drives are one task, shielded: a caller that
            # goes away (a client that disconnects) stops the thread at its next read, and
            # the task then closes the rows and the file itself, never while the thread
            # still uses them.
            work = asyncio.ensure_future(_decrypt(loop, rows, source, file, key))
            try:
                await asyncio.shield(work)
                file.seek(0)
            except asyncio.CancelledError:
                source.stop()
                work.add_done_callback(_closing(file))
                raise
            except AttachmentInvalid as invalid:
                file.close()
                self._corrupt(sender, message_id, key, invalid.reason)
            except BaseException:
                file.close()
                raise
        return VerifiedAttachment(info_of(key), file)

    @staticmethod
    def _corrupt(
        sender: str, message_id: uuid.UUID, key: envelope.AttachmentKey, reason: str
    ) -> NoReturn:
        log.warning(
            "attachment_refused",
            extra=fields(
                peer=sender, message_id=message_id, attachment=key.attachment_id, reason=reason
            ),
        )
        raise AttachmentReadError(
            502,
            "attachment_corrupt",
            "the stored attachment is not the one the message names; ask the sender again",
        )


def _closing(file: IO[bytes]) -> Callable[[asyncio.Future[None]], None]:
    """A done-callback for an abandoned decryption: close its file, and take its outcome so
    that an error (already logged by nobody) is not reported as never retrieved."""

    def done(work: asyncio.Future[None]) -> None:
        file.close()
        if not work.cancelled() and work.exception() is not None:
            log.warning(
                "attachment_read_abandoned",
                extra=fields(error_type=type(work.exception()).__name__),
            )

    return done


async def _decrypt(
    loop: asyncio.AbstractEventLoop,
    rows: AsyncIterator[bytes],
    source: _RowSource,
    file: IO[bytes],
    key: envelope.AttachmentKey,
) -> None:
    """decrypt_attachment on a worker thread; the rows are closed when it ends, whatever the
    outcome (a stopped read ends it quietly)."""
    try:
        await loop.run_in_executor(None, decrypt_attachment, source, file, key)
    except _Stopped:
        pass
    finally:
        await rows.aclose()  # type: ignore[attr-defined]


def visible_to_client(handling: str | None, victim_protected: bool) -> bool:
    """The inbox's rule (inbox_after_unprotected): a client not allowed victims' data never
    sees victim-protected messages, nor those of unknown marking (read as the strictest)."""
    return victim_protected or (handling or "victim_protected") != "victim_protected"


__all__ = [
    "ATTACHMENT_ID",
    "INLINE_IMAGES",
    "AttachmentInfo",
    "AttachmentReadError",
    "AttachmentReader",
    "OpenedMessage",
    "VerifiedAttachment",
    "info_of",
    "not_found",
    "visible_to_client",
]
