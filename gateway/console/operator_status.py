"""What the operator page shows, computed from the store's summaries: pure, no I/O.

Reachability and key days are decided in gateway/ops/node_health.py, which `gateway status`
and /metrics use too: the page, the terminal and the alerts cannot disagree about a peer.

Durations are given as at most two whole units (days and hours, hours and minutes, or
minutes), rounded down, so the template can say each with its unit in the reader's language.
Nothing here reads message content: only states, counts, times and reason codes.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.console.context import PeerView
from gateway.ops import node_health
from gateway.ops.node_health import Reachability, days_left, reachability
from gateway.store import LocalClientSummary, OutboxRow, PeerSummary

# Longer reason texts are cut: a transport error's text can be long, and the page stays short.
MAX_ERROR_CHARS = 120
# Dead and rejected messages listed per state; more are counted but not shown.
STUCK_LIMIT = 100
# Keys that expire within this many days are flagged, as by the alerts and `gateway status`.
KEYS_WARNING_DAYS = node_health.KEYS_WARNING_DAYS


class TimeUnit(enum.StrEnum):
    DAYS = "days"
    HOURS = "hours"
    MINUTES = "minutes"


@dataclass(frozen=True)
class Span:
    """A duration as up to two (unit, count) parts, largest first, e.g. 2 days 3 hours."""

    parts: tuple[tuple[TimeUnit, int], ...]


def span(duration: timedelta) -> Span:
    """`duration` (negative counts as zero) in its two largest whole units."""
    minutes = max(int(duration.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return Span(
            ((TimeUnit.DAYS, days), (TimeUnit.HOURS, hours)) if hours else ((TimeUnit.DAYS, days),)
        )
    if hours:
        return Span(
            ((TimeUnit.HOURS, hours), (TimeUnit.MINUTES, minutes))
            if minutes
            else ((TimeUnit.HOURS, hours),)
        )
    return Span(((TimeUnit.MINUTES, minutes),))


def short_error(text: str | None) -> str | None:
    if not text:
        return None
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@dataclass(frozen=True)
class PeerStatus:
    """One row of the peers table."""

    id: str
    reachability: Reachability
    pending: int
    oldest_pending_at: datetime | None
    oldest_pending_age: Span | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    retry_at: datetime | None
    last_error: str | None
    keys_valid_until: datetime | None
    keys_days_left: int | None


def peer_statuses(
    peers: Sequence[PeerView], summaries: Sequence[PeerSummary], now: datetime
) -> list[PeerStatus]:
    """A row per configured peer, in the configuration's order."""
    by_peer = {summary.peer: summary for summary in summaries}
    rows: list[PeerStatus] = []
    for peer in peers:
        summary = by_peer.get(peer.id) or PeerSummary(peer.id, 0, None, 0, None, None, None, None)
        oldest = summary.oldest_pending
        rows.append(
            PeerStatus(
                id=peer.id,
                reachability=reachability(summary, now),
                pending=summary.pending,
                oldest_pending_at=oldest,
                oldest_pending_age=None if oldest is None else span(now - oldest),
                last_success_at=summary.last_success_at,
                last_failure_at=summary.last_failure_at,
                retry_at=summary.retry_at if summary.failures else None,
                last_error=short_error(summary.last_error),
                keys_valid_until=peer.keys_valid_until,
                keys_days_left=days_left(peer.keys_valid_until, now),
            )
        )
    return rows


@dataclass(frozen=True)
class StuckMessage:
    """A dead or rejected outgoing message: metadata only, never its content."""

    message_id: uuid.UUID
    case_id: uuid.UUID
    kind: str
    peer: str
    state: str
    handling: str
    attempts: int
    last_error: str | None
    queued_at: datetime
    finished_at: datetime | None


def stuck_messages(rows: Sequence[OutboxRow]) -> list[StuckMessage]:
    """Newest first (by when the message ended, else when it was queued)."""
    stuck = [
        StuckMessage(
            message_id=row.message_id,
            case_id=row.case_id,
            kind=row.kind,
            peer=row.recipient,
            state=row.state,
            handling=row.handling,
            attempts=row.attempts,
            last_error=short_error(row.last_error),
            queued_at=row.queued_at,
            finished_at=row.finished_at,
        )
        for row in rows
    ]
    stuck.sort(key=lambda item: item.finished_at or item.queued_at, reverse=True)
    return stuck


@dataclass(frozen=True)
class LocalClientStatus:
    """One row of the local systems' backlog table."""

    id: str
    backlog: int
    oldest_pending_at: datetime | None
    oldest_pending_age: Span | None
    head_attempts: int
    held: int


def local_client_statuses(
    summaries: Sequence[LocalClientSummary], now: datetime
) -> list[LocalClientStatus]:
    return [
        LocalClientStatus(
            id=summary.client,
            backlog=summary.backlog,
            oldest_pending_at=summary.oldest_pending,
            oldest_pending_age=(
                None if summary.oldest_pending is None else span(now - summary.oldest_pending)
            ),
            head_attempts=summary.head_attempts,
            held=summary.held,
        )
        for summary in summaries
    ]
