"""The bounds every decoder keeps, so that no document costs the node more than a little.

A hostile or broken document (10 MB of empty XML elements, JSON nested a million deep, a
4,301-digit number, a CSV cell of megabytes) must be refused early with a problem that names
the bound and the place, never the value. The bounds are far above any real partner document
(a notice is a few kB, nests five levels and has some fifty elements; a hotline export has at
most a few thousand rows) and low enough that decoding a document at the bounds takes tens of
milliseconds (single-message formats) to a few seconds (a full CSV export, 10,000 rows).

Time is bounded too, cooperatively: the node sets a deadline for the decode it runs in a worker
thread (see gateway.documents) and decoders call `check_deadline` at element and row
boundaries. Outside the node (tests, `gateway convert`) there is no deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from adapters.base import DocumentTooComplex, Problem


@dataclass(frozen=True)
class DecodeLimits:
    """One format's bounds. nodes counts XML elements, JSON values or CSV rows."""

    max_bytes: int
    max_nodes: int
    max_depth: int
    max_field_chars: int
    max_number_digits: int = 40
    max_columns: int = 64


# One message per document: notices, handovers, alerts (XML and JSON formats).
MESSAGE_LIMITS = DecodeLimits(
    max_bytes=1024 * 1024, max_nodes=10_000, max_depth=32, max_field_chars=65_536
)
# Many messages per document: hotline exports (rows, not elements, are the nodes).
EXPORT_LIMITS = DecodeLimits(
    max_bytes=10 * 1024 * 1024, max_nodes=10_000, max_depth=1, max_field_chars=65_536
)

_deadline: ContextVar[float | None] = ContextVar("decode_deadline", default=None)


def too_complex(limit: str, location: str, expected: str) -> DocumentTooComplex:
    return DocumentTooComplex(limit, Problem(location, expected))


def check_size(data: bytes, limits: DecodeLimits) -> None:
    if len(data) > limits.max_bytes:
        raise too_complex("bytes", "/", f"expected at most {limits.max_bytes} bytes")


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Decoders called inside give up after `seconds` (at their next element or row)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def check_deadline(location: str) -> None:
    """DocumentTooComplex when the current decode has used up its time."""
    limit = _deadline.get()
    if limit is not None and time.monotonic() > limit:
        raise too_complex("time", location, "expected a document that decodes in time")
