"""Group commit: concurrent requests answered by one statement or one transaction.

Design note. Every queued message writes an audit entry, and the audit chain is linear: an
appender takes `pg_advisory_xact_lock` and holds it until its commit (fsync included), so one
transaction per message caps the node at 1 / (time the lock is held), some 300 messages a
second. As PostgreSQL's own group commit (commit_delay) and procrastinate's batching do, the
cure is to commit many callers' work in one transaction: one lock, one head read, one
multi-row insert per table, one NOTIFY statement, one fsync for the whole group.

`Coalescer` is the mechanism, with no SQL in it. A caller's request joins a pending list and
the caller awaits its own future. One drain task runs at a time: it takes the pending list
(bounded by count and by weight, e.g. envelope bytes), runs it as one group, settles each
member's future with that member's own outcome, and repeats while more arrived meanwhile.
So a lone request starts at once (no timer, no added latency when the node is idle), and
under load the group grows by itself to whatever arrived while the previous one was in
flight: the slower the commit, the bigger the next group.

What a group costs (Store.enqueue, store.py): BEGIN; one statement for every envelope, its
case reference and the senders' NOTIFY; then the chain's lock and head in one call
(audit_chain_head, migration 0013), the group's audit entries in one unnest insert, COMMIT.
The lock is held for the last three only. The runner keeps one pool connection for as long
as groups keep coming (HeldConnection): a pool acquire and release cost a round trip each.
Case lookups (Store.case_for_reference) are coalesced the same way into one `unnest` join.

Promises kept:
- A caller's await returns only after the transaction holding its request committed (or
  raises its own error): nothing is acknowledged before it is durable.
- A request never joins a group already in flight, so a lookup made after a write returned
  sees that write.
- A member never fails for another's fault: the group's runner returns one outcome per
  member (Store.enqueue retries a failed group member by member, see store.py).
- A member whose caller was cancelled before its group was taken is left out, unwritten;
  one cancelled later may still be committed with its group, unacknowledged, as a call
  cancelled during its own COMMIT could be before (aiohttp does not cancel a handler when
  its client goes away, so in practice this is shutdown only).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeAlias, TypeVar

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    PoolConnection: TypeAlias = PoolConnectionProxy[asyncpg.Record]

Request = TypeVar("Request")
Outcome = TypeVar("Outcome")


class Coalescer(Generic[Request, Outcome]):
    """Runs concurrent requests in groups, one group in flight at a time."""

    def __init__(
        self,
        run: Callable[[Sequence[Request]], Awaitable[Sequence[Outcome | Exception]]],
        # run gets a group and returns one outcome per member, in order: a result or the
        # exception that member's caller should see.
        *,
        max_count: int,
        max_weight: int = 0,
        weight: Callable[[Request], int] = lambda _: 0,
        # Called when the drain ends (nothing pending): the runner may keep a connection
        # across the groups of one busy spell and give it back here.
        on_idle: Callable[[], Awaitable[None]] | None = None,
        # How long the drain waits for a next request before it ends and calls on_idle.
        linger: float = 0.0,
    ) -> None:
        self._run = run
        self._on_idle = on_idle
        self._linger = linger
        self._arrived = asyncio.Event()
        self._max_count = max_count
        self._max_weight = max_weight
        self._weight = weight
        self._pending: deque[tuple[Request, asyncio.Future[Outcome]]] = deque()
        self._drain_task: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Outcome:
        """request's own outcome, once the group that holds it has run."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        self._arrived.set()
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain())
        return await future

    async def _next_arrival(self) -> bool:
        """Whether there is work: pending now, or arrived within the linger."""
        if self._pending:
            return True
        if self._linger <= 0:
            return False
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), self._linger)
        return bool(self._pending)

    async def idle(self) -> None:
        """Wait until no group is in flight (e.g. before closing the pool)."""
        while self._drain_task is not None:
            await asyncio.wait([self._drain_task])

    def _take(self) -> list[tuple[Request, asyncio.Future[Outcome]]]:
        group: list[tuple[Request, asyncio.Future[Outcome]]] = []
        weight = 0
        while self._pending and len(group) < self._max_count:
            request, future = self._pending[0]
            if future.done():  # cancelled by its caller: nobody waits, nothing to write
                self._pending.popleft()
                continue
            added = self._weight(request)
            if group and self._max_weight and weight + added > self._max_weight:
                break  # a heavy member still goes, alone, as the first of the next group
            self._pending.popleft()
            group.append((request, future))
            weight += added
        return group

    async def _drain(self) -> None:
        try:
            while await self._next_arrival():
                group = self._take()
                if not group:
                    continue
                try:
                    outcomes: Sequence[Outcome | Exception] = await self._run(
                        [request for request, _ in group]
                    )
                except Exception as error:  # the runner's own bug: every member hears it
                    outcomes = [error] * len(group)
                except BaseException:  # cancelled (shutdown): nobody is left to answer
                    for _, future in [*group, *self._pending]:
                        future.cancel()
                    self._pending.clear()
                    raise
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            try:
                if self._on_idle is not None:
                    await self._on_idle()
            finally:
                self._drain_task = None
                if self._pending:  # arrived while on_idle ran: nobody else will drain them
                    self._drain_task = asyncio.create_task(self._drain())


class HeldConnection:
    """One pool connection kept by a Coalescer's runner across the groups of a busy spell.

    Each acquire and release of a pool connection costs a round trip (the pool resets the
    session on release); under load a group runs every few milliseconds, so the runner keeps
    one connection while groups keep coming and gives it back when the drain ends (on_idle,
    after the Coalescer's linger: a drain that ended the moment its queue emptied gave the
    connection back, and had the pool reset it, once every few requests under a steady
    load of 16 API clients) or after a failure, when the connection may be broken."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._connection: PoolConnection | None = None

    async def get(self) -> PoolConnection:
        if self._connection is None or self._connection.is_closed():
            await self.release()
            self._connection = await self._pool.acquire()
        return self._connection

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken one is discarded by the pool
                await self._pool.release(connection)
