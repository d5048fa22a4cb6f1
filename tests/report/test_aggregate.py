"""build_report over envelopes sealed with real keys: a victim counted once per case (the
latest list wins, a cancellation never counts), the side of a case is the side that opened it,
age groups from partial birth dates, hotline alerts by category and urgency, pages bounded."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from gateway.report import aggregate, tally
from gateway.report.aggregate import StoreSource, build_report, period_bounds
from gateway.report.content import age_group, age_on
from gateway.report.disclosure import marker
from gateway.report.model import Report, Table
from gateway.wire import canonical
from tests.crypto.support import make_pair
from tests.report.support import MemoryStore, alert, handover, victim

ZONE = timezone(timedelta(hours=7), "UTC+7")
PAIR = make_pair()
US, PEER = "vn-gialai-police", "kh-ratanakiri-police"
F, M = canonical.SEX_FEMALE, canonical.SEX_MALE
NOV = datetime(2026, 11, 2, 9, tzinfo=ZONE)
DEC = datetime(2026, 12, 3, 9, tzinfo=ZONE)


def table(report: Report, key: str) -> Table:
    [found] = [t for t in report.tables if t.key == key]
    return found


def row_cells(found: Table, *labels: str) -> list[str]:
    """A row's cells as rendered: the value, or the disclosure marker."""
    for row in found.rows:
        if tuple(label.text for label in row.labels) == labels:
            return [marker(c) or f"{c.value:g}" for c in row.cells]
    raise AssertionError(f"no row {labels}")


@pytest.mark.parametrize(
    ("birth", "on", "group"),
    [
        ((2016, 11, 2), date(2026, 11, 2), "0-11"),  # tenth birthday today
        ((2014, 11, 3), date(2026, 11, 2), "0-11"),  # twelve tomorrow
        ((2014, 11, 2), date(2026, 11, 2), "12-15"),
        ((2009, 0, 0), date(2026, 11, 2), "16-17"),  # year only: the youngest it allows
        ((2008, 11, 0), date(2026, 11, 30), "18-24"),  # month known, last day assumed
        ((2008, 11, 0), date(2026, 11, 29), "16-17"),
        ((1986, 1, 1), date(2026, 11, 2), "40+"),
        ((0, 0, 0), date(2026, 11, 2), "unknown"),
        ((2030, 1, 1), date(2026, 11, 2), "unknown"),  # born after the message
    ],
)
def test_age_groups(birth: tuple[int, int, int], on: date, group: str) -> None:
    year, month, day = birth
    assert age_group(age_on(canonical.Date(year=year, month=month, day=day), on)) == group


def test_period_bounds_are_local_months() -> None:
    bounds = period_bounds(date(2026, 1, 15), date(2026, 3, 31), ZONE)
    assert [b.isoformat() for b in bounds] == [
        "2026-01-15T00:00:00+07:00",
        "2026-02-01T00:00:00+07:00",
        "2026-03-01T00:00:00+07:00",
        "2026-04-01T00:00:00+07:00",
    ]


async def test_victims_and_alerts_counted_once_per_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregate, "PAGE", 3)  # several pages: the latest still wins
    monkeypatch.setattr(tally, "PAGE", 3)
    store = MemoryStore()
    ours, theirs = uuid.uuid4(), uuid.uuid4()
    girls = [victim(F, (2016, 1, 1), minor=True), victim(F, (2009, 5, 5), minor=True)]
    store.add(
        PAIR.police, PEER, handover(canonical.ACTION_PROPOSE, girls[:1], ours), NOV, direction="out"
    )
    # The peer accepts, naming them; the completion lists both: the latest list counts.
    store.add(
        PAIR.ratanakiri,
        US,
        handover(canonical.ACTION_ACCEPT, girls[:1], ours),
        NOV + timedelta(hours=1),
        direction="in",
    )
    store.add(
        PAIR.police, PEER, handover(canonical.ACTION_COMPLETE, girls, ours), DEC, direction="out"
    )
    men = [victim(M, (1996, 3, 3), minor=False) for _ in range(3)]
    store.add(
        PAIR.ratanakiri, US, handover(canonical.ACTION_PROPOSE, men, theirs), NOV, direction="in"
    )
    store.add(
        PAIR.ratanakiri, US, handover(canonical.ACTION_CANCEL, [], theirs), DEC, direction="in"
    )
    for _ in range(3):
        case = uuid.uuid4()
        store.add(
            PAIR.police,
            PEER,
            alert(canonical.CATEGORY_MISSING, canonical.URGENCY_CRITICAL, case),
            NOV,
            direction="out",
        )
    case = uuid.uuid4()
    store.add(
        PAIR.ratanakiri,
        US,
        alert(canonical.CATEGORY_RESCUE, canonical.URGENCY_HIGH, case),
        NOV,
        direction="in",
    )
    store.add(
        PAIR.ratanakiri,
        US,
        alert(canonical.CATEGORY_RESCUE, canonical.URGENCY_CRITICAL, case, canonical.ACTION_UPDATE),
        DEC,
        direction="in",
    )
    seen: list[str] = []
    report = await build_report(
        StoreSource(store, PAIR.police),
        node=US,
        period_from=date(2026, 11, 1),
        period_to=date(2026, 12, 31),
        tz=ZONE,
        progress=seen.append,
    )
    # 10 rows tallied, 3 a page per table, then an empty page: 5 sent (2 + 1), 5 received.
    assert store.pages == 6
    assert len(store.facts) == 10
    assert seen
    assert all("Nguy" not in line for line in seen)
    victims = table(report, "victims_by_sex_age")
    # Columns: 0-11 12-15 16-17 18-24 25-39 40+ unknown | total | minors
    assert row_cells(victims, "Handed over", "Female") == [
        "<3",
        "0",
        "<3",
        "0",
        "0",
        "0",
        "0",
        "x",
        "x",
    ]
    assert row_cells(victims, "Received", "Male") == ["0", "0", "0", "0", "3", "0", "0", "3", "0"]
    assert row_cells(victims, "Received", "Female") == ["0"] * 9
    hotline = table(report, "hotline_by_category_urgency")
    # Columns: critical high normal not recorded | total
    assert row_cells(hotline, "Sent", "Missing person") == ["3", "0", "0", "0", "3"]
    # The update moved the alert from high to critical: one alert, counted once.
    assert row_cells(hotline, "Received", "Rescue") == ["<3", "0", "0", "0", "x"]
    assert row_cells(table(report, "content_not_readable"), "Victim handover") == ["0"]


async def test_an_envelope_that_does_not_open_is_counted_as_unreadable() -> None:
    store = MemoryStore()
    store.add(
        PAIR.police,
        PEER,
        handover(canonical.ACTION_PROPOSE, [victim(F, (2000, 1, 1), minor=False)], uuid.uuid4()),
        NOV,
        direction="out",
    )
    stranger = make_pair()  # another node's keys: nothing opens
    report = await build_report(
        StoreSource(store, stranger.police),
        node=US,
        period_from=date(2026, 11, 1),
        period_to=date(2026, 11, 30),
        tz=ZONE,
    )
    assert row_cells(table(report, "content_not_readable"), "Victim handover") == ["<3"]
    assert row_cells(table(report, "victims_by_sex_age"), "Handed over", "Female")[7] == "0"
