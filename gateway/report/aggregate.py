"""The report's numbers: `build_report` fills gateway.report.model from the store and the
sealed envelopes, then applies disclosure control.

Design notes:
- What the database holds in the clear (kinds, peers, times, deadlines) is aggregated in
  SQL (gateway.store.report_stats). What only the sealed content says (victims' sex, age,
  minor status; hotline category and urgency) is read from the coded facts recorded, sealed,
  for each message before retention deleted its content (gateway.report.tally, content.py);
  messages not tallied yet are tallied first. Both run on a worker thread, PAGE at a time.
- A victim is counted once per handover case: the proposal, the counter-proposal, the
  acceptance and the completion of one case all name the same victims. The case's latest
  message in the period that lists victims counts (a completion or a corrected proposal
  supersedes earlier lists); a cancellation never does. Its side is the side that wrote the
  case's first handover message: the proposer hands the victims over, so a case this node
  opened counts as "handed over", a case a peer opened as "received". A hotline alert is
  counted once per case the same way (latest non-cancelling message; sent if this node
  issued the case's first alert).
- "Sent" messages are outbox rows: one per recipient, so a message sent to two peers counts
  once for each. Times are queued (sent) and received instants, in local months of `tz`.
- Periods are local calendar days, `period_to` inclusive: [period_from 00:00, period_to+1
  00:00) in `tz`.
- The returned Report is already protected (gateway.report.disclosure): renderers show
  `disclosure.marker(cell)` for a hidden cell.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, Protocol

from gateway.console.i18n import N_
from gateway.crypto import Keyring
from gateway.report.content import AGE_GROUPS, UNKNOWN_AGE, ContentFacts, open_facts
from gateway.report.disclosure import TotalOf, protect_report
from gateway.report.model import Cell, Label, Report, Row, Table, Unit
from gateway.report.tally import CONTENT_KINDS, ReportFactsTally, TallyStore
from gateway.store.report_stats import (
    AcknowledgementFigures,
    CancellationCount,
    CaseOrigin,
    DeliveryFigures,
    FactsRow,
    MessageCount,
)
from gateway.wire import Kind

PAGE = 200  # sealed messages opened per batch: bounds memory and each thread hop
MESSAGE_KINDS = tuple(kind.value for kind in Kind)

KIND_LABELS = {
    "wanted_person_notice": N_("Wanted person notice"),
    "victim_handover": N_("Victim handover"),
    "hotline_alert": N_("Hotline alert"),
}
SEXES = (("female", N_("Female")), ("male", N_("Male")), ("unknown", N_("Unknown")))
NOT_RECORDED = N_("Not recorded")
CATEGORIES = (
    ("suspected_trafficking", N_("Suspected trafficking")),
    ("missing", N_("Missing person")),
    ("rescue", N_("Rescue")),
    ("information", N_("Information")),
)
URGENCIES = (("critical", N_("Critical")), ("high", N_("High")), ("normal", N_("Normal urgency")))


class ReportStore(TallyStore, Protocol):
    """The store's part the report reads (gateway.store.report_stats); what it tallies
    before counting is TallyStore's."""

    async def report_message_counts(
        self, month_starts: Sequence[datetime], kinds: Sequence[str], start: datetime, end: datetime
    ) -> list[MessageCount]: ...

    async def report_acknowledgements(
        self, start: datetime, end: datetime, now: datetime
    ) -> list[AcknowledgementFigures]: ...

    async def report_delivery_latency(
        self, start: datetime, end: datetime, kinds: Sequence[str]
    ) -> list[DeliveryFigures]: ...

    async def report_cancellations(
        self, start: datetime, end: datetime
    ) -> list[CancellationCount]: ...

    async def report_facts_page(
        self,
        direction: Literal["in", "out"],
        start: datetime,
        end: datetime,
        kinds: Sequence[str],
        *,
        after_id: int,
        limit: int,
    ) -> list[FactsRow]: ...

    async def report_case_origins(
        self, case_ids: Sequence[uuid.UUID], kinds: Sequence[str]
    ) -> dict[uuid.UUID, CaseOrigin]: ...


class ReportSource(Protocol):
    """What build_report reads: the store's figures, and the keyring to open content."""

    @property
    def store(self) -> ReportStore: ...

    @property
    def keyring(self) -> Keyring: ...


