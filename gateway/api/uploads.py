"""Local uploads of attachments: PUT /api/v1/attachments/{attachment_id}.

A local system uploads a photo or a scanned record before the message that names it
(vn-police-json `anh[]` / `tai_lieu[]`, kh-police-xml `Photo ref=` / `Document ref=`); the id
is the client's own. Design:

- Streamed: the body is read in pieces and encrypted as it comes (docs/PROTOCOL.md 7.1,
  under a fresh key) into a staging stream owned by the client (gateway.federation.streams);
  the plaintext is never held whole and never stored. The key is stored sealed to this
  node's own key, with the media type, the plaintext size and its SHA-256.
- Bounded: `limits.max_attachment_bytes` of plaintext; 413 `attachment_too_large` before
  reading when Content-Length says so, and while reading when the body runs past it.
- Idempotent: a complete id uploaded again with the same content (plaintext SHA-256 equal)
  is answered 200 as the first time; other content is 409 `attachment_exists`. An upload cut
  off part-way leaves nothing (its partial stream is deleted), so it is simply sent again.
- One upload per (client, id) at a time in this process: a second waits for the first.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.crypto import Keyring
from gateway.federation.streams import (
    ATTACHMENT_ID,
    MEDIA_TYPES,
    READ_PIECE,
    PlaintextTooLarge,
    StagingLocks,
    stage_afresh,
)
from gateway.store import Store

if TYPE_CHECKING:
    from gateway.api.routes import ApiClient

UPLOAD_PATH = "/api/v1/attachments/{attachment_id}"


class AttachmentUploads:
    """The upload route of the local API."""

    def __init__(
        self,
        *,
        authenticate: Callable[[web.Request], ApiClient],
        store: Store,
        keyring: Keyring,
        max_bytes: int,
        clock: Callable[[], datetime],
        media_types: Sequence[str] = MEDIA_TYPES,
        executor: Executor | None = None,
        locks: StagingLocks | None = None,
    ) -> None:
        self._authenticate = authenticate
        self._store = store
        self._keyring = keyring
        self._max_bytes = max_bytes
        self._clock = clock
        self._media_types = tuple(media_types)
        self._executor = executor
        # Shared with the drop folders (app.py): one staging of a (client, id) at a time.
        self._locks = locks or StagingLocks()

    def routes(self) -> list[web.RouteDef]:
        return [web.put(UPLOAD_PATH, self.put_attachment)]

    async def put_attachment(self, request: web.Request) -> web.Response:
        client = self._authenticate(request)
        attachment_id = request.match_info["attachment_id"]
        if not ATTACHMENT_ID.fullmatch(attachment_id):
            raise ApiError(
                400,
                "attachment_id_invalid",
                "attachment_id: expected 1 to 128 of A-Z a-z 0-9 . _ -",
            )
        media_type = request.content_type
        if media_type not in self._media_types:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"Content-Type: expected one of {', '.join(self._media_types)}",
            )
        length = request.content_length
        if length is not None and length > self._max_bytes:
            raise _too_large(self._max_bytes)
        async with self._locks.hold(client.id, attachment_id):
            return await self._upload(request, client, attachment_id, media_type)

    async def _upload(
        self, request: web.Request, client: ApiClient, attachment_id: str, media_type: str
    ) -> web.Response:
        staged = await self._store.staged_attachment(client.id, attachment_id)
        if staged is not None and staged.complete:
            digest, size = await self._hash_body(request)
            if digest != staged.plaintext_sha256 or media_type != staged.media_type:
                raise ApiError(
                    409,
                    "attachment_exists",
                    "attachment_id: an attachment with this id and other content exists",
                )
            return _answer(attachment_id, size, digest, media_type, 200)
        try:
            # An earlier upload cut off part-way is discarded there; audited with sizes only.
            written = await stage_afresh(
                self._store,
                self._keyring,
                actor=f"api:{client.id}",
                client=client.id,
                attachment_id=attachment_id,
                plaintext=self._body(request),
                media_type=media_type,
                max_plaintext=self._max_bytes,
                now=self._clock(),
                executor=self._executor,
            )
        except PlaintextTooLarge:
            raise _too_large(self._max_bytes) from None
        key = written.key
        return _answer(attachment_id, key.plaintext_size, written.plaintext_sha256, media_type, 201)

    async def _body(self, request: web.Request) -> AsyncIterator[bytes]:
        while piece := await request.content.read(READ_PIECE):
            yield piece

    async def _hash_body(self, request: web.Request) -> tuple[bytes, int]:
        digest, size = hashlib.sha256(), 0
        async for piece in self._body(request):
            size += len(piece)
            if size > self._max_bytes:
                raise _too_large(self._max_bytes)
            digest.update(piece)
        return digest.digest(), size


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "attachment_too_large",
        f"body: at most {limit} bytes per attachment (limits.max_attachment_bytes)",
    )


def _answer(
    attachment_id: str, size: int, digest: bytes | None, media_type: str, status: int
) -> web.Response:
    return web.json_response(
        {
            "attachment_id": attachment_id,
            "size": size,
            "sha256": (digest or b"").hex(),
            "media_type": media_type,
        },
        status=status,
    )
