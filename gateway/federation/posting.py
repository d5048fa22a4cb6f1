"""One federation request from the sender's side: POST a batch, read its receipts.

A request ends in one of three ways besides its receipts, each an exception the delivery
queue (sender.py) acts on: not now (TransientFailure: network errors, 5xx, 408, 429, an
answer that does not parse), in smaller batches (BatchTooLarge: 413 to a batch of more than
one envelope), or never (FinalRefusal: any other 4xx).
"""

from __future__ import annotations

import io
import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from google.protobuf.message import DecodeError

from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from gateway.ops.metrics import GatewayMetrics
from gateway.store import ClaimedEnvelope
from gateway.wire import envelope

# 429 and 408 say "not now", not "never": they are retried like 5xx.
RETRYABLE_4XX = frozenset({408, 429})
# A peer's Retry-After is honoured up to this; longer would look like a lost peer.
RETRY_AFTER_CAP = timedelta(hours=1)


@dataclass(frozen=True)
class Destination:
    """A peer as the sender sees it."""

    peer: str
    url: str
    ssl: ssl.SSLContext | None


class TransientFailure(Exception):  # noqa: N818 - an outcome of a request
    def __init__(self, reason: str, retry_after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class BatchTooLarge(Exception):  # noqa: N818 - an outcome of a request
    """413: the peer takes fewer envelopes or bytes per request than we sent."""


class FinalRefusal(Exception):  # noqa: N818 - an outcome of a request
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def post_batch(
    session: aiohttp.ClientSession,
    destination: Destination,
    *,
    node_id: str,
    batch: Sequence[ClaimedEnvelope],
    timeout: timedelta,
    metrics: GatewayMetrics,
) -> list[bytes]:
    """One request: the batch's receipts, in order, or one of the failures above."""
    body = envelope.EnvelopeBatch(envelopes=[item.envelope for item in batch])
    url = destination.url.rstrip("/") + ENVELOPES_PATH
    limit = aiohttp.ClientTimeout(total=timeout.total_seconds())
    try:
        async with session.post(
            url,
            # A file-like body is streamed; raw bytes over 1 MiB would block the loop.
            data=io.BytesIO(body.SerializeToString()),
            headers={"Content-Type": PROTOBUF, SENDER_HEADER: node_id},
            ssl=destination.ssl if destination.ssl is not None else True,
            timeout=limit,
        ) as response:
            payload = await response.read()
            status = response.status
            wait = retry_after(response.headers.get("Retry-After"))
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        metrics.delivery_requests.labels(destination.peer, "network").inc()
        raise TransientFailure(f"network: {type(error).__name__}") from None
    if status == 200:
        answer = envelope.ReceiptBatch()
        try:
            answer.ParseFromString(payload)
        except DecodeError:
            answer = envelope.ReceiptBatch()
        if len(answer.receipts) != len(batch):
            metrics.delivery_requests.labels(destination.peer, "bad_response").inc()
            raise TransientFailure("bad_response: receipt count does not match the batch")
        metrics.delivery_requests.labels(destination.peer, "ok").inc()
        return [receipt.SerializeToString() for receipt in answer.receipts]
    code = error_code(payload)
    if status == 413 and len(batch) > 1:
        metrics.delivery_requests.labels(destination.peer, "http_4xx").inc()
        raise BatchTooLarge(code)
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        metrics.delivery_requests.labels(destination.peer, "http_4xx").inc()
        raise FinalRefusal(f"http_{status}: {code}")
    metrics.delivery_requests.labels(
        destination.peer, "http_5xx" if status >= 500 else f"http_{status}"
    ).inc()
    raise TransientFailure(f"http_{status}: {code}", wait)


def retry_after(value: str | None) -> timedelta | None:
    """Retry-After in seconds (the only form peers send), capped at an hour.

    ASCII digits only: str.isdigit() alone admits "²", and int() of a number past its digit
    limit raises; either ValueError would escape the delivery loop. Any value over 5 digits is
    past the cap anyway.
    """
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    if len(value) > 5:
        return RETRY_AFTER_CAP
    return min(timedelta(seconds=int(value)), RETRY_AFTER_CAP)


def error_code(payload: bytes) -> str:
    """The reason code of a JSON error body, or 'unknown' (never the raw body: it may echo)."""
    try:
        code = json.loads(payload)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return "unknown"
    return code if isinstance(code, str) and code.isidentifier() else "unknown"
