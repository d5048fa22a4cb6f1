"""The HTML and XLSX renderers on hand-made reports: every suppressed cell reads "<3" and
nothing else in the file depends on its value; numbers stay numbers in XLSX; the HTML file
is standalone and in the reader's language."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from gateway.report.disclosure import COMPLEMENT, SMALL, marker
from gateway.report.formats import FORMATS
from gateway.report.html_format import render_html
from gateway.report.model import Report
from gateway.report.text import SUPPRESSED_MARK, ReportText
from gateway.report.xlsx_format import render_xlsx, sheet_name
from tests.report.fixtures import NODE, sample_report
from tests.report.xlsx_reader import read_xlsx, xml_parts

LANGUAGES = ("vi", "km", "en")


def _markers(report: Report) -> list[str]:
    """The marker of every hidden cell, in reading order: "<3", or "x" for a hidden total."""
    return [
        marker(cell) or "?"
        for table in report.tables
        for row in table.rows
        for cell in row.cells
        if cell.suppressed
    ]


class _Page(HTMLParser):
    """What the tests look at in an HTML report."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.suppressed: list[str] = []
        self.references: list[tuple[str, str]] = []
        self.scripts = 0
        self._in_suppressed = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.lang = found.get("lang") or ""
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            if name in {"src", "href", "xlink:href", "action"} or name.startswith("on"):
                self.references.append((name, value or ""))
        if tag == "td" and found.get("data-suppressed") == "true":
            self._in_suppressed = True
            self.suppressed.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_suppressed = False

    def handle_data(self, data: str) -> None:
        if self._in_suppressed:
            self.suppressed[-1] += data


@pytest.mark.parametrize("name", ["html", "xlsx"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_suppressed_value_changes_nothing_in_the_file(name: str, language: str) -> None:
    render = FORMATS[name]
    one, two = (render(sample_report(hidden), language) for hidden in (1.0, 2.0))
    if name == "xlsx":
        assert xml_parts(one) == xml_parts(two)
    else:
        assert one == two


@pytest.mark.parametrize("language", LANGUAGES)
def test_html_shows_suppressed_cells_as_the_mark_and_fetches_nothing(language: str) -> None:
    report = sample_report()
    page = _Page()
    page.feed(render_html(report, language).decode("utf-8"))
    assert page.lang == language
    assert page.suppressed == _markers(report)
    assert set(page.suppressed) == {SMALL, COMPLEMENT}
    assert page.references == []
    assert page.scripts == 0


def test_html_escapes_labels_and_carries_khmer_glyphs_only_when_needed() -> None:
    english = render_html(sample_report(), "en").decode("utf-8")
    assert "<script>alert(1)</script>" not in english
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in english
    assert "@font-face" not in english  # the sample has no Khmer text in English
    khmer = render_html(sample_report(), "km").decode("utf-8")
    assert "@font-face" in khmer
    assert "data:font/ttf;base64," in khmer
    assert "font-src data:" in khmer


@pytest.mark.parametrize("language", LANGUAGES)
def test_xlsx_has_a_cover_and_one_sheet_per_table(language: str) -> None:
    report = sample_report()
    text = ReportText.of(language)
    cover, *sheets = read_xlsx(render_xlsx(report, language))
    assert [sheet.name for sheet in sheets] == [
        text.label(table.title)[:31] for table in report.tables
    ]
    cover_text = [cell.value for cell in cover.cells.values()]
    assert NODE in cover_text
    assert any(SUPPRESSED_MARK in str(value) for value in cover_text)
    for sheet, table in zip(sheets, report.tables, strict=True):
        assert sheet.has_column_widths
        assert sheet.frozen
        assert len(sheet.row(0)) == len(table.row_headers) + len(table.columns)
        assert sheet.height == 1 + len(table.rows)
        assert all(cell.kind != "f" for cell in sheet.cells.values())
        assert all(cell.kind == "s" for (row, _c), cell in sheet.cells.items() if row == 0)


def test_xlsx_numbers_are_numbers_and_suppressed_cells_are_text() -> None:
    report = sample_report()
    _cover, *sheets = read_xlsx(render_xlsx(report, "en"))
    for sheet, table in zip(sheets, report.tables, strict=True):
        for line, row in enumerate(table.rows, start=1):
            for offset, cell in enumerate(row.cells):
                found = sheet.cells[(line, len(row.labels) + offset)]
                if cell.suppressed:
                    assert (found.value, found.kind) == (marker(cell), "s")
                    continue
                expected = {"seconds": cell.value / 3600, "percent": cell.value / 100}.get(
                    cell.unit, cell.value
                )
                assert found.kind == "n"
                assert found.value == pytest.approx(expected)
    acknowledgements = sheets[2]
    assert acknowledgements.row(0)[1] == "Median time (hours)"


def test_sheet_names_follow_excels_rules() -> None:
    taken: set[str] = set()
    names = [sheet_name(name, taken) for name in ("A/B: c?", "a b c", "x" * 40, "x" * 40, "")]
    assert names == ["A B c", "a b c (2)", "x" * 31, "x" * 27 + " (2)", "Table"]
