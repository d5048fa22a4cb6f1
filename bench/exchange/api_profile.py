"""Profile of the local API path: where `POST /api/v1/messages` spends its time, per stage.

The sender runs as an in-process Gateway in the bench's event loop (the receiver stays a
`gateway run` subprocess, so its work is not in the profile), and 16 clients of
bench/exchange/api.py post to it over loopback HTTP in the same loop for --profile-seconds.

Two passes, because cProfile's overhead would distort the timings of the first:

1. Stages: the functions a request goes through are wrapped, for the pass only, with timers.
   Per stage: calls per accepted request, and wall-clock ms per request spent inside it
   (awaits included: a connection from the pool, the audit chain's lock, PostgreSQL round
   trips, other coroutines running meanwhile). Wall times of nested stages overlap (the
   audit chain runs inside the enqueue transaction, which runs inside the handler); with 16
   requests in flight they are latencies, not CPU. "decode, in thread" is the decoder's
   thread pool's own time (thread CPU beside it); "decode (await)" adds the hop there.
   The same pass counts and times every SQL statement of the sender (bench/exchange/profile.py's
   query logger on its pool), per accepted request; the delivery's are among them.
2. cProfile over the event loop thread: CPU ms per request inside each stage's function
   (for a coroutine, the time its steps ran, not its waits), and the top functions by own
   time. Client and server share the thread: the client's share shows under aiohttp.client.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import inspect
import io
import pstats
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp.web
import aiohttp.web_request
import asyncpg

import gateway.documents
import gateway.federation.outgoing
from bench.exchange.api import CLIENT_ID, Api, closed_loop
from bench.exchange.cluster import Cluster, embedded_postgres, interrupt_on_signals, log
from bench.exchange.messages import DOCUMENT_FORMAT, Documents
from bench.exchange.profile import SqlCounter
from bench.exchange.targets import RECEIVER, SENDER
from gateway.api.routes import LocalApi
from gateway.app import Gateway
from gateway.documents import DocumentDecoder
from gateway.federation.outgoing import Dispatcher
from gateway.policy import RoutePolicy
from gateway.store import Store
from gateway.store.part import StorePart

CLIENTS = 16

# (owner, attribute, stage): the path of one request, outermost first.
STAGES: list[tuple[object, str, str]] = [
    (LocalApi, "post_messages", "handler, whole"),
    (LocalApi, "_client", "bearer token check"),
    (aiohttp.web_request.BaseRequest, "read", "read body"),
    (DocumentDecoder, "decode", "decode (await, incl. thread hop)"),
    (gateway.documents, "decode_guarded", "decode, in thread"),
    (Dispatcher, "normalise", "normalise"),
    (Dispatcher, "_link_case", "link case (reference lookup, SQL)"),
    (Dispatcher, "recipients", "recipients (route)"),
    (Dispatcher, "check", "dispatcher check (incl. size)"),
    (RoutePolicy, "apply", "route policy apply"),
    (gateway.federation.outgoing, "seal", "seal"),
    (Store, "enqueue", "enqueue transaction"),
    (StorePart, "_append_audit", "audit chain (lock, head, insert)"),
    (gateway.federation.outgoing, "_log_queued", "log 'queued'"),
    (aiohttp.web, "json_response", "response (json_response)"),
]


@dataclass
class Stage:
    name: str
    calls: int = 0
    seconds: float = 0.0
    thread_cpu: float = 0.0


class Timers:
    """Wall-clock (and, for plain functions, thread CPU) timers around STAGES."""

    def __init__(self) -> None:
        self.stages = {name: Stage(name) for _, _, name in STAGES}
        self._restore: list[tuple[object, str, Any]] = []
        # decode_guarded runs in the decoder's threads.
        self._lock = threading.Lock()

    def _timed(self, original: Callable[..., Any], stage: Stage) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    stage.calls += 1
                    stage.seconds += time.perf_counter() - started

            return timed_async

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    stage.calls += 1
                    stage.seconds += time.perf_counter() - started
                    stage.thread_cpu += time.thread_time() - cpu

        return timed

    def install(self) -> None:
        for owner, attribute, name in STAGES:
            try:
                original = inspect.getattr_static(owner, attribute)
            except AttributeError:  # the gateway's path changed: time what is still there
                log(f"profile: no {attribute} on {owner!r}; stage '{name}' not timed")
                continue
            self._restore.append((owner, attribute, original))
            if isinstance(original, staticmethod):
                timed = staticmethod(self._timed(original.__func__, self.stages[name]))
                setattr(owner, attribute, timed)
            else:
                setattr(owner, attribute, self._timed(original, self.stages[name]))

    def reset(self) -> None:
        for stage in self.stages.values():
            stage.calls, stage.seconds, stage.thread_cpu = 0, 0.0, 0.0

    def remove(self) -> None:
        for owner, attribute, original in reversed(self._restore):
            setattr(owner, attribute, original)
        self._restore.clear()


def code_of(owner: object, attribute: str) -> tuple[str, str]:
    """(file, function name) of a stage's function, as pstats keys it."""
    function = inspect.unwrap(getattr(owner, attribute))
    code = function.__code__
    return code.co_filename, code.co_name


