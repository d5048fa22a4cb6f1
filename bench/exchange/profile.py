"""`--profile`: both gateways as in-process Gateway objects in one event loop (one Python
thread), over the same number of pre-queued envelopes three times: plain (throughput), with
every SQL statement counted and timed (per node and statement name, per claimed batch), and
under cProfile. SqlCounter is shared with the API profile (bench/exchange/api_profile.py).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.exchange.cluster import Cluster, embedded_postgres, interrupt_on_signals
from bench.exchange.messages import Sealer
from bench.exchange.outbox import Outbox
from bench.exchange.phases import queue_sealed
from bench.exchange.targets import RECEIVER, SENDER
from gateway.app import Gateway
from gateway.store import Store
from gateway.store.queries import Q


@dataclass
class SqlStats:
    count: int = 0
    seconds: float = 0.0


class SqlCounter:
    """asyncpg query logger: statements and their round-trip time, per node and name."""

    def __init__(self) -> None:
        self.by_node: dict[str, dict[str, SqlStats]] = {}
        self._names = {" ".join(getattr(Q, name).split()): name for name in Q.names()}
        self.enabled = False

    def logger(self, node: str) -> Callable[[asyncpg.connection.LoggedQuery], None]:
        stats = self.by_node.setdefault(node, {})

        def record(query: asyncpg.connection.LoggedQuery) -> None:
            if not self.enabled:
                return
            text = " ".join(query.query.split())
            name = self._names.get(text, text[:40])
            entry = stats.setdefault(name, SqlStats())
            entry.count += 1
            entry.seconds += query.elapsed

        return record


async def profile_replica(args: argparse.Namespace, root: Path) -> None:
    """Both gateways as in-process Gateway objects in one event loop (one Python thread).

    Three passes over the same number of pre-queued envelopes: plain (throughput), with
    every SQL statement counted and timed, and under cProfile.
    """
    counter = SqlCounter()
    dsn_node: dict[str, str] = {}
    create_pool = asyncpg.create_pool

    def counting_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:  # noqa: ANN401
        node = dsn_node.get(dsn, "bench")

        async def init(connection: asyncpg.Connection) -> None:
            connection.add_query_logger(counter.logger(node))

        return create_pool(dsn, init=init, **kwargs)

    interrupt_on_signals()
    with embedded_postgres(root) as postgres:
        cluster = Cluster(root, postgres, batch_size=args.batch_size, rate_limit=args.rate_limit)
        await cluster.add(SENDER, RECEIVER)
        for node_id, node in cluster.nodes.items():
            dsn_node[node.dsn] = node_id
        asyncpg.create_pool = counting_pool  # type: ignore[assignment]
        store = await Store.connect(cluster.nodes[SENDER].dsn)
        await store.migrate()
        connection = await asyncpg.connect(cluster.nodes[SENDER].dsn)
        outbox = Outbox(connection)
        sealer = Sealer(cluster.keyring(SENDER), RECEIVER)
        receiver = Gateway(cluster.config(RECEIVER), instance="bench-receiver")
        await receiver.start()
        try:
            for label in ("plain", "sql", "cprofile"):
                after = await outbox.last_id()
                await queue_sealed(store, sealer, args.profile_messages, 1000)
                upto = await outbox.last_id()
                sender = Gateway(cluster.config(SENDER), instance="bench-sender")
                profiler = cProfile.Profile()
                counter.enabled = label == "sql"
                if label == "cprofile":
                    profiler.enable()
                await sender.start()
                await outbox.wait_final(after, upto, 600, f"profile {label}")
                profiler.disable()
                counter.enabled = False
                await sender.stop()
                span = await outbox.span(after, upto)
                assert span.last_stored is not None
                assert span.first_claimed is not None
                busy = (span.last_stored - span.first_claimed).total_seconds()
                print(
                    f"in-process, {label}: {span.delivered} delivered in {busy:.2f} s "
                    f"= {span.delivered / busy:,.0f} msg/s"
                )
                if label == "sql":
                    batches = max(1, counter.by_node[SENDER].get("outbox_claim", SqlStats()).count)
                    print(
                        f"SQL per claimed batch ({batches} claims, batch size {args.batch_size}):"
                    )
                    for node_id in (SENDER, RECEIVER):
                        stats = counter.by_node.get(node_id, {})
                        total_count = sum(s.count for s in stats.values())
                        total_seconds = sum(s.seconds for s in stats.values())
                        print(
                            f"  {node_id}: {total_count / batches:.1f} statements, "
                            f"{total_seconds / batches * 1000:.1f} ms awaiting SQL per batch"
                        )
                        for name, s in sorted(stats.items(), key=lambda kv: -kv[1].seconds):
                            print(
                                f"    {name:42} {s.count / batches:7.1f}/batch "
                                f"{s.seconds / batches * 1000:7.2f} ms/batch "
                                f"{s.seconds / s.count * 1e6:7.0f} us each"
                            )
                if label == "cprofile":
                    text = io.StringIO()
                    stats_ = pstats.Stats(profiler, stream=text)
                    stats_.sort_stats("tottime").print_stats(30)
                    stats_.sort_stats("cumulative").print_stats(45)
                    print(text.getvalue())
        finally:
            await receiver.stop()
            await store.close()
            await connection.close()
            asyncpg.create_pool = create_pool
