"""The local delivery worker against a real PostgreSQL: stored envelopes that no longer open
are held with a reason code, and the feed goes on to the message behind them."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters import adapter_for
from gateway.crypto import Keyring, OwnKeyPair, seal
from gateway.delivery.targets import Document, DropFolderTarget, TargetUnavailable
from gateway.delivery.worker import LocalDeliveryQueue
from gateway.federation.sender import RetryPolicy
from gateway.ops.metrics import GatewayMetrics
from gateway.store import IncomingEnvelope, PendingLocalDelivery, Store
from gateway.wire import Kind, envelope, uuid7
from tests.federation.harness import KEY_VALIDITY, Federation, alert

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


class CorruptFirst:
    """A drop folder whose first message's attachment is corrupt at rest (a final refusal);
    the others are taken."""

    via = "drop_folder"

    def __init__(self, corrupt: uuid.UUID) -> None:
        self.corrupt = corrupt
        self.taken: list[uuid.UUID] = []

    async def deliver(
        self,
        delivery: PendingLocalDelivery,
        document: Document,
        record_file_name: Callable[[str], Awaitable[None]],
    ) -> None:
        del document, record_file_name
        if delivery.message_id == self.corrupt:
            raise TargetUnavailable("attachment: attachment_corrupt", final=True)
        self.taken.append(delivery.message_id)


async def test_an_attachment_no_retry_can_read_holds_its_message_and_the_feed_goes_on(
    store: Store, federation: Federation
) -> None:
    blo, rtk = "vn-gialai-blo", "kh-ratanakiri-police"
    await federation.add(blo, rtk)
    now = datetime.now(UTC)
    envelopes = []
    for reference in ("KH-1", "KH-2"):
        message = alert(reference)
        sealed = seal(
            federation.keyring(blo),
            recipient=rtk,
            kind=Kind.HOTLINE_ALERT,
            case_id=uuid.uuid4(),
            message_id=uuid7(),
            payload=envelope.SealedPayload(message=message.SerializeToString()),
            created_at=now - timedelta(seconds=1),
            expires_at=now + timedelta(days=1),
        )
        envelopes.append(
            IncomingEnvelope(
                sender=blo,
                message_id=sealed.header.message_id,
                case_id=uuid.uuid4(),
                kind="hotline_alert",
                envelope=sealed.data,
                envelope_sha256=hashlib.sha256(sealed.data).digest(),
                receipt=b"receipt",
                created_at=now,
                received_at=now,
                local_recipients=(CLIENT,),
            )
        )
    await store.store_incoming(envelopes)
    target = CorruptFirst(envelopes[0].message_id)
    queue = LocalDeliveryQueue(
        client=CLIENT,
        target=target,
        adapter=adapter_for("kh-police-xml"),
        store=store,
        keyring=federation.keyring(rtk),
        policy=RetryPolicy(initial_backoff=timedelta(hours=1), max_backoff=timedelta(hours=1)),
        metrics=GatewayMetrics(),
    )
    task = asyncio.create_task(queue.run())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not target.taken:
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # One hour of backoff after a retryable failure: the second is taken only if the first
    # was held at once.
    assert target.taken == [envelopes[1].message_id]
    held = await store.list_local_deliveries(state="held")
    assert [(row.message_id, row.held_reason) for row in held] == [
        (envelopes[0].message_id, "attachment:attachment_corrupt")
    ]
