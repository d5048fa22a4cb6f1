"""A node flooded with maximum-size batches keeps serving everyone else.

Attackers claim one configured peer (the police) and post, for a bounded time and count, the
two most expensive requests there are: 16 MiB of empty envelopes, and full batches of forged
envelopes of 150 KB that get as far as the signature check. Meanwhile a second, honest peer
(the BLO) sends its normal traffic, and /healthz is asked every 200 ms. Every /healthz must
answer within 1 s, and every honest message must be delivered with a verified receipt while
the flood goes on.

The attack runs in a thread with its own event loop, so that writing 16 MiB bodies never
delays the test's own /healthz probes: the latency measured is the node's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import aiohttp

from tests.federation.attack import empty_envelopes, forged_envelopes, post_batch
from tests.federation.harness import Federation, alert

POLICE, RATANAKIRI, BLO = "vn-gialai-police", "kh-ratanakiri-police", "vn-gialai-blo"
ATTACKERS = 4
MAX_REQUESTS = 400
MAX_SECONDS = 20.0
HEALTHZ_BOUND = 1.0


def _flood(federation: Federation, stop: threading.Event, results: Counter[str]) -> None:
    bodies = [
        empty_envelopes(),
        forged_envelopes(federation, POLICE, RATANAKIRI, count=100, size=150_000),
    ]
    deadline = time.monotonic() + MAX_SECONDS

    async def attacker(number: int) -> None:
        async with aiohttp.ClientSession() as session:
            sent = number
            while not stop.is_set() and time.monotonic() < deadline:
                if sum(results.values()) >= MAX_REQUESTS:
                    return
                try:
                    answer = await post_batch(
                        session, federation, RATANAKIRI, POLICE, bodies[sent % 2]
                    )
                    results[str(answer.status)] += 1
                except (aiohttp.ClientError, TimeoutError) as error:
                    results[type(error).__name__] += 1
                sent += 1

    async def all_attackers() -> None:
        await asyncio.gather(*(attacker(n) for n in range(ATTACKERS)))

    asyncio.run(all_attackers())


async def _probe_healthz(federation: Federation, stop: asyncio.Event) -> list[float]:
    url = f"http://127.0.0.1:{federation.nodes[RATANAKIRI].api_port}/healthz"
    latencies = []
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            started = time.monotonic()
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
                    assert response.status == 200
            except TimeoutError:
                pass  # counted as the full wait below
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.2)
    return latencies


async def test_healthz_and_an_honest_peer_are_served_through_a_batch_flood(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI, BLO)
    for node in (RATANAKIRI, BLO):
        federation.start(node)
    for node in (RATANAKIRI, BLO):
        await federation.wait_ready(node)

    stop_flood, stop_probe = threading.Event(), asyncio.Event()
    results: Counter[str] = Counter()
    flood = asyncio.create_task(asyncio.to_thread(_flood, federation, stop_flood, results))
    probe = asyncio.create_task(_probe_healthz(federation, stop_probe))
    try:
        # Let the flood get going before the honest traffic starts.
        while sum(results.values()) < ATTACKERS and not flood.done():
            await asyncio.sleep(0.1)
        for round_number in range(2):
            await federation.send(
                BLO, RATANAKIRI, [alert(f"BLO-{round_number}-{n}") for n in range(10)]
            )
            await federation.wait_delivered(BLO, 10 * (round_number + 1), timeout=MAX_SECONDS)
        still_flooding = not flood.done()
    finally:
        stop_flood.set()
        await flood
        stop_probe.set()
        latencies = await probe

    # The honest messages were delivered while the attack was still on, and the attack was
    # real: many maximum-size requests, each answered (refused or with receipts).
    assert still_flooding, results
    assert sum(results.values()) >= 2 * ATTACKERS, results
    assert set(results) <= {"200", "413", "429"}, results
    assert len(latencies) >= 5
    assert max(latencies) < HEALTHZ_BOUND, sorted(latencies)[-5:]
