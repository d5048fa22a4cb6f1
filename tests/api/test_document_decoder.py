"""The node's decoding pool: decodes of all but small documents run in worker threads, never
more than the pool's size at once, under a deadline, and a decoder's own fault comes out as a
problem with the document."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import pytest

from adapters import DecodeResult, DocumentInvalid, DocumentTooComplex, Encoded, adapter_for
from gateway.documents import DECODER_FAULT, INLINE_BYTES, DocumentDecoder
from gateway.wire import Kind, canonical
from tests import fuzz_seeds


@dataclass
class FakeAdapter:
    """Records where and how many decodes ran at once; fails as told."""

    fault: Exception | None = None
    # Decodes meet here in pairs: a pool running them one at a time would break the barrier.
    pairs: threading.Barrier | None = None
    format_id: str = "fake"
    media_type: str = "application/x-fake"
    kinds: frozenset[Kind] = frozenset(Kind)
    many_per_document: bool = False
    threads: set[int] = field(default_factory=set)
    running: int = 0
    most: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def decode(self, data: bytes) -> DecodeResult:
        with self.lock:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.most = max(self.most, self.running)
        if self.pairs is not None:
            self.pairs.wait(timeout=10)
        with self.lock:
            self.running -= 1
        if self.fault is not None:
            raise self.fault
        return DecodeResult()

    def encode(self, message: canonical.Message) -> Encoded:
        raise NotImplementedError


@pytest.mark.parametrize(
    "fault", [ValueError("digits"), RecursionError(), KeyError("x"), MemoryError()]
)
async def test_a_decoder_fault_is_a_problem_with_the_document(fault: Exception) -> None:
    decoder = DocumentDecoder()
    try:
        with pytest.raises(DocumentInvalid) as invalid:
            await decoder.decode(FakeAdapter(fault=fault), b"{}")
    finally:
        decoder.close()
    assert [p.message for p in invalid.value.problems] == [DECODER_FAULT]


async def test_decodes_run_off_the_loop_at_most_workers_at_once() -> None:
    adapter = FakeAdapter(pairs=threading.Barrier(2))
    decoder = DocumentDecoder(workers=2, inline_bytes=0)
    try:
        await asyncio.gather(*(decoder.decode(adapter, b"") for _ in range(8)))
    finally:
        decoder.close()
    assert threading.get_ident() not in adapter.threads
    assert adapter.most == 2  # two at once (the barrier), never three


@pytest.mark.parametrize(
    ("size", "on_the_loop"), [(0, True), (INLINE_BYTES - 1, True), (INLINE_BYTES, False)]
)
async def test_a_small_document_is_decoded_on_the_loop_a_larger_one_in_a_worker(
    size: int, on_the_loop: bool
) -> None:
    adapter = FakeAdapter()
    decoder = DocumentDecoder()
    try:
        await decoder.decode(adapter, b"x" * size)
    finally:
        decoder.close()
    assert (threading.get_ident() in adapter.threads) is on_the_loop


async def test_a_decode_past_the_pool_s_deadline_is_refused() -> None:
    decoder = DocumentDecoder(seconds=0.0)
    slow = fuzz_seeds.edge_inputs("hotline-111-csv")["many_rows"]
    try:
        with pytest.raises(DocumentTooComplex) as refused:
            await decoder.decode(adapter_for("hotline-111-csv"), slow)
    finally:
        decoder.close()
    assert refused.value.limit == "time"
