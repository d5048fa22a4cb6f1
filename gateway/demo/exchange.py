"""Sending the demo samples and following them to their signed receipts.

Samples are submitted the way every local way into a gateway submits: through the sender's
`Dispatcher`, writing to the sender's own database. The running sender node learns of them by
LISTEN/NOTIFY, exactly as it would from its local API; the demo never talks to a node's
federation endpoint itself. Progress is read back from the sender's outbox, where a message is
"delivered" only once the recipient's signed receipt has been verified and stored.

What is shown is what an operator may see: nodes, kinds, the sender's references, states and
times. Message content never reaches the terminal.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from gateway.app import dispatcher_for, utc_now
from gateway.demo.federation import DemoNode
from gateway.demo.routes import DemoRoute, load_sample
from gateway.federation.outgoing import SubmissionRefused
from gateway.store import FINAL_STATES, OutboxRow, Store

DELIVERY_TIMEOUT_SECONDS = 60.0
DELIVERY_POLL_SECONDS = 0.2
DEMO_ACTOR = "demo"


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
        dispatcher = dispatcher_for(nodes[route.sender].config, stores[route.sender], utc_now)
        for message in load_sample(route):
            kind = message.WhichOneof("body") or "-"
            try:
                queued = await dispatcher.submit(message, route.recipients, actor=DEMO_ACTOR)
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