@dataclass(frozen=True)
class StoreSource:
    """A ReportSource over a Store and the node's keyring."""

    store: ReportStore
    keyring: Keyring


Progress = Callable[[str], None]


def period_bounds(period_from: date, period_to: date, tz: tzinfo) -> list[datetime]:
    """The instants the period's local months start at, and its end: [start, m2, ..., end]."""
    if period_to < period_from:
        raise ValueError("period_to is before period_from")
    starts = [datetime.combine(period_from, time(0), tzinfo=tz)]
    month = date(period_from.year, period_from.month, 1)
    while True:
        month = (month + timedelta(days=32)).replace(day=1)
        if month > period_to:
            break
        starts.append(datetime.combine(month, time(0), tzinfo=tz))
    starts.append(datetime.combine(period_to + timedelta(days=1), time(0), tzinfo=tz))
    return starts


def _count(value: int) -> Cell:
    return Cell(float(value), value)


def _figure(value: float | None, n: int, unit: Unit = "seconds") -> Cell:
    return Cell(0.0 if value is None else float(value), n, unit)


def _t(text: str) -> Label:
    return Label(text)


def _lit(text: str) -> Label:
    return Label(text, translate=False)


def _kind(kind: str) -> Label:
    text = KIND_LABELS.get(kind)
    return _t(text) if text is not None else _lit(kind)


def _messages_table(counts: list[MessageCount], months: list[str]) -> Table:
    cells: dict[tuple[str, str, int], dict[str, int]] = {}
    for item in counts:
        if 1 <= item.month <= len(months):
            key = (item.peer, item.kind, item.month)
            cells.setdefault(key, {})[item.direction] = item.count
    rows = tuple(
        Row(
            (_lit(peer), _kind(kind), _lit(months[month - 1])),
            (_count(found.get("sent", 0)), _count(found.get("received", 0))),
        )
        for (peer, kind, month), found in sorted(cells.items())
    )
    return Table(
        "messages_by_peer_kind_month",
        _t(N_("Messages sent and received by peer, kind and month")),
        (_t(N_("Peer")), _t(N_("Kind")), _t(N_("Month"))),
        (_t(N_("Sent")), _t(N_("Received"))),
        rows,
        "stacked_bar",
    )


def _victims_table(counted: dict[tuple[bool, str, str, bool], int]) -> Table:
    """counted: (handed over, sex, age group, minor) -> victims."""
    groups = [label for label, _ in AGE_GROUPS] + [UNKNOWN_AGE]
    rows: list[Row] = []
    for handed_over, side in ((True, N_("Handed over")), (False, N_("Received"))):
        for sex, sex_label in (*SEXES, ("not_recorded", NOT_RECORDED)):
            by_group = [
                sum(
                    n
                    for (h, s, g, _), n in counted.items()
                    if (h, s, g) == (handed_over, sex, group)
                )
                for group in groups
            ]
            minors = sum(
                n for (h, s, _, m), n in counted.items() if (h, s, m) == (handed_over, sex, True)
            )
            rows.append(
                Row(
                    (_t(side), _t(sex_label)),
                    (*(_count(n) for n in by_group), _count(sum(by_group)), _count(minors)),
                )
            )
    columns = (
        *(_lit(label) for label, _ in AGE_GROUPS),
        _t(N_("Age unknown")),
        _t(N_("Total")),
        _t(N_("Of whom minors")),
    )
    return Table(
        "victims_by_sex_age",
        _t(N_("Victims handed over and received by sex and age group")),
        (_t(N_("Direction")), _t(N_("Sex"))),
        columns,
        tuple(rows),
        "stacked_bar",
    )


def _hotline_table(counted: dict[tuple[bool, str, str], int]) -> Table:
    """counted: (sent, category, urgency) -> alerts."""
    urgencies = (*URGENCIES, ("not_recorded", NOT_RECORDED))
    rows: list[Row] = []
    for sent, side in ((True, N_("Sent")), (False, N_("Received"))):
        for category, category_label in (*CATEGORIES, ("not_recorded", NOT_RECORDED)):
            by_urgency = [counted.get((sent, category, urgency), 0) for urgency, _ in urgencies]
            rows.append(
                Row(
                    (_t(side), _t(category_label)),
                    (*(_count(n) for n in by_urgency), _count(sum(by_urgency))),
                )
            )
    return Table(
        "hotline_by_category_urgency",
        _t(N_("Hotline alerts by category and urgency")),
        (_t(N_("Direction")), _t(N_("Category"))),
        (*(_t(label) for _, label in urgencies), _t(N_("Total"))),
        tuple(rows),
        "stacked_bar",
    )


