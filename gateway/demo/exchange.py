"""Sending the demo samples and following them to their signed receipts.

Samples are submitted the way every local way into a gateway submits: through the sender's
`Dispatcher`, writing to the sender's own database. The running sender node learns of them by
LISTEN/NOTIFY, exactly as it would from its local API; the demo never talks to a node's
federation endpoint itself. Progress is read back from the sender's outbox, where a message is
"delivered" only once the recipient's signed receipt has been verified and stored.

What is shown is what an operator may see: nodes, kinds, the sender's references, states and
times. Message content never reaches the terminal.

The samples name attachments (photos, scanned records) by id. A message may only name what
its local client uploaded (gateway.api.uploads), so the demo uploads, as its own client
`demo`, a placeholder image under each id before it submits: the attachments then travel
with their messages, as a real scan would.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from gateway.components import dispatcher_for, keyring_from_config, utc_now
from gateway.config import NodeConfig
from gateway.demo.federation import DemoNode
from gateway.demo.routes import DemoRoute, load_sample
from gateway.federation.outgoing import SubmissionRefused
from gateway.federation.outgoing_attachments import attachment_refs
from gateway.federation.streams import stage_upload
from gateway.store import FINAL_STATES, OutboxRow, Store
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import canonical

DELIVERY_TIMEOUT_SECONDS = 60.0
DELIVERY_POLL_SECONDS = 0.2
DEMO_ACTOR = "demo"
# The demo's uploads are this local client's (no token: it writes to the database itself).
DEMO_CLIENT = "demo"
# A 1x1 PNG: what the demo attaches under each id a sample names.
PLACEHOLDER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


class SendError(Exception):
    """A sender node refused a demo sample."""


@dataclass(frozen=True)
class SentMessage:
    """One queued copy of a sample: one message id, one recipient."""

    message_id: uuid.UUID
    sender: str
    recipient: str
    kind: str
    sender_reference: str


@dataclass(frozen=True)
class DeliveryReport:
    """Where a sent message stands, from its sender's outbox."""

    sent: SentMessage
    state: str  # the outbox state, or "missing" if the row is not (yet) visible
    queued_at: datetime | None
    receipt_received_at: datetime | None
    last_error: str | None

    @property
    def delivered(self) -> bool:
        return self.state == "delivered" and self.receipt_received_at is not None

    @property
    def settled(self) -> bool:
        """No longer changing: delivered with its receipt, or ended another way."""
        return self.delivered or (self.state in FINAL_STATES and self.state != "delivered")

    @property
    def latency(self) -> timedelta | None:
        if self.queued_at is None or self.receipt_received_at is None:
            return None
        return self.receipt_received_at - self.queued_at


async def send_samples(
    routes: Sequence[DemoRoute],
    nodes: Mapping[str, DemoNode],
    stores: Mapping[str, Store],
) -> list[SentMessage]:
    """Submit each route's sample through its sender's database; one SentMessage per copy."""
    sent: list[SentMessage] = []
    for route in routes:
        config, store = nodes[route.sender].config, stores[route.sender]
        dispatcher = dispatcher_for(config, store, utc_now)
        for message in load_sample(route):
            kind = message.WhichOneof("body") or "-"
            await upload_placeholders(store, config, DEMO_CLIENT, message)
            try:
                queued = await dispatcher.submit(
                    message, route.recipients, actor=DEMO_ACTOR, local_client=DEMO_CLIENT
                )
            except SubmissionRefused as refused:
                raise SendError(
                    f"{route.sender} refused {route.sample}: "
                    f"{refused.code}: {refused.field}: {refused.message}"
                ) from None
            sent.extend(
                SentMessage(
                    item.message_id, route.sender, item.recipient, kind, message.sender_reference
                )
                for item in queued
            )
    return sent


async def upload_placeholders(
    store: Store, config: NodeConfig, client: str, message: canonical.Message
) -> None:
    """A placeholder image uploaded as `client` under each attachment id message names."""
    for attachment_id in dict.fromkeys(value for _, value in attachment_refs(message)):
        await _upload_placeholder(store, config, client, attachment_id)


async def _upload_placeholder(
    store: Store, config: NodeConfig, client: str, attachment_id: str
) -> None:
    staged = await store.staged_attachment(client, attachment_id)
    if staged is not None and staged.complete:
        return  # a demo run before, on the same database

    async def body() -> AsyncIterator[bytes]:
        yield PLACEHOLDER_PNG

    if staged is not None:
        await store.discard_attachment(AttachmentKeyRef(client, "outgoing", attachment_id))
    await stage_upload(
        store,
        keyring_from_config(config),
        client=client,
        attachment_id=attachment_id,
        plaintext=body(),
        media_type="image/png",
        max_plaintext=config.limits.max_attachment_bytes,
        now=utc_now(),
    )


async def wait_for_delivery(
    sent: Sequence[SentMessage],
    stores: Mapping[str, Store],
    timeout_seconds: float = DELIVERY_TIMEOUT_SECONDS,
) -> list[DeliveryReport]:
    """Poll the senders' outboxes until every message is settled or the timeout passes."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        reports = await _delivery_reports(sent, stores)
        if all(report.settled for report in reports) or time.monotonic() > deadline:
            return reports
        await asyncio.sleep(DELIVERY_POLL_SECONDS)


async def _delivery_reports(
    sent: Sequence[SentMessage], stores: Mapping[str, Store]
) -> list[DeliveryReport]:
    rows: dict[uuid.UUID, OutboxRow] = {}
    for sender in dict.fromkeys(message.sender for message in sent):
        # The demo's databases are new, so the newest rows are the demo's own; the margin
        # covers anything queued meanwhile by hand (`gateway send` against a demo node).
        limit = sum(1 for message in sent if message.sender == sender) + 1000
        for row in await stores[sender].list_outbox(limit=limit):
            rows[row.message_id] = row
    reports: list[DeliveryReport] = []
    for message in sent:
        found = rows.get(message.message_id)
        reports.append(
            DeliveryReport(message, "missing", None, None, None)
            if found is None
            else DeliveryReport(
                message, found.state, found.queued_at, found.receipt_received_at, found.last_error
            )
        )
    return reports


TABLE_HEADER = ("FROM", "TO", "KIND", "SENDER REFERENCE", "STATE", "RECEIPT", "LATENCY")


def print_table(reports: Sequence[DeliveryReport], out: TextIO = sys.stdout) -> None:
    """One line per message: route, kind, reference, state, receipt time (UTC), latency."""
    rows = [TABLE_HEADER] + [
        (
            report.sent.sender,
            report.sent.recipient,
            report.sent.kind,
            report.sent.sender_reference or "-",
            report.state,
            _utc_text(report.receipt_received_at),
            _milliseconds_text(report.latency),
        )
        for report in reports
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_HEADER))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=out,
        )


def _utc_text(instant: datetime | None) -> str:
    if instant is None:
        return "-"
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _milliseconds_text(duration: timedelta | None) -> str:
    if duration is None:
        return "-"
    return f"{duration / timedelta(milliseconds=1):.0f} ms"
