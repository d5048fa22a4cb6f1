"""kill -9 of a node while its local API's requests are being group-committed.

Sixteen local clients post in a loop to a real `gateway run`, so its enqueues are gathered
into shared transactions; the node is killed with requests in flight, restarted, and
killed again. Every message answered 202 must be in the outbox, every queued row must have
its audit entry (a group is committed whole or not at all), and the chain must verify.
"""

from __future__ import annotations

import asyncio

import aiohttp
from google.protobuf import json_format

from gateway.store import Store
from tests.federation.harness import Federation, alert, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
CLIENTS = 16
ROUNDS = 3
ANSWERS_BEFORE_KILL = 150
MEDIA_TYPE = "application/vnd.blg.canonical+json"


async def _poster(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    prefix: str,
    stop: asyncio.Event,
    acknowledged: list[str],
) -> bool:
    """Post until stopped; True when a request was cut off by the kill (no answer)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MEDIA_TYPE}
    sent = 0
    while not stop.is_set():
        body = json_format.MessageToJson(alert(f"{prefix}-{sent}")).encode()
        sent += 1
        try:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.json()
                assert response.status == 202, answer
        except (aiohttp.ClientError, ConnectionError):
            return True
        acknowledged += [item["id"] for item in answer["messages"]]
    return False


async def _queued_rows_and_entries(store: Store) -> tuple[set[str], list[str]]:
    rows = await store.list_outbox(limit=100_000)
    entries = await store.list_audit(limit=100_000)
    return (
        {str(row.message_id) for row in rows},
        [entry.subject for entry in entries if entry.action == "outbox.queued"],
    )


async def test_kill_9_during_group_commits_loses_no_acknowledged_message(
    federation: Federation,
) -> None:
    token, client = local_client("case-system", ["canonical-json"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [client]}
    federation.write_config(POLICE)
    url = f"{federation.api_url(POLICE)}/api/v1/messages?to={RATANAKIRI}"
    acknowledged: list[str] = []
    cut_off = 0
    for round_number in range(ROUNDS):
        federation.start(POLICE)
        await federation.wait_ready(POLICE)
        stop = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            posters = [
                asyncio.create_task(
                    _poster(session, url, token, f"K{round_number}-{n}", stop, acknowledged)
                )
                for n in range(CLIENTS)
            ]
            target = len(acknowledged) + ANSWERS_BEFORE_KILL
            deadline = asyncio.get_running_loop().time() + 60
            while len(acknowledged) < target:
                assert asyncio.get_running_loop().time() < deadline, len(acknowledged)
                assert not any(poster.done() for poster in posters), "a poster stopped early"
                await asyncio.sleep(0.01)
            federation.kill(POLICE)
            stop.set()
            cut_off += sum(await asyncio.gather(*posters))
    # The kills landed with requests in flight, not between them.
    assert cut_off >= ROUNDS

    store = await federation.store(POLICE)
    try:
        queued, audited = await _queued_rows_and_entries(store)
        assert set(acknowledged) <= queued
        assert sorted(audited) == sorted(queued)
        verdict = await store.verify_audit()
        assert verdict.first_broken_seq is None
        assert verdict.entries == len(audited)
    finally:
        await store.close()
