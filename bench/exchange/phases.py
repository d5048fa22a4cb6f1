"""The exchange's phases: throughput of a pre-queued batch, Dispatcher.submit's sustained
rate, and the drain of a backlog (100,000 and 1,000,000 envelopes).

Throughput: N envelopes are queued (sealed in the bench, Store.enqueue in chunks of 1,000)
while the sender is stopped and the receiver is up; then the sender starts. Rate =
delivered / (last receipts.stored_at - first outbox.claimed_at): from the first claim to the
last receipt stored, so process start-up is excluded.

Submit: C tasks (64) in the bench each call Dispatcher.submit (route policy, seal, the
dispatcher's transaction, audit entry) in a closed loop, a new alert as soon as the previous
call returned, for warm-up + window seconds, both gateways up (the sender delivers meanwhile,
as in production). Rate = calls returned inside the window / window seconds.

Backlog: the receiver is stopped (SIGTERM), B envelopes are sealed and queued in chunks of
1,000, the receiver is started; time from starting the receiver to the last receipt stored,
split into start-up + the sender's backoff wait, and the drain itself (first -> last
receipt). Peak RSS of each gateway over the phase comes from the Monitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass
from datetime import datetime

from bench.exchange.cluster import Cluster, log, now_utc
from bench.exchange.messages import Sealer
from bench.exchange.monitor import CpuUse, Monitor, phase
from bench.exchange.outbox import Outbox
from bench.exchange.targets import RECEIVER, SENDER
from gateway.components import dispatcher_for
from gateway.store import Store


@dataclass
class Bench:
    """What every phase works with."""

    cluster: Cluster
    store: Store
    outbox: Outbox
    sealer: Sealer
    monitor: Monitor
    cpu: list[CpuUse]
    chunk: int

    def phase(self, name: str) -> contextlib.AbstractAsyncContextManager[None]:
        return phase(self.monitor, name, self.cpu)


async def queue_sealed(store: Store, sealer: Sealer, count: int, chunk: int) -> float:
    """Seal and Store.enqueue count envelopes, chunk per transaction; returns seconds taken.

    The next chunk is sealed in a thread while the previous one's transaction runs, so the
    setup of a large backlog takes the longer of the two, not their sum (the sealing is not
    what any phase measures)."""
    if count <= 0:
        return 0.0
    started = last_report = time.perf_counter()
    done = 0
    sealing = asyncio.create_task(asyncio.to_thread(sealer.seal_many, min(chunk, count)))
    while done < count:
        items, audit = await sealing
        after = done + len(items)
        if after < count:
            sealing = asyncio.create_task(
                asyncio.to_thread(sealer.seal_many, min(chunk, count - after))
            )
        await store.enqueue(items, audit)
        done = after
        if time.perf_counter() - last_report >= 10:
            last_report = time.perf_counter()
            rate = done / (last_report - started)
            log(f"queued {done:,}/{count:,} ({rate:,.0f}/s, ~{(count - done) / rate:.0f} s left)")
    return time.perf_counter() - started


def seconds_between(later: datetime | None, earlier: datetime | None) -> float:
    return (later - earlier).total_seconds() if later and earlier else math.nan


# --- throughput ------------------------------------------------------------------------------


@dataclass
class Throughput:
    messages: int
    delivered: int
    retried: int
    queue_seconds: float
    first_claim_to_last_receipt_seconds: float
    rate: float
    wall_seconds: float
    wall_rate: float
    completed: bool


async def measure_throughput(bench: Bench, messages: int, label: str) -> Throughput:
    """N envelopes queued while the sender is stopped; start it; first claim -> last receipt.
    The receiver must be up; the sender is left running."""
    bench.cluster.stop(SENDER)
    after = await bench.outbox.last_id()
    log(f"{label}: sealing and queueing {messages:,} envelopes (sender stopped)")
    queue_seconds = await queue_sealed(bench.store, bench.sealer, messages, bench.chunk)
    upto = await bench.outbox.last_id()
    started = time.perf_counter()
    bench.cluster.start(SENDER)
    completed, finished = await bench.outbox.wait_final(
        after, upto, max(120.0, messages / 100), label
    )
    span = await bench.outbox.span(after, upto)
    busy = seconds_between(span.last_stored, span.first_claimed)
    wall = finished - started
    await bench.cluster.wait_ready(SENDER)
    return Throughput(
        messages=upto - after,
        delivered=span.delivered,
        retried=span.retried,
        queue_seconds=queue_seconds,
        first_claim_to_last_receipt_seconds=busy,
        rate=span.delivered / busy if busy > 0 else math.nan,
        wall_seconds=wall,
        wall_rate=span.delivered / wall,
        completed=completed,
    )


# --- Dispatcher.submit, sustained --------------------------------------------------------------


MAX_SUBMIT_ERRORS = 100


@dataclass
class Submit:
    submitters: int
    window_seconds: float
    calls: int
    rate: float
    errors: int
    delivered: int
    completed: bool


async def measure_submit(bench: Bench, submitters: int, warmup: float, window: float) -> Submit:
    """Closed loop over Dispatcher.submit; both gateways up."""
    dispatcher = dispatcher_for(bench.cluster.config(SENDER), bench.store, now_utc)
    after = await bench.outbox.last_id()
    started = time.perf_counter()
    opens, closes = started + warmup, started + warmup + window
    inside = errors = 0

    async def submitter() -> None:
        nonlocal inside, errors
        while time.perf_counter() < closes:
            message = bench.sealer.message()
            try:
                await dispatcher.submit(message, [RECEIVER], actor="bench")
            except Exception:  # counted and reported (the verdict says so); the loop goes on
                errors += 1
                if errors > MAX_SUBMIT_ERRORS:  # not a slow path but a broken one: stop
                    raise
                continue
            if opens <= time.perf_counter() < closes:
                inside += 1

    log(f"submit: {submitters} submitters, {warmup:.0f} s warm-up + {window:.0f} s window")
    await asyncio.gather(*(submitter() for _ in range(submitters)))
    log(f"submit: {inside / window:,.0f} msg/s; waiting for delivery")
    upto = await bench.outbox.last_id()
    completed, _ = await bench.outbox.wait_final(after, upto, 600, "submit: delivery")
    span = await bench.outbox.span(after, upto)
    return Submit(
        submitters=submitters,
        window_seconds=window,
        calls=inside,
        rate=inside / window,
        errors=errors,
        delivered=span.delivered,
        completed=completed,
    )


# --- backlog drain -----------------------------------------------------------------------------


@dataclass
class Backlog:
    name: str
    messages: int
    delivered: int
    retried: int
    queue_seconds: float
    start_to_ready_seconds: float
    ready_to_first_receipt_seconds: float
    first_to_last_receipt_seconds: float
    start_to_last_receipt_seconds: float
    drain_rate: float
    completed: bool
    rss_peak_bytes: dict[str, int]


async def measure_backlog(bench: Bench, name: str, messages: int) -> Backlog:
    """Receiver down while `messages` envelopes are queued, then up: time to drain. The
    sender must be up; both are left running."""
    cluster = bench.cluster
    queue_phase = f"{name}: receiver down, queueing"
    async with bench.phase(queue_phase):
        cluster.stop(RECEIVER)
        after = await bench.outbox.last_id()
        log(f"{name}: sealing and queueing {messages:,} envelopes in chunks of {bench.chunk:,}")
        queue_seconds = await queue_sealed(bench.store, bench.sealer, messages, bench.chunk)
        upto = await bench.outbox.last_id()
    drain_phase = f"{name}: drain"
    async with bench.phase(drain_phase):
        started_at = now_utc()
        cluster.start(RECEIVER)
        await cluster.wait_ready(RECEIVER)
        ready_at = now_utc()
        completed, _ = await bench.outbox.wait_final(after, upto, max(300.0, messages / 100), name)
    span = await bench.outbox.span(after, upto)
    drain = seconds_between(span.last_stored, span.first_stored)
    return Backlog(
        name=name,
        messages=upto - after,
        delivered=span.delivered,
        retried=span.retried,
        queue_seconds=queue_seconds,
        start_to_ready_seconds=seconds_between(ready_at, started_at),
        ready_to_first_receipt_seconds=seconds_between(span.first_stored, ready_at),
        first_to_last_receipt_seconds=drain,
        start_to_last_receipt_seconds=seconds_between(span.last_stored, started_at),
        drain_rate=span.delivered / drain if drain > 0 else math.nan,
        completed=completed,
        rss_peak_bytes={
            node: bench.monitor.peak(node, [queue_phase, drain_phase])
            for node in (SENDER, RECEIVER)
        },
    )
