"""Benchmark: `Dispatcher.submit` sustained, in process, against the embedded PostgreSQL.

Run by hand from the repository root, never by the test suite:

    .venv/bin/python bench/submit.py                  # 64 submitters, 10 s window
    .venv/bin/python bench/submit.py --clients 16 --window 5

Set-up: the sender node of bench/exchange.py's Cluster (config, keys, its database), no
`gateway run` process: the bench's own event loop runs the Dispatcher and Store the node
would (`gateway.app.dispatcher_for`), so the figure is the submit path alone (check, case
lookup, seal, group-committed enqueue), not delivery. C submitters each submit one padded
~1 KiB hotline alert (bench/exchange.py's Sealer.message, a new reference each) to the
receiver in a closed loop. Rate = submits completed inside the window / window seconds;
latency = one submit's await, p50/p99/max; CPU = the bench process's CPU seconds in the
window per message (the event loop's cost of a submit, Python and asyncpg), and
PostgreSQL's share is the machine's other busy time (see the "other" caveat of api.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.exchange import (
    RECEIVER,
    SENDER,
    Cluster,
    Percentiles,
    Sealer,
    embedded_postgres,
    log,
    now_utc,
    work_folder,
)
from gateway.app import dispatcher_for
from gateway.store import Store


async def run(clients: int, warmup: float, window: float, root: Path) -> None:
    with embedded_postgres(root) as postgres:
        cluster = Cluster(root, postgres, batch_size=100, rate_limit=1000)
        await cluster.add(SENDER, RECEIVER)
        store = await Store.connect(cluster.nodes[SENDER].dsn)
        try:
            await store.migrate()
            dispatcher = dispatcher_for(cluster.config(SENDER), store, now_utc)
            sealer = Sealer(cluster.keyring(SENDER), RECEIVER)
            loop = asyncio.get_running_loop()
            start = loop.time()
            window_start, window_end = start + warmup, start + warmup + window
            latencies: list[float] = []
            cpu: list[float] = []

            async def submitter() -> None:
                while (now := loop.time()) < window_end:
                    if not cpu and now >= window_start:
                        cpu.append(time.process_time())
                    began = time.perf_counter()
                    await dispatcher.submit(sealer.message(), [RECEIVER], actor="bench")
                    if window_start <= loop.time() < window_end:
                        latencies.append(time.perf_counter() - began)

            log(f"{clients} submitters, {warmup:.0f} s warm-up, {window:.0f} s window")
            await asyncio.gather(*(submitter() for _ in range(clients)))
            cpu_seconds = time.process_time() - cpu[0]
            done = len(latencies)
            spread = Percentiles.of(latencies)
            print(
                f"Dispatcher.submit, {clients} submitters: {done / window:,.0f} msg/s "
                f"(target >= 3,000); submit p50/p99/max "
                f"{spread.p50_ms:.1f} / {spread.p99_ms:.1f} / {spread.max_ms:.1f} ms; "
                f"bench process CPU {cpu_seconds / window:.0%} of a core, "
                f"{1000 * cpu_seconds / max(done, 1):.2f} ms per message"
            )
            verdict = await store.verify_audit()
            assert verdict.first_broken_seq is None, verdict
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    args = parser.parse_args()
    with work_folder(args.keep) as root:
        asyncio.run(run(args.clients, args.warmup, args.window, root))


if __name__ == "__main__":
    main()
