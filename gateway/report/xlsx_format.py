"""The report as an XLSX workbook (xlsxwriter), for the offices that work in spreadsheets.

Design notes:
- A cover sheet (title, node, period, generated time, the "<3" note), then one sheet per
  table: a header row (row headers and columns, translated), one row per table row, the
  header frozen, columns as wide as their text.
- Numbers stay numbers so that offices can add them up: counts as whole numbers, durations
  in hours (header says so), percentages as Excel percentages. A suppressed cell is the
  text of its disclosure marker ("<3" or "x"), never a number, and its value is not read.
- Built in memory (xlsxwriter's in_memory: no temporary files), labels written with
  write_string only (a label starting with "=" stays text, never a formula), and the
  workbook's creation time set to the report's generation time, so the same report gives the
  same sheets.
"""

from __future__ import annotations

import io

import xlsxwriter
from xlsxwriter.format import Format

from gateway.console.i18n import N_, format_local_datetime
from gateway.report.html_format import MSG_GENERATED, MSG_NODE, MSG_PERIOD, MSG_TITLE, period_text
from gateway.report.model import Cell, Report, Table
from gateway.report.text import COMPLEMENT_NOTE, SUPPRESSED_NOTE, ReportText, column_unit

MSG_COVER = N_("Report")
MSG_HOURS = N_("%(column)s (hours)")
MAX_WIDTH = 60
_SHEET_NAME_LENGTH = 31
_SHEET_FORBIDDEN = str.maketrans({char: " " for char in "[]:*?/\\"})


def sheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique ignoring case."""
    base = " ".join(name.translate(_SHEET_FORBIDDEN).split()).strip("'") or "Table"
    candidate = base[:_SHEET_NAME_LENGTH]
    number = 2
    while candidate.casefold() in taken:
        suffix = f" ({number})"
        candidate = base[: _SHEET_NAME_LENGTH - len(suffix)] + suffix
        number += 1
    taken.add(candidate.casefold())
    return candidate


def _width(text: str) -> int:
    return min(MAX_WIDTH, max(8, len(text) + 2))


def render_xlsx(report: Report, language: str) -> bytes:
    """The workbook's bytes, labels in `language` (vi, km or en)."""
    text = ReportText.of(language)
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        output,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    workbook.set_properties(
        {"title": text._(MSG_TITLE), "created": report.generated_at.replace(tzinfo=None)}
    )
    bold = workbook.add_format({"bold": True})
    title_format = workbook.add_format({"bold": True, "font_size": 14})
    header = workbook.add_format({"bold": True, "bg_color": "#ECEFF3", "border": 1})
    formats = {
        "count": workbook.add_format({"num_format": "#,##0"}),
        "seconds": workbook.add_format({"num_format": "#,##0.00"}),
        "percent": workbook.add_format({"num_format": "0.0%"}),
    }
    suppressed = workbook.add_format({"align": "right", "font_color": "#A1121B", "bold": True})
    taken: set[str] = set()

    cover = workbook.add_worksheet(sheet_name(text._(MSG_COVER), taken))
    cover.write_string(0, 0, text._(MSG_TITLE), title_format)
    facts = (
        (text._(MSG_NODE), report.node),
        (text._(MSG_PERIOD), period_text(report, text)),
        (text._(MSG_GENERATED), format_local_datetime(report.generated_at, text.language)),
    )
    for offset, (name, value) in enumerate(facts, start=2):
        cover.write_string(offset, 0, name, bold)
        cover.write_string(offset, 1, value)
    cover.write_string(len(facts) + 3, 0, text._(SUPPRESSED_NOTE))
    cover.write_string(len(facts) + 4, 0, text._(COMPLEMENT_NOTE))
    cover.set_column(0, 0, max(_width(name) for name, _value in facts))
    cover.set_column(1, 1, max(_width(value) for _name, value in facts))

    for table in report.tables:
        _table_sheet(
            workbook,
            table,
            text,
            sheet_name(text.label(table.title), taken),
            header=header,
            formats=formats,
            suppressed=suppressed,
        )
    workbook.close()
    return output.getvalue()


def _table_sheet(
    workbook: xlsxwriter.Workbook,
    table: Table,
    text: ReportText,
    name: str,
    *,
    header: Format,
    formats: dict[str, Format],
    suppressed: Format,
) -> None:
    sheet = workbook.add_worksheet(name)
    units = [column_unit(table, index) for index in range(len(table.columns))]
    titles = [text.label(label) for label in table.row_headers] + [
        text._(MSG_HOURS) % {"column": text.label(column)}
        if unit == "seconds"
        else text.label(column)
        for column, unit in zip(table.columns, units, strict=True)
    ]
    widths = [_width(title) for title in titles]
    for column, title in enumerate(titles):
        sheet.write_string(0, column, title, header)
    for line, row in enumerate(table.rows, start=1):
        for column, label in enumerate(row.labels):
            shown = text.label(label)
            sheet.write_string(line, column, shown)
            widths[column] = max(widths[column], _width(shown))
        for offset, cell in enumerate(row.cells):
            column = len(row.labels) + offset
            if cell.suppressed:
                sheet.write_string(line, column, text.value(cell), suppressed)
            else:
                sheet.write_number(line, column, _number(cell), formats[cell.unit])
    for column, width in enumerate(widths):
        sheet.set_column(column, column, width)
    sheet.freeze_panes(1, len(table.row_headers))


def _number(cell: Cell) -> float:
    if cell.unit == "seconds":
        return cell.value / 3600
    if cell.unit == "percent":
        return cell.value / 100
    return cell.value


__all__ = ["render_xlsx", "sheet_name"]
