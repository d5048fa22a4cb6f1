"""Pushing attachment streams to a peer before the envelopes that name them (PROTOCOL 7.4).

Before a batch is posted, the delivery queue (sender.py) pushes every stream of its
envelopes: HEAD gives what the peer holds, then PUTs of at most PIECE_BYTES carry the rest
from that offset, each body streamed from the stored rows (never the whole stream in
memory). A 409 carries the offset to resume from; 429, 503, other 5xx and network errors are
TransientFailure, so the queue backs off exactly as for a batch; any other 4xx is a
FinalRefusal. A stream the peer holds whole is marked pushed. A stream marked pushed is
still asked about (one HEAD): a receiver that lost it, or refused the envelope as
attachment_incomplete, gets it again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta

import aiohttp

from gateway.federation.attachments import (
    ATTACHMENTS_PATH,
    LENGTH_HEADER,
    OCTET_STREAM,
    OFFSET_HEADER,
    STATE_HEADER,
)
from gateway.federation.posting import (
    RETRYABLE_4XX,
    Destination,
    FinalRefusal,
    TransientFailure,
    error_code,
    retry_after,
)
from gateway.federation.server import SENDER_HEADER
from gateway.store import Store
from gateway.store.binding import OutboxStream

# One PUT: ends on a 1 MiB boundary (the receiver's rows) and arrives well within the
# receiver's 60 s body deadline on a slow link.
PIECE_BYTES = 8 * 1024 * 1024
DONE_STATES = frozenset({"complete", "verified"})
QUOTA_EXCEEDED = "attachment_quota_exceeded"


class StreamPusher:
    """Pushes one peer's streams over the queue's session."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        destination: Destination,
        node_id: str,
        store: Store,
        timeout: timedelta,
    ) -> None:
        self._session = session
        self._destination = destination
        self._node_id = node_id
        self._store = store
        self._timeout = aiohttp.ClientTimeout(total=timeout.total_seconds())
        self._ssl = destination.ssl if destination.ssl is not None else True

    def _url(self, attachment_id: str) -> str:
        path = ATTACHMENTS_PATH.format(attachment_id=attachment_id)
        return self._destination.url.rstrip("/") + path

    async def push(self, stream: OutboxStream, now: datetime) -> None:
        """The peer holds the stream whole when this returns; else a failure is raised."""
        offset, state = await self._head(stream)
        while state not in DONE_STATES:
            if offset >= stream.length:
                # All there but not complete (the peer stopped between its last write and
                # its completion): the last byte again makes it complete the stream.
                offset = stream.length - 1
            offset, state = await self._put(stream, offset)
        if not stream.pushed:
            await self._store.mark_pushed(stream.recipient, stream.attachment_id, now)

    async def _head(self, stream: OutboxStream) -> tuple[int, str]:
        try:
            async with self._session.head(
                self._url(stream.attachment_id),
                headers={SENDER_HEADER: self._node_id},
                ssl=self._ssl,
                timeout=self._timeout,
            ) as response:
                status, headers = response.status, response.headers
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise TransientFailure(f"network: {type(error).__name__}") from None
        if status == 404:
            return 0, "receiving"
        if status != 200:
            _refuse(status, b"", headers.get("Retry-After"))
        return _offset(headers), headers.get(STATE_HEADER, "receiving")

    async def _put(self, stream: OutboxStream, offset: int) -> tuple[int, str]:
        end = min(stream.length, (offset // PIECE_BYTES + 1) * PIECE_BYTES)
        try:
            async with self._session.put(
                self._url(stream.attachment_id),
                data=self._body(stream, offset, end),
                headers={
                    SENDER_HEADER: self._node_id,
                    "Content-Type": OCTET_STREAM,
                    "Content-Length": str(end - offset),
                    "Content-Range": f"bytes {offset}-{end - 1}/{stream.length}",
                },
                ssl=self._ssl,
                timeout=self._timeout,
            ) as response:
                status, headers = response.status, response.headers
                payload = await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise TransientFailure(f"network: {type(error).__name__}") from None
        if status == 200:
            try:
                answer = json.loads(payload)
                return int(answer["offset"]), str(answer["state"])
            except (ValueError, KeyError, TypeError):
                raise TransientFailure("bad_response: attachment answer") from None
        if status == 409 and OFFSET_HEADER in headers:
            # Resume where the peer is (a piece it has, or one it lost).
            return _offset(headers), headers.get(STATE_HEADER, "receiving")
        _refuse(status, payload, headers.get("Retry-After"))
        raise AssertionError("unreachable")

    async def _body(self, stream: OutboxStream, start: int, end: int) -> AsyncIterator[bytes]:
        async for piece in self._store.read_attachment(stream.key, start=start, limit=end):
            yield piece


def _offset(headers: Mapping[str, str]) -> int:
    try:
        return int(headers.get(OFFSET_HEADER, "0"))
    except ValueError:
        raise TransientFailure("bad_response: attachment offset") from None


def _refuse(status: int, payload: bytes, wait: str | None) -> None:
    code = error_code(payload) if payload else "unknown"
    # The peer holds as much of ours as it takes until envelopes name it: later, not never.
    if 400 <= status < 500 and status not in RETRYABLE_4XX and code != QUOTA_EXCEEDED:
        raise FinalRefusal(f"attachment http_{status}: {code}")
    raise TransientFailure(f"attachment http_{status}: {code}", retry_after(wait))


__all__ = ["LENGTH_HEADER", "PIECE_BYTES", "StreamPusher"]
