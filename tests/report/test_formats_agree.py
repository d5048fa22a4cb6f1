"""The three files say the same thing: for every cell of every table, CSV, XLSX and HTML show
the same marker for a hidden cell and the same count for a shown one (so no format can
show a cell another hides)."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

import pytest

from gateway.report.formats import FORMATS
from gateway.report.model import Report
from tests.report.fixtures import sample_report
from tests.report.xlsx_reader import read_xlsx

Grid = list[list[str]]


def _csv_cells(report: Report, data: bytes) -> list[Grid]:
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    start = lines.index([]) + 1  # after the node, period and time
    grids: list[Grid] = []
    for table in report.tables:
        rows = lines[start + 2 : start + 2 + len(table.rows)]
        grids.append([row[len(table.row_headers) :] for row in rows])
        start += 3 + len(table.rows)
    return grids


def _xlsx_cells(report: Report, data: bytes) -> list[Grid]:
    _cover, *sheets = read_xlsx(data)
    grids: list[Grid] = []
    for sheet, table in zip(sheets, report.tables, strict=True):
        grid = []
        for line in range(1, 1 + len(table.rows)):
            values = sheet.row(line)[len(table.row_headers) :]
            grid.append([v if isinstance(v, str) else repr(round(v, 6)) for v in values])
        grids.append(grid)
    return grids


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.grids: list[Grid] = []
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.grids.append([])
        elif tag == "tr" and self.grids:
            self.grids[-1].append([])
        elif tag == "td":
            self._cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.grids[-1][-1].append(self._cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data


def _html_cells(data: bytes) -> list[Grid]:
    parser = _Tables()
    parser.feed(data.decode("utf-8"))
    return [[row for row in grid if row] for grid in parser.grids]


def _count(text: str) -> str:
    """A shown count as a plain number (HTML groups thousands), markers as they are."""
    digits = text.replace(",", "")
    return repr(float(digits)) if digits.replace(".", "").isdigit() else text


@pytest.mark.parametrize("hidden", [1.0, 2.0])
def test_csv_xlsx_and_html_hide_the_same_cells_and_show_the_same_counts(hidden: float) -> None:
    report = sample_report(hidden)
    files = {name: FORMATS[name](report, "en") for name in ("csv", "xlsx", "html")}
    grids = {
        "csv": _csv_cells(report, files["csv"]),
        "xlsx": _xlsx_cells(report, files["xlsx"]),
        "html": _html_cells(files["html"]),
    }
    compared = 0
    for index, table in enumerate(report.tables):
        for line, row in enumerate(table.rows):
            for column, cell in enumerate(row.cells):
                if cell.unit != "count" and not cell.suppressed:
                    continue  # durations and percentages: each format's own unit
                seen = {name: _count(grid[index][line][column]) for name, grid in grids.items()}
                assert len(set(seen.values())) == 1, (table.key, line, column, seen)
                compared += 1
    assert compared > 10
