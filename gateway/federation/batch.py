"""Reading the body of a federation request: an EnvelopeBatch, or a refusal with a reason.

Kept apart from the aiohttp handler (server.py) as a pure function of the bytes so that it
can be property-tested and fuzzed without a server: whatever a client sends, the answer is a
list of envelopes to verify or a BatchRefused carrying the HTTP status and a reason code from
docs/PROTOCOL.md, never an exception of the protobuf runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from gateway.wire import envelope


@dataclass(frozen=True)
class BatchLimits:
    """Bounds on one request body."""

    max_batch_bytes: int


class BatchRefused(Exception):  # noqa: N818 - a verdict on the peer's request
    """The request body is refused as a whole; status and code are what the peer is told."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


BATCH_REFUSAL_CODES = frozenset({"body_too_large", "malformed_request"})


def parse_envelope_batch(body: bytes, limits: BatchLimits) -> list[bytes]:
    """The envelopes of a request body, in order; BatchRefused if there are none to verify."""
    if len(body) > limits.max_batch_bytes:
        raise BatchRefused(
            413, "body_too_large", f"body must be at most {limits.max_batch_bytes} bytes"
        )
    batch = envelope.EnvelopeBatch()
    try:
        batch.ParseFromString(body)
    except DecodeError:
        raise BatchRefused(400, "malformed_request", "body is not a blg.v1.EnvelopeBatch") from None
    if not batch.envelopes:
        raise BatchRefused(400, "malformed_request", "batch holds no envelopes")
    return list(batch.envelopes)