def _acknowledgement_table(figures: list[AcknowledgementFigures]) -> Table:
    rows = []
    for item in sorted(figures, key=lambda f: (f.peer, f.kind)):
        answered = item.on_time + item.late
        total = answered + item.missing + item.awaiting
        rows.append(
            Row(
                (_lit(item.peer), _kind(item.kind)),
                (
                    _count(item.on_time),
                    _count(item.late),
                    _count(item.missing),
                    _count(item.awaiting),
                    _count(total),
                    _figure(item.median_seconds, answered),
                    _figure(item.p90_seconds, answered),
                ),
            )
        )
    return Table(
        "acknowledgement_times",
        _t(N_("Acknowledgements against their deadlines")),
        (_t(N_("Peer")), _t(N_("Kind"))),
        (
            _t(N_("On time")),
            _t(N_("Late")),
            _t(N_("Missing")),
            _t(N_("Not due yet")),
            _t(N_("Total")),
            _t(N_("Median time to acknowledge")),
            _t(N_("90th percentile time to acknowledge")),
        ),
        tuple(rows),
        "stacked_bar",
    )


def _delivery_table(figures: list[DeliveryFigures]) -> Table:
    rows = tuple(
        Row(
            (_lit(item.peer),),
            (
                _count(item.delivered),
                _count(item.undelivered),
                _figure(item.median_seconds, item.delivered),
                _figure(item.p90_seconds, item.delivered),
            ),
        )
        for item in sorted(figures, key=lambda f: f.peer)
    )
    return Table(
        "delivery_latency",
        _t(N_("Delivery time from queued to delivered")),
        (_t(N_("Peer")),),
        (
            _t(N_("Delivered")),
            _t(N_("Not delivered")),
            _t(N_("Median delivery time")),
            _t(N_("90th percentile delivery time")),
        ),
        rows,
        "bar",
    )


def _cancellations_table(counts: list[CancellationCount]) -> Table:
    cells: dict[tuple[str, str], dict[str, int]] = {}
    for item in counts:
        cells.setdefault((item.peer, item.kind), {})[item.direction] = item.count
    rows = tuple(
        Row(
            (_lit(peer), _kind(kind)),
            (_count(found.get("sent", 0)), _count(found.get("received", 0))),
        )
        for (peer, kind), found in sorted(cells.items())
    )
    return Table(
        "cancellations",
        _t(N_("Cancellations by peer and kind")),
        (_t(N_("Peer")), _t(N_("Kind"))),
        (_t(N_("Sent")), _t(N_("Received"))),
        rows,
        "bar",
    )


def _unreadable_table(unreadable: dict[str, int]) -> Table:
    rows = tuple(Row((_kind(kind),), (_count(unreadable.get(kind, 0)),)) for kind in CONTENT_KINDS)
    return Table(
        "content_not_readable",
        _t(N_("Messages whose content could not be counted")),
        (_t(N_("Kind")),),
        (_t(N_("Messages (content deleted by retention or unreadable)")),),
        rows,
        "none",
    )


# Secondary suppression: which cells of a row are totals of which (see disclosure).
_AGES = len(AGE_GROUPS) + 1
RELATIONS: dict[str, tuple[TotalOf, ...]] = {
    "victims_by_sex_age": (
        TotalOf(tuple(range(_AGES)), _AGES),
        # Minors are (nearly always) the first three age groups: guarded like a total.
        TotalOf((0, 1, 2), _AGES + 1),
    ),
    "hotline_by_category_urgency": (TotalOf((0, 1, 2, 3), 4),),
    "acknowledgement_times": (TotalOf((0, 1, 2, 3), 4),),
}


Position = tuple[datetime, str, int]  # (at, direction, id): later is greater


