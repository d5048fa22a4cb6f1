"""The local API phase: `POST /api/v1/messages`, the path police systems use.

The bench is the police case system: aiohttp, keep-alive, plain HTTP on loopback to the
sender's `gateway run` (the sender's config has one local client, vn-police-json, added
with the writer's edit_config). Every request carries one ~1 KiB vn-police-json hotline
alert (TIN_BAO_111) with a new so_hieu, so each is a new message and a new case, to
kh-ratanakiri-police.

1. Accepted: C clients (16) each post in a loop, a new request as soon as the previous
   answer came, for warm-up + window seconds. Accepted rate = 202 answers completed inside
   the window / window seconds; request latency = send to answer read, of the requests
   completed inside the window. The peer keeps delivering meanwhile; afterwards the bench
   waits until the sender's outbox has no pending row.
2. Latency at a fixed offered load: R requests/s (1,000) offered open loop for S seconds,
   request i started at its due time start + i/R in its own task (a pool of up to 256
   keep-alive connections). Latency = receipts.stored_at at the sender (by the message id
   of the 202 answer) - the request's due time (same host's wall clock); stored_at is now()
   of the sender's finish transaction. "Kept up": every request accepted and the accepted
   rate >= 97 % of R. Also split at the 202 answer (answer read -> receipt stored).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.exchange.cluster import log
from bench.exchange.messages import Documents
from bench.exchange.outbox import Outbox
from bench.exchange.targets import RECEIVER, Percentiles

KEPT_UP = 0.97
CLIENT_ID = "bench-case-system"


class Api:
    """The sender's local API as the bench's case system sees it."""

    def __init__(self, base_url: str, token: str, documents: Documents) -> None:
        self.url = f"{base_url}/api/v1/messages"
        self.params = {"to": RECEIVER}
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": documents.media_type}
        self.documents = documents

    async def post(self, session: aiohttp.ClientSession) -> tuple[int, str | None]:
        """(status, message id of a 202 answer)."""
        async with session.post(
            self.url, data=self.documents.next(), params=self.params, headers=self.headers
        ) as response:
            body = await response.read()
            if response.status != 202:
                return response.status, None
            answer: dict[str, Any] = json.loads(body)
            return 202, str(answer["messages"][0]["id"])


async def closed_loop(
    api: Api, clients: int, warmup: float, window: float
) -> list[tuple[float, float, int, str | None]]:
    """(sent, answered, status, message id) of every request, perf_counter instants."""
    done: list[tuple[float, float, int, str | None]] = []
    end = time.perf_counter() + warmup + window
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while (sent := time.perf_counter()) < end:
                try:
                    status, message_id = await api.post(session)
                except aiohttp.ClientError:
                    status, message_id = 0, None
                done.append((sent, time.perf_counter(), status, message_id))

        await asyncio.gather(*(client() for _ in range(clients)))
    return done


# --- 1. accepted msg/s, closed loop ------------------------------------------------------------


@dataclass
class Accepted:
    clients: int
    window_seconds: float
    requests: int
    accepted: int
    statuses: dict[str, int]
    rate: float
    latency: Percentiles


async def measure_accepted(api: Api, clients: int, warmup: float, window: float) -> Accepted:
    log(f"api: {clients} clients, {warmup:.0f} s warm-up + {window:.0f} s window")
    started = time.perf_counter()
    done = await closed_loop(api, clients, warmup, window)
    opens = started + warmup
    closes = opens + window
    inside = [d for d in done if opens <= d[1] < closes]
    accepted = sum(1 for d in inside if d[2] == 202)
    return Accepted(
        clients=clients,
        window_seconds=window,
        requests=len(inside),
        accepted=accepted,
        statuses={str(k): v for k, v in sorted(Counter(d[2] for d in inside).items())},
        rate=accepted / window,
        latency=Percentiles.of([d[1] - d[0] for d in inside]),
    )


# --- 2. latency at a fixed offered load, open loop ---------------------------------------------


@dataclass
class Offered:
    target_rate: float
    requests: int
    offered_rate: float
    accepted: int
    accepted_rate: float
    kept_up: bool
    statuses: dict[str, int]
    request: Percentiles
    receipted: int
    completed: bool
    to_receipt: Percentiles
    answer_to_receipt: Percentiles


async def offer_open_loop(
    api: Api, rate: float, total: int
) -> tuple[float, list[tuple[float, float, float, int, str | None]]]:
    """Start request i at its due time; (wall clock of the first due instant, per request
    (due, started, answered) as offsets from it in seconds, status, message id)."""
    results: list[tuple[float, float, float, int, str | None]] = []
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        wall = time.time()
        started = time.perf_counter()

        async def one(index: int) -> None:
            begun = time.perf_counter() - started
            try:
                status, message_id = await api.post(session)
            except aiohttp.ClientError:
                status, message_id = 0, None
            results.append((index / rate, begun, time.perf_counter() - started, status, message_id))

        sent = 0
        while sent < total:
            due = min(total, math.floor((time.perf_counter() - started) * rate) + 1)
            for index in range(sent, due):
                task = asyncio.create_task(one(index))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent = max(sent, due)
            await asyncio.sleep(0.001)
        while tasks:
            await asyncio.gather(*tasks)
    return wall, results


async def measure_offered(api: Api, outbox: Outbox, rate: float, seconds: float) -> Offered:
    total = int(rate * seconds)
    log(f"api: offering {rate:,.0f} requests/s for {seconds:.0f} s, open loop")
    wall, results = await offer_open_loop(api, rate, total)
    accepted = [r for r in results if r[3] == 202 and r[4] is not None]
    last_start = max(r[1] for r in results)
    last_answer = max((r[2] for r in accepted), default=math.nan)
    log(f"api: {len(accepted):,}/{total:,} accepted; waiting for their receipts")
    stored, completed = await outbox.receipts_stored(
        [str(r[4]) for r in accepted], max(120.0, total / 50)
    )
    to_receipt = [
        stored[str(r[4])].timestamp() - (wall + r[0]) for r in accepted if str(r[4]) in stored
    ]
    answer_to_receipt = [
        stored[str(r[4])].timestamp() - (wall + r[2]) for r in accepted if str(r[4]) in stored
    ]
    accepted_rate = len(accepted) / last_answer if last_answer > 0 else math.nan
    return Offered(
        target_rate=rate,
        requests=total,
        offered_rate=total / last_start if last_start > 0 else math.nan,
        accepted=len(accepted),
        accepted_rate=accepted_rate,
        kept_up=len(accepted) == total and accepted_rate >= KEPT_UP * rate,
        statuses={str(k): v for k, v in sorted(Counter(r[3] for r in results).items())},
        request=Percentiles.of([r[2] - r[0] for r in results]),
        receipted=len(to_receipt),
        completed=completed,
        to_receipt=Percentiles.of(to_receipt),
        answer_to_receipt=Percentiles.of(answer_to_receipt),
    )
