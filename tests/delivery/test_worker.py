"""The local delivery worker against a real PostgreSQL: stored envelopes that no longer open
are held with a reason code, and the feed goes on to the message behind them."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters import adapter_for
from gateway.crypto import Keyring, OwnKeyPair
from gateway.delivery.targets import DropFolderTarget
from gateway.delivery.worker import LocalDeliveryQueue
from gateway.federation.sender import RetryPolicy
from gateway.ops.metrics import GatewayMetrics
from gateway.store import IncomingEnvelope, Store
from gateway.wire import uuid7
from tests.federation.harness import KEY_VALIDITY

CLIENT = "police-records"


async def test_envelopes_that_no_longer_open_are_held_and_the_feed_goes_on(
    store: Store, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender="kh-ratanakiri-police",
                message_id=uuid7(),
                case_id=uuid.uuid4(),
                kind="hotline_alert",
                envelope=data,
                envelope_sha256=hashlib.sha256(data).digest(),
                receipt=b"receipt",
                created_at=now,
                received_at=now,
                local_recipients=(CLIENT,),
            )
            for data in (b"not an envelope", b"nor this one")
        ]
    )
    metrics = GatewayMetrics()
    queue = LocalDeliveryQueue(
        client=CLIENT,
        target=DropFolderTarget(tmp_path),
        adapter=adapter_for("kh-police-xml"),
        store=store,
        keyring=Keyring("vn-gialai-police", [OwnKeyPair.generate("k1", KEY_VALIDITY)], {}),
        policy=RetryPolicy(initial_backoff=timedelta(hours=1), max_backoff=timedelta(hours=1)),
        metrics=metrics,
    )
    task = asyncio.create_task(queue.run())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [summary] = await store.local_client_summaries([CLIENT])
            if summary.held == 2:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # One hour of backoff after the first: only holding both proves the feed went on.
    assert (summary.backlog, summary.held) == (0, 2)
    reasons = {row.held_reason for row in await store.list_local_deliveries(state="held")}
    assert reasons == {"envelope_rejected:header_malformed"}
    assert list(tmp_path.iterdir()) == []
    held = metrics.registry.get_sample_value(
        "blg_local_deliveries_total", {"client": CLIENT, "result": "held"}
    )
    assert held == 2
