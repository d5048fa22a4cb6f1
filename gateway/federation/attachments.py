"""The attachment transport: PUT and HEAD /federation/v1/attachments/{attachment_id}.

A sender pushes each attachment stream (docs/PROTOCOL.md 7.1, already encrypted) before the
envelope that names it (7.4). Design:

- Who: the sender is the peer named by BLG-Sender and proven by its client certificate (and
  pinned key), checked exactly as for envelopes (identity.py), before a byte of the body is
  read. Streams are stored under their sender (migration 0014): a peer only ever reaches its
  own streams, so it can neither append to another's nor learn whether an id exists there.
- Resumable: `Content-Range: bytes FIRST-LAST/TOTAL` (TOTAL a number, or `*` while unknown)
  places the body in the stream. HEAD answers the received length in `BLG-Attachment-Offset`;
  a PUT may start at or before it (bytes already held are skipped, so a resend of a piece
  whose answer was lost is harmless), not after it (409 `attachment_offset_mismatch`, with
  the offset). Every full row received is committed as it completes, and on a dropped
  connection the bytes read so far are kept, so a resume loses nothing the gateway read.
- Bounded: the declared total and the range are checked against `limits.max_attachment_bytes`
  before reading (413 `attachment_too_large`); the body is read in pieces and handed to the
  store one row (at most 1 MiB) at a time, never held whole.
- Complete: when the last declared byte is in, the stream's SHA-256 is computed from the
  stored rows and the stream becomes 'complete'. The envelope that names it is then checked
  against it, and the stream verified (7.3), by incoming_attachments.py (8.2 step 8).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime

from aiohttp import web

from gateway.federation.identity import CLIENT_CERTIFICATE_NOT_PINNED, client_identity_problem
from gateway.federation.ratelimit import TokenBucket
from gateway.federation.server import SENDER_HEADER, PeerAdmission, _retry_after, error_response
from gateway.ops.metrics import GatewayMetrics
from gateway.store.attachments import (
    CHUNK_BYTES,
    AttachmentKeyRef,
    AttachmentProgress,
    AttachmentRefused,
    Attachments,
)

log = logging.getLogger(__name__)

ATTACHMENTS_PATH = "/federation/v1/attachments/{attachment_id}"
OFFSET_HEADER = "BLG-Attachment-Offset"
LENGTH_HEADER = "BLG-Attachment-Length"
STATE_HEADER = "BLG-Attachment-State"
OCTET_STREAM = "application/octet-stream"
# The same alphabet migration 0014 checks: ids go into URLs, so nothing that could carry a
# name or a document number in clear.
ATTACHMENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_CONTENT_RANGE = re.compile(r"bytes (\d{1,15})-(\d{1,15})/(\d{1,15}|\*)")
READ_PIECE = 64 * 1024
# What one upload holds of its body at once: the row being filled and its copy for the
# database. The listener reserves this against its body budget (GuardedListener.streamed).
HELD_BODY_BYTES = 2 * CHUNK_BYTES
# Every reason code this endpoint answers with, beyond those of the envelope endpoint's
# admission (unknown_peer, client_certificate_*, rate_limited): the table of PROTOCOL.md 7.4.
REASON_CODES = frozenset(
    {
        "attachment_id_invalid",
        "content_range_invalid",
        "unsupported_media_type",
        "attachment_too_large",
        "attachment_offset_mismatch",
        "attachment_size_mismatch",
        "attachment_quota_exceeded",
    }
)


class AttachmentEndpoint:
    """aiohttp handlers for attachment streams pushed by peers."""

    def __init__(
        self,
        *,
        store: Attachments,
        peers: Mapping[str, PeerAdmission],
        max_attachment_bytes: int,
        metrics: GatewayMetrics,
        clock: Callable[[], datetime],
        max_pending_bytes_per_peer: int | None = None,
    ) -> None:
        self._store = store
        # What one peer may hold here in streams no envelope names yet (None: no bound), so
        # that many streams each under max_attachment_bytes cannot fill the disk.
        self._quota = max_pending_bytes_per_peer
        self._peers = peers
        self._buckets = {p: TokenBucket(a.rate_per_second, a.burst) for p, a in peers.items()}
        self._max_bytes = max_attachment_bytes
        self._metrics = metrics
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.put(ATTACHMENTS_PATH, self.put_attachment),
            web.head(ATTACHMENTS_PATH, self.head_attachment),
        ]

    def _refuse(self, status: int, code: str, message: str) -> web.Response:
        self._metrics.refused_requests.labels(code).inc()
        return error_response(status, code, message)

    def _admit(self, request: web.Request) -> tuple[AttachmentKeyRef | None, web.Response | None]:
        """The stream this request may reach, or the refusal (sender, rate, id)."""
        sender = request.headers.get(SENDER_HEADER, "")
        admission = self._peers.get(sender)
        if admission is None:
            return None, self._refuse(
                403, "unknown_peer", f"{SENDER_HEADER} must name a peer of this node"
            )
        if admission.mutual_tls:
            problem = client_identity_problem(request, sender, admission.pins)
            if problem == CLIENT_CERTIFICATE_NOT_PINNED:
                return None, self._refuse(
                    403, problem, "the client certificate's key is not one pinned for this peer"
                )
            if problem is not None:
                return None, self._refuse(
                    403, problem, "this peer must present its client certificate"
                )
        wait = self._buckets[sender].try_take()
        if wait:
            response = self._refuse(429, "rate_limited", "too many requests; retry later")
            response.headers["Retry-After"] = _retry_after(wait)
            return None, response
        attachment_id = request.match_info["attachment_id"]
        if not ATTACHMENT_ID.fullmatch(attachment_id):
            return None, self._refuse(
                400, "attachment_id_invalid", "attachment_id: 1 to 128 of A-Z a-z 0-9 . _ -"
            )
        return AttachmentKeyRef(sender, "incoming", attachment_id), None

    async def head_attachment(self, request: web.Request) -> web.StreamResponse:
        key, refusal = self._admit(request)
        if key is None:
            assert refusal is not None
            return refusal
        progress = await self._store.attachment_progress(key)
        if progress is None:
            return web.Response(status=404, headers={OFFSET_HEADER: "0"})
        return web.Response(status=200, headers=_progress_headers(progress))

    async def put_attachment(self, request: web.Request) -> web.StreamResponse:
        key, refusal = self._admit(request)
        if key is None:
            assert refusal is not None
            return refusal
        if request.content_type != OCTET_STREAM:
            return self._refuse(
                415, "unsupported_media_type", f"Content-Type must be {OCTET_STREAM}"
            )
        parsed = _content_range(request.headers.get("Content-Range", ""))
        if parsed is None:
            return self._refuse(
                400,
                "content_range_invalid",
                "Content-Range must be 'bytes FIRST-LAST/TOTAL' (TOTAL a number or *)",
            )
        first, last, total = parsed
        if request.content_length != last - first + 1:
            return self._refuse(
                400, "content_range_invalid", "Content-Length must equal LAST - FIRST + 1"
            )
        if (total if total is not None else last + 1) > self._max_bytes:
            return self._refuse(
                413,
                "attachment_too_large",
                f"an attachment stream may hold at most {self._max_bytes} bytes",
            )
        progress = await self._store.attachment_progress(key)
        received = progress.received if progress else 0
        if first > received:
            return self._offset_refusal(progress)
        if progress is None and self._quota is not None:
            # Judged when a stream begins: one in progress was counted when it began.
            pending = await self._store.pending_attachment_bytes(key.owner)
            if pending + (total if total is not None else last + 1) > self._quota:
                return self._refuse(
                    413,
                    "attachment_quota_exceeded",
                    "this peer's streams not yet named by an envelope would pass "
                    f"{self._quota} bytes; send their envelopes first, or retry later",
                )
        try:
            progress = await self._receive(request, key, first, total)
        except AttachmentRefused as refused:
            return self._store_refusal(refused)
        if progress.all_received and progress.state == "receiving":
            progress = await self._store.complete_attachment(key, self._clock())
        return web.json_response(
            {"offset": progress.received, "state": progress.state},
            headers=_progress_headers(progress),
        )

    async def _receive(
        self, request: web.Request, key: AttachmentKeyRef, first: int, total: int | None
    ) -> AttachmentProgress:
        """Read the body in pieces, storing each full row as it completes; on a dropped
        connection store what was read, then give up."""
        offset = first
        buffer = bytearray()
        progress: AttachmentProgress | None = None

        async def flush() -> None:
            nonlocal offset, progress
            progress = await self._store.append_attachment(
                key,
                offset,
                bytes(buffer),
                declared_size=total,
                max_bytes=self._max_bytes,
                now=self._clock(),
            )
            offset += len(buffer)
            buffer.clear()

        try:
            while True:
                # Up to the next row boundary, so that each append writes whole rows.
                room = CHUNK_BYTES - (offset + len(buffer)) % CHUNK_BYTES
                piece = await request.content.read(min(READ_PIECE, room))
                if not piece:
                    break
                buffer += piece
                if (offset + len(buffer)) % CHUNK_BYTES == 0:
                    await flush()
        except (ConnectionError, OSError):
            # The sender is gone: what was read is kept for its resume; the answer built
            # from what this returns reaches no one.
            log.debug("attachment upload cut off after %d bytes", offset + len(buffer) - first)
        if buffer or progress is None:
            await flush()
        assert progress is not None
        return progress

    def _offset_refusal(self, progress: AttachmentProgress | None) -> web.Response:
        response = self._refuse(
            409, "attachment_offset_mismatch", "Content-Range must start at or before the offset"
        )
        response.headers[OFFSET_HEADER] = str(progress.received if progress else 0)
        return response

    def _store_refusal(self, refused: AttachmentRefused) -> web.Response:
        status = 413 if refused.code == "attachment_too_large" else 409
        messages = {
            "attachment_too_large": f"an attachment stream may hold at most {self._max_bytes} "
            "bytes",
            "attachment_offset_mismatch": "Content-Range must start at or before the offset",
            "attachment_size_mismatch": "Content-Range: TOTAL differs from the one declared",
        }
        response = self._refuse(status, refused.code, messages.get(refused.code, refused.code))
        response.headers.update(_progress_headers(refused.progress))
        return response


def _content_range(value: str) -> tuple[int, int, int | None] | None:
    match = _CONTENT_RANGE.fullmatch(value)
    if match is None:
        return None
    first, last = int(match[1]), int(match[2])
    total = None if match[3] == "*" else int(match[3])
    if last < first or (total is not None and last >= total):
        return None
    return first, last, total


def _progress_headers(progress: AttachmentProgress) -> dict[str, str]:
    headers = {OFFSET_HEADER: str(progress.received), STATE_HEADER: progress.state}
    if progress.declared_size is not None:
        headers[LENGTH_HEADER] = str(progress.declared_size)
    return headers
