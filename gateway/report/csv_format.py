"""The report as CSV, for spreadsheets: UTF-8 with a byte order mark (Excel reads the
Vietnamese and Khmer text right only with it), one section per table, labels in the reader's
language.

Design notes:
- Each section is the table's title on a line of its own, a header line (row headers, then
  columns), one line per row, and a blank line. Above the sections: the node, the period and
  when it was generated; below them, what the markers mean.
- A hidden cell is written as disclosure.marker says ("<3" or "x"), never its value. Counts
  are integers; durations are seconds with one decimal, the column header says so.
- Labels are translated through the console's gettext catalogues (gateway/console/locale,
  reportdata.po for the report's own msgids); literal labels (peer ids, months) are not.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache

from babel.support import Translations

from gateway.console.i18n import N_, as_language, load_translations
from gateway.report.disclosure import COMPLEMENT, SMALL, marker
from gateway.report.model import Cell, Label, Report, Table

TITLE = N_("Exchange report")
NODE = N_("Node")
PERIOD = N_("Period")
GENERATED = N_("Generated at")
SECONDS = N_("seconds")
PERCENT = N_("percent")
LEGEND_SMALL = N_("fewer than 3, hidden so that no one can be picked out")
LEGEND_COMPLEMENT = N_("hidden so that a total cannot reveal a small number")


@lru_cache(maxsize=4)
def translations(language: str) -> Translations:
    """The reader's catalogue (English for a language the console does not have)."""
    return load_translations(as_language(language) or "en")


def label_text(label: Label, catalogue: Translations) -> str:
    return catalogue.gettext(label.text) if label.translate else label.text


def cell_text(cell: Cell) -> str:
    """The cell as written: the marker of a hidden cell, else its value."""
    hidden = marker(cell)
    if hidden is not None:
        return hidden
    if cell.unit == "count":
        return str(round(cell.value))
    return f"{cell.value:.1f}"  # seconds and percentages: one decimal


def _header(table: Table, catalogue: Translations) -> list[str]:
    units = {column: "count" for column in range(len(table.columns))}
    for row in table.rows:
        for column, cell in enumerate(row.cells):
            units[column] = cell.unit
    names = []
    for column, label in enumerate(table.columns):
        text = label_text(label, catalogue)
        if units[column] == "seconds":
            text = f"{text} ({catalogue.gettext(SECONDS)})"
        elif units[column] == "percent":
            text = f"{text} ({catalogue.gettext(PERCENT)})"
        names.append(text)
    return [*(label_text(label, catalogue) for label in table.row_headers), *names]


def render_csv(report: Report, language: str) -> bytes:
    catalogue = translations(language)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([catalogue.gettext(TITLE)])
    writer.writerow([catalogue.gettext(NODE), report.node])
    writer.writerow(
        [catalogue.gettext(PERIOD), report.period_from.isoformat(), report.period_to.isoformat()]
    )
    writer.writerow(
        [catalogue.gettext(GENERATED), report.generated_at.isoformat(timespec="seconds")]
    )
    writer.writerow([])
    for table in report.tables:
        writer.writerow([label_text(table.title, catalogue)])
        writer.writerow(_header(table, catalogue))
        for row in table.rows:
            writer.writerow(
                [
                    *(label_text(label, catalogue) for label in row.labels),
                    *(cell_text(cell) for cell in row.cells),
                ]
            )
        writer.writerow([])
    writer.writerow([SMALL, catalogue.gettext(LEGEND_SMALL)])
    writer.writerow([COMPLEMENT, catalogue.gettext(LEGEND_COMPLEMENT)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
