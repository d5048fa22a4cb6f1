"""Hand-made reports for the renderer tests: every unit, every chart kind, suppressed cells in
a grouped bar, a stacked bar and a duration column, literal and translated labels, and text
that must be escaped. `sample_report(hidden=...)` sets the value of every suppressed cell,
so a test can render two reports that differ only there and demand identical output."""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway.report.model import Cell, Label, Report, Row, Table

NODE = "vn-gialai-blo"
PEER = "kh-ratanakiri-police"


# The columns of each sample table that total others (as gateway.report.aggregate.RELATIONS
# says for the real tables).
TOTALS = {"sample_victims_by_sex_age": frozenset({3})}


def count(value: int) -> Cell:
    return Cell(float(value), value)


def hidden_cell(hidden: float, unit: str = "count") -> Cell:
    return Cell(hidden, int(hidden) if unit == "count" else 2, unit, suppressed=True)  # type: ignore[arg-type]


def sample_report(hidden: float = 2.0) -> Report:
    literal = Label
    messages = Table(
        key="sample_messages_by_peer_kind_month",
        title=Label("Messages by peer, kind and month"),
        row_headers=(Label("Peer"), Label("Kind"), Label("Month")),
        columns=(Label("Sent"), Label("Received")),
        rows=(
            Row(
                (literal(PEER, False), Label("Victim handover"), literal("2026-01", False)),
                (count(41), count(17)),
            ),
            Row(
                (literal(PEER, False), Label("Hotline alert"), literal("2026-02", False)),
                (hidden_cell(hidden), count(9)),
            ),
            Row(
                (
                    literal("<script>alert(1)</script>", False),
                    Label("Wanted person notice"),
                    literal("2026-03", False),
                ),
                (count(0), count(1234)),
            ),
        ),
    )
    victims = Table(
        key="sample_victims_by_sex_age",
        title=Label("Victims handed over by sex and age group"),
        row_headers=(Label("Sex"),),
        columns=(Label("Under 14"), Label("14 to 17"), Label("18 and over"), Label("Total")),
        rows=(
            Row(
                (Label("Female"),),
                (
                    count(12),
                    hidden_cell(hidden),
                    count(30),
                    Cell(42 + hidden, 42 + int(hidden), suppressed=True, complement=True),
                ),
            ),
            Row((Label("Male"),), (count(5), count(7), count(3), count(15))),
        ),
        chart="stacked_bar",
    )
    acknowledgements = Table(
        key="sample_acknowledgement_times",
        title=Label("Acknowledgement times"),
        row_headers=(Label("Kind"),),
        columns=(Label("Median time"), Label("Within the deadline")),
        rows=(
            Row(
                (Label("Victim handover"),),
                (Cell(5400.0, 20, "seconds"), Cell(95.0, 20, "percent")),
            ),
            Row(
                (Label("Hotline alert"),),
                (hidden_cell(hidden * 3600, "seconds"), Cell(50.0, 4, "percent")),
            ),
        ),
    )
    cancellations = Table(
        key="sample_cancellations",
        title=Label("Cancellations"),
        row_headers=(Label("Kind"),),
        columns=(Label("Cancelled"),),
        rows=(Row((Label("Victim handover"),), (count(4),)),),
        chart="none",
    )
    return Report(
        node=NODE,
        period_from=date(2026, 1, 1),
        period_to=date(2026, 6, 30),
        generated_at=datetime(2026, 7, 1, 2, 30, tzinfo=UTC),
        tables=(messages, victims, acknowledgements, cancellations),
    )
