"""The receiver's bound on batches worked on at once: later batches wait their turn instead
of filling the crypto pool's queue, and each gets its receipts once its turn comes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import pytest

from gateway.crypto import EnvelopeLimits
from gateway.federation.receiver import EnvelopeReceiver
from gateway.ops.metrics import GatewayMetrics
from gateway.store import Store
from gateway.wire import Kind
from tests.federation.test_receiver import NOW, PAIR, POLICE, _reason, _sealed

P = ParamSpec("P")
T = TypeVar("T")


class CountingPool(ThreadPoolExecutor):
    """One thread; counts the jobs handed to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


@pytest.mark.parametrize("turns", [1, 2])
async def test_batches_past_the_bound_wait_and_queue_no_work(store: Store, turns: int) -> None:
    pool = CountingPool()
    gate = threading.Event()
    pool.submit(gate.wait)  # the pool's one thread is busy until the gate opens
    receiver = EnvelopeReceiver(
        keyring=PAIR.ratanakiri,
        store=store,
        limits=EnvelopeLimits(max_envelope_bytes=4096),
        receivable_kinds={POLICE: frozenset(Kind)},
        clock=lambda: NOW,
        metrics=GatewayMetrics(),
        crypto=pool,
        concurrent_batches=turns,
    )
    batches = [[_sealed(), _sealed()] for _ in range(turns + 3)]
    try:
        tasks = [asyncio.create_task(receiver.receive(POLICE, batch)) for batch in batches]
        await _until(lambda: receiver.waiting == 3)
        # The blocker, and the first step of each batch that has its turn: no more.
        assert pool.submitted == 1 + turns
        gate.set()
        answers = await asyncio.gather(*tasks)
    finally:
        gate.set()
        pool.shutdown()
    for batch, receipts in zip(batches, answers, strict=True):
        assert [_reason(r, d) for r, d in zip(receipts, batch, strict=True)] == ["accepted"] * 2
    assert receiver.waiting == 0
    assert len(await store.list_inbox(limit=100)) == 2 * len(batches)
