"""The SVG charts (gateway/report/charts.py): well-formed, self-contained, escaped, in the
reader's language, and blind to suppressed values."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from gateway.report.charts import MARK_WIDTH, chart_svg
from gateway.report.model import Label, Row, Table
from gateway.report.text import SUPPRESSED_MARK, ReportText
from tests.report.fixtures import TOTALS, count, sample_report

SVG = "{http://www.w3.org/2000/svg}"
CHARTED = [table for table in sample_report().tables if table.chart != "none"]
LANGUAGES = ("vi", "km", "en")


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


@pytest.mark.parametrize("table", CHARTED, ids=lambda table: table.key)
@pytest.mark.parametrize("hidden", [1.0, 2.0])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_suppressed_value_changes_nothing_in_the_chart(
    table: Table, hidden: float, language: str
) -> None:
    text = ReportText.of(language)
    by_key = {other.key: other for other in sample_report(hidden).tables}
    reference = {other.key: other for other in sample_report(999.0).tables}
    totals = TOTALS.get(table.key, frozenset())
    assert chart_svg(by_key[table.key], text, totals=totals) == chart_svg(
        reference[table.key], text, totals=totals
    )


@pytest.mark.parametrize("table", CHARTED, ids=lambda table: table.key)
def test_suppressed_cells_are_fixed_size_hatched_markers(table: Table) -> None:
    totals = TOTALS.get(table.key, frozenset())
    root = _tree(chart_svg(table, ReportText.of("en"), totals=totals))
    markers = root.findall(f".//{SVG}g[@data-suppressed='true']")
    suppressed = sum(
        cell.suppressed
        for row in table.rows
        for index, cell in enumerate(row.cells)
        if index not in totals and cell.unit == row.cells[0].unit
    )
    assert len(markers) == suppressed > 0
    for marker in markers:
        rect = marker.find(f"{SVG}rect")
        assert rect is not None
        assert rect.get("width") == str(MARK_WIDTH)
        assert rect.get("fill", "").startswith("url(#")
        label = marker.find(f"{SVG}text")
        assert label is not None
        assert label.text == SUPPRESSED_MARK


@pytest.mark.parametrize("table", CHARTED, ids=lambda table: table.key)
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_chart_is_self_contained(table: Table, language: str) -> None:
    svg = chart_svg(table, ReportText.of(language))
    root = _tree(svg)
    for element in root.iter():
        assert element.tag.removeprefix(SVG) not in {
            "script",
            "style",
            "foreignObject",
            "a",
            "image",
        }
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on")
            assert name not in {"style", "href", "{http://www.w3.org/1999/xlink}href"}
            assert "url(" not in value or value.startswith("url(#")
    assert root.get("lang") == language
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_labels_are_escaped_and_khmer_gets_the_khmer_font() -> None:
    (messages, *_rest) = sample_report().tables
    svg = chart_svg(messages, ReportText.of("km"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert _tree(svg).get("font-family", "").startswith("Noto Sans Khmer")
    assert "Noto Sans Khmer" in (
        _tree(chart_svg(messages, ReportText.of("en"))).get("font-family") or ""
    )


def test_bars_are_proportional_to_shown_values() -> None:
    (messages, *_rest) = sample_report().tables
    root = _tree(chart_svg(messages, ReportText.of("en")))
    widths = [
        float(rect.get("width", "0"))
        for rect in root.iter(f"{SVG}rect")
        if rect.get("class") == "bar"
    ]
    shown = [cell.value for row in messages.rows for cell in row.cells if not cell.suppressed]
    assert len(widths) == len(shown)
    largest = max(shown)
    for width, value in zip(widths, shown, strict=True):
        assert width == pytest.approx(widths[shown.index(largest)] * value / largest, abs=0.2)


ZERO_ROW = Row((Label("nobody", translate=False),), (count(0), count(0)))


@pytest.mark.parametrize(
    "change",
    [
        {"chart": "none"},
        {"rows": ()},
        {"rows": (ZERO_ROW, ZERO_ROW)},
    ],
    ids=["no-chart", "no-rows", "only-zeros"],
)
def test_no_chart_for_a_table_without_one(change: dict[str, object]) -> None:
    (messages, *_rest) = sample_report().tables
    assert chart_svg(dataclasses.replace(messages, **change), ReportText.of("en")) == ""  # type: ignore[arg-type]


def test_khmer_digits_on_a_khmer_chart() -> None:
    (messages, *_rest) = sample_report().tables
    svg = chart_svg(messages, ReportText.of("km"))
    assert "១,២៣៤" in svg or "១.២៣៤" in svg


def test_a_total_column_is_not_stacked_on_its_members() -> None:
    victims = next(table for table in sample_report().tables if table.chart == "stacked_bar")
    text = ReportText.of("en")
    with_total = _tree(chart_svg(victims, text))
    without = _tree(chart_svg(victims, text, totals=TOTALS[victims.key]))
    assert "Total" in ET.tostring(with_total, encoding="unicode")
    assert "Total" not in ET.tostring(without, encoding="unicode")
    # The male row's shown segments (5, 7, 3) are no longer followed by their total (15).
    assert len([r for r in without.iter(f"{SVG}rect") if r.get("class") == "bar"]) == 5
    # The hidden total's "x" is gone with its column; the female row keeps its "<3".
    labels = [t.text for t in without.iter(f"{SVG}text")]
    assert "x" not in labels
    assert SUPPRESSED_MARK in labels


def test_a_row_of_shown_zeros_is_left_out_of_the_chart_not_a_row_with_a_hidden_cell() -> None:
    (messages, *_rest) = sample_report().tables
    text = ReportText.of("en")
    with_zero = dataclasses.replace(messages, rows=(*messages.rows, ZERO_ROW))
    assert chart_svg(with_zero, text) == chart_svg(messages, text)
    labels = [t.text or "" for t in _tree(chart_svg(messages, text)).iter(f"{SVG}text")]
    assert any("Hotline alert" in label for label in labels)  # its Sent is hidden, Received 9