@dataclass
class _CaseTally:
    """The latest counted facts of each case, per kind, with the position they were at."""

    victims: dict[uuid.UUID, tuple[Position, ContentFacts]]
    alerts: dict[uuid.UUID, tuple[Position, ContentFacts]]
    unreadable: dict[str, int]

    def count(self, row: FactsRow, fact: ContentFacts | None) -> None:
        if fact is None:
            self.unreadable[row.kind] = self.unreadable.get(row.kind, 0) + 1
            return
        if fact.cancel:
            return
        if fact.kind == Kind.VICTIM_HANDOVER and fact.victims:
            held = self.victims
        elif fact.kind == Kind.HOTLINE_ALERT:
            held = self.alerts
        else:
            return
        position = (row.at, row.direction, row.id)
        earlier = held.get(row.case_id)
        if earlier is None or earlier[0] < position:  # the case's latest message wins
            held[row.case_id] = (position, fact)


async def _tally_content(
    source: ReportSource, start: datetime, end: datetime, tz: tzinfo, progress: Progress | None
) -> _CaseTally:
    # Facts not recorded yet (messages since the last retention sweep) first, then the
    # period's recorded facts, a page at a time per table (pages come in id order, so the
    # latest message of a case is found by comparing positions, not by the order of pages).
    await ReportFactsTally(source.store, source.keyring, tz).tally(start, end, progress)
    tally = _CaseTally({}, {}, {})
    loop = asyncio.get_running_loop()
    directions: tuple[Literal["in", "out"], ...] = ("out", "in")
    for direction in directions:
        after = 0
        while True:
            rows = await source.store.report_facts_page(
                direction, start, end, CONTENT_KINDS, after_id=after, limit=PAGE
            )
            if not rows:
                break
            facts = await loop.run_in_executor(None, open_facts, source.keyring, rows)
            for row, fact in zip(rows, facts, strict=True):
                tally.count(row, fact)
            after = rows[-1].id
    return tally


async def _origins(source: ReportSource, cases: Sequence[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """Whether this node opened each case (wrote its first message of the content kinds)."""
    ours: dict[uuid.UUID, bool] = {}
    for index in range(0, len(cases), PAGE * 5):
        found = await source.store.report_case_origins(
            cases[index : index + PAGE * 5], CONTENT_KINDS
        )
        ours.update({case: origin.ours for case, origin in found.items()})
    return ours


async def build_report(
    source: ReportSource,
    *,
    node: str,
    period_from: date,
    period_to: date,
    tz: tzinfo,
    progress: Progress | None = None,
) -> Report:
    """The report of [period_from, period_to] (local days of tz), disclosure-protected."""
    bounds = period_bounds(period_from, period_to, tz)
    start, end, month_starts = bounds[0], bounds[-1], bounds[:-1]
    months = [f"{moment.year:04d}-{moment.month:02d}" for moment in month_starts]
    now = datetime.now(UTC)
    store = source.store
    counts = await store.report_message_counts(month_starts, MESSAGE_KINDS, start, end)
    acknowledgements = await store.report_acknowledgements(start, end, now)
    delivery = await store.report_delivery_latency(start, end, MESSAGE_KINDS)
    cancellations = await store.report_cancellations(start, end)
    if progress is not None:
        progress("counted messages, acknowledgements, deliveries and cancellations")
    tally = await _tally_content(source, start, end, tz, progress)
    ours = await _origins(source, [*tally.victims, *tally.alerts])
    victims: dict[tuple[bool, str, str, bool], int] = {}
    for case, (_, fact) in tally.victims.items():
        for victim in fact.victims:
            key = (ours.get(case, False), victim.sex, victim.age_group, victim.minor)
            victims[key] = victims.get(key, 0) + 1
    alerts: dict[tuple[bool, str, str], int] = {}
    for case, (_, fact) in tally.alerts.items():
        alert_key = (ours.get(case, False), fact.category, fact.urgency)
        alerts[alert_key] = alerts.get(alert_key, 0) + 1
    report = Report(
        node=node,
        period_from=period_from,
        period_to=period_to,
        generated_at=now,
        tables=(
            _messages_table(counts, months),
            _victims_table(victims),
            _hotline_table(alerts),
            _acknowledgement_table(acknowledgements),
            _delivery_table(delivery),
            _cancellations_table(cancellations),
            _unreadable_table(tally.unreadable),
        ),
    )
    return protect_report(report, RELATIONS)
