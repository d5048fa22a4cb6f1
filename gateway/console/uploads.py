"""Files attached on the console's compose forms: read a multipart post part by part, and
stage each file through the local API's one staging path.

Design notes:
- One staging path: each file goes through gateway.federation.streams.stage_afresh, exactly
  as `PUT /api/v1/attachments/{id}` (gateway/api/uploads.py) does: encrypted piece by piece
  under a fresh key, the key sealed to this node, media type, size and SHA-256 kept. The
  owner is CONSOLE_OWNER and the id is generated here, so the message the form composes
  names those ids and the Dispatcher binds them per recipient like any upload
  (`local_client=CONSOLE_OWNER`).
- Streamed: the body is read with aiohttp's MultipartReader one part at a time, and a file
  part in pieces of READ_PIECE bytes; no file is ever held whole. Text parts are bounded as
  the urlencoded forms are (form_limits: MAX_FORM_BYTES in all, MAX_FORM_FIELDS fields).
- CSRF: the urlencoded forms are checked by auth's middleware, which reads the whole body.
  A multipart post to MULTIPART_PATHS is left to this reader instead (auth.py, form_limits.py):
  the token must be the first part (the forms put the hidden field first, and browsers send
  parts in document order), so no file is staged before the post is known to be the user's.
- Nothing half-written: a file of another type or past `limits.max_attachment_bytes` is an
  error beside its field and is not kept; whenever the form is shown again with errors, or
  the post fails, every file staged for it is discarded (the officer chooses them again).
- The original file name is not kept: it often names the person, and it is neither sent nor
  needed. The console shows the generated id, the type and the size.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import BodyPartReader, hdrs, web
from multidict import MultiDict

from gateway.console.auth import CSRF_FIELD, csrf_failed, same_token
from gateway.console.form_limits import MAX_FORM_BYTES, MAX_FORM_FIELDS, MULTIPART_TYPE
from gateway.console.i18n import N_
from gateway.crypto import Keyring
from gateway.federation.streams import MEDIA_TYPES, READ_PIECE, PlaintextTooLarge, stage_afresh
from gateway.store import Store
from gateway.store.binding import StagedAttachment

# The local client id that owns what officers attach in the console.
CONSOLE_OWNER = "console"
# Files per form: a few photos per person and a few scans, not an archive.
MAX_FILES = 20

MSG_FILE_TYPE = N_("Attach photos (JPEG, PNG, WebP, TIFF) or PDF scans only")
MSG_FILE_TOO_LARGE = N_("This file is larger than the limit shown")
MSG_FILE_COUNT = N_("Too many files: attach at most 20 with one message")


@dataclass
class UploadedForm:
    """A multipart compose post: its text fields, the files staged per field, and errors."""

    form: MultiDict[str]
    files: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def staged(self) -> list[str]:
        return [attachment_id for ids in self.files.values() for attachment_id in ids]


@dataclass(frozen=True)
class AttachedFile:
    """What the console shows of a staged file: never its content."""

    attachment_id: str
    media_type: str
    size: int
    # False: no longer kept (the unreferenced-attachment sweep removed it): approving fails.
    present: bool = True


def is_multipart(request: web.Request) -> bool:
    return request.content_type == MULTIPART_TYPE


class ComposeUploads:
    """Reads compose posts with files and stages the files (see the module's note)."""

    def __init__(
        self,
        *,
        store: Store,
        keyring: Keyring,
        max_bytes: int,
        clock: Callable[[], datetime],
        executor: Executor | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self.max_bytes = max_bytes
        self._clock = clock
        self._executor = executor

    async def read(
        self, request: web.Request, *, actor: str, file_field: Callable[[str], bool]
    ) -> UploadedForm:
        """The post read whole, its files staged; csrf_failed (403) or 400 when it is not a
        compose post of the signed-in user, and then nothing is kept."""
        expected = str(request.get("csrf_token", ""))
        read = UploadedForm(MultiDict())
        try:
            await self._read(request, read, expected, actor, file_field)
        except BaseException:
            await self.discard(read.staged)
            raise
        return read

    async def _read(
        self,
        request: web.Request,
        read: UploadedForm,
        expected: str,
        actor: str,
        file_field: Callable[[str], bool],
    ) -> None:
        reader = await request.multipart()
        verified = False
        text_bytes = 0
        parts = 0
        files = 0
        while (part := await reader.next()) is not None:
            parts += 1
            if not isinstance(part, BodyPartReader) or parts > MAX_FORM_FIELDS:
                raise web.HTTPBadRequest()
            name = part.name or ""
            if part.filename is None:
                value = await _text(part, MAX_FORM_BYTES - text_bytes)
                text_bytes += len(value)
                if not verified:
                    if name != CSRF_FIELD or not same_token(value, expected):
                        raise csrf_failed()
                    verified = True
                    continue
                read.form.add(name, value)
                continue
            if not verified:
                raise csrf_failed()
            if not file_field(name):
                raise web.HTTPBadRequest()
            if not part.filename and part.headers.get(hdrs.CONTENT_TYPE) in (
                None,
                "application/octet-stream",
            ):
                continue  # a file input left empty: the browser sends an empty part
            files += 1
            if files > MAX_FILES:
                read.errors.setdefault(name, MSG_FILE_COUNT)
                continue
            media_type = (part.headers.get(hdrs.CONTENT_TYPE) or "").split(";")[0].strip()
            if media_type not in MEDIA_TYPES:
                read.errors.setdefault(name, MSG_FILE_TYPE)
                continue  # the next part() skips this one's bytes unread
            staged = await self._stage(part, media_type, actor)
            if staged is None:
                read.errors.setdefault(name, MSG_FILE_TOO_LARGE)
            else:
                read.files.setdefault(name, []).append(staged)
        if not verified:
            raise csrf_failed()

    async def _stage(self, part: BodyPartReader, media_type: str, actor: str) -> str | None:
        """Stage one file part under a new id; None past the size limit (nothing kept)."""
        attachment_id = f"console-{uuid.uuid4().hex}"
        try:
            # The one staging path (the API's PUT, drop folders): audited there, ids and
            # sizes only, never a file's name or content.
            await stage_afresh(
                self._store,
                self._keyring,
                actor=actor,
                client=CONSOLE_OWNER,
                attachment_id=attachment_id,
                plaintext=_pieces(part),
                media_type=media_type,
                max_plaintext=self.max_bytes,
                now=self._clock(),
                executor=self._executor,
            )
        except PlaintextTooLarge:
            return None
        return attachment_id

    async def discard(self, attachment_ids: Iterable[str]) -> None:
        """Remove staged files that no message will name."""
        for attachment_id in attachment_ids:
            await self._store.drop_staged_attachment(CONSOLE_OWNER, attachment_id)

    async def describe(self, attachment_ids: Sequence[str]) -> list[AttachedFile]:
        """Type and size of staged files, in the order given; absent ones marked so."""
        found: list[AttachedFile] = []
        for attachment_id in dict.fromkeys(attachment_ids):
            staged = await self._store.staged_attachment(CONSOLE_OWNER, attachment_id)
            if staged is not None and staged.complete:
                found.append(_attached(attachment_id, staged))
            else:
                found.append(AttachedFile(attachment_id, "", 0, present=False))
        return found


def _attached(attachment_id: str, staged: StagedAttachment) -> AttachedFile:
    return AttachedFile(attachment_id, staged.media_type or "", staged.plaintext_size or 0)


async def _text(part: BodyPartReader, room: int) -> str:
    """A text part, bounded by what is left of the form's byte budget; 413 past it."""
    data = bytearray()
    while chunk := await part.read_chunk(READ_PIECE):
        data += chunk
        if len(data) > room:
            raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, len(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise web.HTTPBadRequest() from None


async def _pieces(part: BodyPartReader) -> AsyncIterator[bytes]:
    while piece := await part.read_chunk(READ_PIECE):
        yield piece


def files_of(read: UploadedForm | None) -> Mapping[str, Sequence[str]]:
    return {} if read is None else read.files


__all__ = [
    "CONSOLE_OWNER",
    "AttachedFile",
    "ComposeUploads",
    "UploadedForm",
    "files_of",
]
