"""The operator page's figures: reachability from the destinations table, ages, key expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.console.context import PeerView
from gateway.console.operator_status import (
    MAX_ERROR_CHARS,
    Span,
    TimeUnit,
    peer_statuses,
    short_error,
    span,
    stuck_messages,
)
from gateway.ops.node_health import Reachability, days_left, reachability
from gateway.store import OutboxRow, PeerSummary

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def summary(
    *,
    failures: int = 0,
    retry_at: datetime | None = None,
    last_success_at: datetime | None = None,
    last_failure_at: datetime | None = None,
) -> PeerSummary:
    return PeerSummary(
        peer="kh-ratanakiri-police",
        pending=0,
        oldest_pending=None,
        failures=failures,
        retry_at=retry_at,
        last_error="connect: refused" if failures else None,
        last_success_at=last_success_at,
        last_failure_at=last_failure_at,
    )


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        (summary(), Reachability.UNKNOWN),
        (summary(last_success_at=NOW - HOUR), Reachability.REACHABLE),
        # Recovered: the success came after the failure, and the count was reset.
        (
            summary(last_success_at=NOW - HOUR, last_failure_at=NOW - 2 * HOUR),
            Reachability.REACHABLE,
        ),
        (
            summary(failures=3, retry_at=NOW + HOUR, last_failure_at=NOW - HOUR),
            Reachability.UNREACHABLE,
        ),
        (
            summary(
                failures=1,
                retry_at=NOW + HOUR,
                last_success_at=NOW - 2 * HOUR,
                last_failure_at=NOW - HOUR,
            ),
            Reachability.UNREACHABLE,
        ),
        # A retry still scheduled counts as unreachable even with the count at zero.
        (summary(retry_at=NOW + HOUR, last_success_at=NOW - HOUR), Reachability.UNREACHABLE),
        # The last failure is newer than the last success.
        (
            summary(last_success_at=NOW - 2 * HOUR, last_failure_at=NOW - HOUR),
            Reachability.UNREACHABLE,
        ),
        (summary(last_failure_at=NOW - HOUR), Reachability.UNREACHABLE),
    ],
)
def test_reachability_from_the_destinations_table(
    destination: PeerSummary, expected: Reachability
) -> None:
    assert reachability(destination, NOW) == expected


D, H, M = TimeUnit.DAYS, TimeUnit.HOURS, TimeUnit.MINUTES


@pytest.mark.parametrize(
    ("duration", "parts"),
    [
        (timedelta(seconds=-5), ((M, 0),)),
        (timedelta(seconds=59), ((M, 0),)),
        (timedelta(minutes=7, seconds=59), ((M, 7),)),
        (timedelta(hours=1), ((H, 1),)),
        (timedelta(hours=2, minutes=5), ((H, 2), (M, 5))),
        (timedelta(days=1), ((D, 1),)),
        (timedelta(days=3, hours=4, minutes=59), ((D, 3), (H, 4))),
    ],
)
def test_span_gives_the_two_largest_whole_units(
    duration: timedelta, parts: tuple[tuple[TimeUnit, int], ...]
) -> None:
    assert span(duration) == Span(parts)


@pytest.mark.parametrize(
    ("valid_until", "expected"),
    [
        (None, None),
        (NOW + timedelta(days=30), 30),
        (NOW + timedelta(days=2, hours=23), 2),
        (NOW + timedelta(hours=1), 0),
        (NOW - timedelta(hours=1), -1),
    ],
)
def test_days_left(valid_until: datetime | None, expected: int | None) -> None:
    assert days_left(valid_until, NOW) == expected


def test_short_error_cuts_long_text() -> None:
    assert short_error(None) is None
    assert short_error("") is None
    assert short_error("refused: clock_skew") == "refused: clock_skew"
    cut = short_error("x" * 500)
    assert cut is not None
    assert len(cut) == MAX_ERROR_CHARS
    assert cut.endswith("…")


def test_every_configured_peer_gets_a_row_even_without_a_summary() -> None:
    peers = [
        PeerView("kh-ratanakiri-police", "KH", {"en": "Ratanakiri"}, "https://r/", NOW + HOUR),
        PeerView("vn-gialai-police", "VN", {"en": "Gia Lai"}, "https://g/", None),
    ]
    oldest = NOW - timedelta(hours=5, minutes=3)
    summaries = [
        PeerSummary("kh-ratanakiri-police", 4, oldest, 2, NOW + HOUR, "timeout", None, NOW)
    ]
    first, second = peer_statuses(peers, summaries, NOW)
    assert (first.id, first.reachability, first.pending) == (
        "kh-ratanakiri-police",
        Reachability.UNREACHABLE,
        4,
    )
    assert first.oldest_pending_age == Span(((H, 5), (M, 3)))
    assert first.retry_at == NOW + HOUR
    assert first.keys_days_left == 0
    assert (second.id, second.reachability, second.pending) == (
        "vn-gialai-police",
        Reachability.UNKNOWN,
        0,
    )
    assert second.oldest_pending_age is None
    assert second.keys_days_left is None


def test_stuck_messages_newest_first() -> None:
    def row(state: str, queued: datetime, finished: datetime | None) -> OutboxRow:
        return OutboxRow(
            message_id=uuid.uuid4(),
            recipient="kh-ratanakiri-police",
            case_id=uuid.uuid4(),
            kind="victim_handover",
            handling="victim_protected",
            sender_reference="BG-1",
            state=state,
            attempts=3,
            last_error="refused: policy",
            queued_at=queued,
            expires_at=NOW + HOUR,
            finished_at=finished,
            receipt_received_at=None,
        )

    older = row("dead", NOW - 3 * HOUR, NOW - 2 * HOUR)
    newer = row("rejected", NOW - 4 * HOUR, NOW - HOUR)
    unfinished = row("dead", NOW - 5 * HOUR, None)
    listed = stuck_messages([older, unfinished, newer])
    assert [item.message_id for item in listed] == [
        newer.message_id,
        older.message_id,
        unfinished.message_id,
    ]
