"""Plans compared by shape: the instants bound to a statement differ from run to run."""

from __future__ import annotations

import pytest

from bench.exchange.history import same_plan

SCAN = "Index Scan using outbox_pending_age on outbox\n  Filter: (expires_at <= {})"
AT_NOON = "'2026-11-30 12:00:00+00'::timestamp with time zone"
AT_ONE = "'2026-11-30 13:00:00.5+00'::timestamp with time zone"


@pytest.mark.parametrize(
    ("one", "other", "expected"),
    [
        (SCAN.format(AT_NOON), SCAN.format(AT_ONE), True),
        (SCAN.format(AT_NOON), SCAN.format(AT_NOON).replace("Index Scan", "Seq Scan"), False),
        ("Seq Scan on outbox", "Seq Scan on outbox", True),
        ("Seq Scan on outbox", "", False),
    ],
)
def test_same_plan(one: str, other: str, expected: bool) -> None:
    assert same_plan(one, other) is expected
