"""Decoding local systems' documents off the event loop, in a small bounded pool of threads.

The loop that decodes a document also serves the federation endpoint, /healthz and the
delivery queues: a 10 MB document of 2.5 million XML elements once held it for 9.6 s. Every
decode from the local API and the outgoing drop folders therefore runs here, in
`DECODE_WORKERS` threads, with at most that many decodes in flight (later ones wait their
turn on a semaphore, not in an unbounded executor queue).

Threads rather than processes, because the adapters' bounds (adapters.common.limits) make the
worst case short and small, and a thread needs no pickling of protobuf results, no worker
start-up and no second copy of the document. Measured on the shared 2-core development
machine (8 engineers' test runs at once, so slow): a single-message document at its bounds
(1 MiB; 10,000 XML elements or JSON values) decodes or is refused in under 0.2 s within 6 MB;
10 MB of empty XML elements is refused on its size before parsing, in microseconds; a hotline
export at its bounds (10 MiB, 10,000 rows) takes about 2.5 s and 40 MB at most. Python lets
another thread take the interpreter every 5 ms, so the loop keeps answering meanwhile:
tests/api/test_hostile_documents.py measured /healthz at 0.27 s at worst while such documents
were POSTed (the loop-bound code: 70 s).

A small document (under INLINE_BYTES, e.g. the usual one-message request of a police
system, about 1 KiB) is decoded on the loop itself: it takes about 0.15 ms, less than the hop
to a thread and back, which under load cost several milliseconds of waiting for the loop to
pick up the result (bench/api.py --profile). Its bounds follow from its size: a few thousand
values or elements at most, a millisecond or two even for the slowest format.

Time is bounded as well: each decode runs under `adapters.common.limits.deadline`, which the
decoders check at every thousand elements, values or rows, so a decode that is slower than
expected ends with DocumentTooComplex("time") rather than going on. The deadline (30 s) is a
safety net far above the measured worst case, so that a loaded machine does not refuse a
legitimate export; the bounds, not the deadline, keep each decode short.

Whatever a decoder raises other than DocumentInvalid is a fault of the decoder, not of the
caller, but the document is still what triggered it: it becomes a DocumentInvalid for that
one document (logged by exception type only, never the content), so it is answered 422 on the
API and gets its `.errors` file in a drop folder, instead of a 500 or a stuck folder.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from adapters import Adapter, DecodeResult, DocumentInvalid, Problem
from adapters.common.limits import deadline
from gateway.ops.logs import fields

log = logging.getLogger(__name__)

DECODE_WORKERS = 2
INLINE_BYTES = 8 * 1024
DECODE_SECONDS = 30.0
DECODER_FAULT = "expected a document this format's decoder can read; it failed (see the log)"


def decode_guarded(adapter: Adapter, data: bytes, seconds: float | None = None) -> DecodeResult:
    """adapter.decode(data), with only DocumentInvalid (or a result) ever coming out."""
    try:
        if seconds is None:
            return adapter.decode(data)
        with deadline(seconds):
            return adapter.decode(data)
    except DocumentInvalid:
        raise
    except Exception as error:
        log.error(
            "decoder_failed",
            extra=fields(format=adapter.format_id, error_type=type(error).__name__),
        )
        raise DocumentInvalid([Problem("/", DECODER_FAULT)]) from None


class DocumentDecoder:
    """A node's decoding pool, shared by the local API and every outgoing drop folder."""

    def __init__(
        self,
        *,
        workers: int = DECODE_WORKERS,
        seconds: float = DECODE_SECONDS,
        inline_bytes: int = INLINE_BYTES,
    ) -> None:
        self._inline_bytes = inline_bytes
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode")
        self._slots = asyncio.Semaphore(workers)
        self._seconds = seconds

    async def decode(self, adapter: Adapter, data: bytes) -> DecodeResult:
        """The document's messages and rejected records; DocumentInvalid when unusable."""
        if len(data) < self._inline_bytes:
            return decode_guarded(adapter, data, self._seconds)
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, decode_guarded, adapter, data, self._seconds
            )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