async def profile_replica(args: argparse.Namespace, root: Path) -> None:
    seconds: float = args.profile_seconds
    interrupt_on_signals()
    with embedded_postgres(root) as postgres:
        cluster = Cluster(root, postgres, batch_size=args.batch_size, rate_limit=args.rate_limit)
        await cluster.add(SENDER, RECEIVER)
        token = cluster.add_local_client(SENDER, CLIENT_ID, [DOCUMENT_FORMAT])
        for node_id in (SENDER, RECEIVER):
            store = await Store.connect(cluster.nodes[node_id].dsn)
            await store.migrate()
            await store.close()
        cluster.start(RECEIVER)
        await cluster.wait_ready(RECEIVER)
        # Installed before the sender starts: its router holds the bound handler, its pool
        # the query logger.
        timers = Timers()
        timers.install()
        counter = SqlCounter()
        create_pool = asyncpg.create_pool

        def counting_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:  # noqa: ANN401
            async def init(connection: asyncpg.Connection) -> None:
                connection.add_query_logger(counter.logger(SENDER))

            return create_pool(dsn, init=init, **kwargs)

        asyncpg.create_pool = counting_pool  # type: ignore[assignment]
        sender = Gateway(cluster.config(SENDER), instance="bench-sender")
        await sender.start()
        try:
            api = Api(f"http://127.0.0.1:{cluster.nodes[SENDER].api_port}", token, Documents())
            log("warm-up, 2 s")
            await closed_loop(api, CLIENTS, 0, 2)

            log(f"pass 1: stage timers, {seconds:.0f} s")
            timers.reset()
            counter.enabled = True
            try:
                done = await closed_loop(api, CLIENTS, 0, seconds)
            finally:
                counter.enabled = False
                timers.remove()
            accepted = sum(1 for d in done if d[2] == 202)
            print(
                f"in-process sender, {CLIENTS} clients, stage timers on: {accepted} accepted "
                f"in {seconds:.0f} s = {accepted / seconds:,.0f} msg/s"
            )
            handler = timers.stages["handler, whole"].seconds
            print(f"\nPer accepted request ({accepted}); wall ms include awaits and overlap:")
            print(f"  {'stage':38} {'calls':>6} {'wall ms':>8} {'of handler':>10} {'CPU ms':>7}")
            for stage in timers.stages.values():
                cpu = f"{stage.thread_cpu / accepted * 1000:7.3f}" if stage.thread_cpu else ""
                print(
                    f"  {stage.name:38} {stage.calls / accepted:6.2f} "
                    f"{stage.seconds / accepted * 1000:8.3f} "
                    f"{stage.seconds / handler:10.0%} {cpu:>7}"
                )
            client = sum(d[1] - d[0] for d in done) / len(done)
            print(f"  {'client: request sent -> answer read':38} {'':6} {client * 1000:8.3f}")

            statements = counter.by_node.get(SENDER, {})
            print(
                "\nSQL of the sender per accepted request (the delivery to the peer included), "
                f"{sum(x.count for x in statements.values()) / accepted:.1f} statements:"
            )
            for name, sql in sorted(statements.items(), key=lambda kv: -kv[1].seconds):
                print(
                    f"  {name:42} {sql.count / accepted:6.2f}/request "
                    f"{sql.seconds / accepted * 1000:7.3f} ms/request "
                    f"{sql.seconds / sql.count * 1e6:7.0f} us each"
                )

            log(f"pass 2: cProfile, {seconds:.0f} s")
            profiler = cProfile.Profile()
            profiler.enable()
            done = await closed_loop(api, CLIENTS, 0, seconds)
            profiler.disable()
            accepted = sum(1 for d in done if d[2] == 202)
            print(
                f"\nUnder cProfile: {accepted} accepted in {seconds:.0f} s "
                f"= {accepted / seconds:,.0f} msg/s"
            )
            stats = pstats.Stats(profiler)
            table: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
            table = stats.stats  # type: ignore[attr-defined]
            print("Event loop CPU ms per accepted request inside each stage's function:")
            for owner, attribute, name in STAGES:
                if not hasattr(owner, attribute):
                    continue
                filename, function = code_of(owner, attribute)
                cumulative = sum(
                    entry[3]
                    for (file, _, func), entry in table.items()
                    if file == filename and func == function
                )
                print(f"  {name:38} {cumulative / accepted * 1000:8.3f}")
            text = io.StringIO()
            stats.stream = text  # type: ignore[attr-defined]
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(40)
            print(text.getvalue())
        finally:
            timers.remove()
            await sender.stop()
            asyncpg.create_pool = create_pool
            cluster.stop_all()
