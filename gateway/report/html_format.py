"""The report as one standalone HTML file: inline CSS and inline SVG charts, nothing fetched.

Design notes:
- The file is read offline, mailed, printed: so no external reference at all (its own CSP
  meta says default-src 'none'), the language in <html lang>, the reader's dates and digits.
- `table_html` is also what the console page shows (gateway/console/reports.py), so the page
  and the file cannot disagree on which cells read "<3". It uses classes only (the
  console's CSP allows no inline style); every text is escaped.
- A suppressed cell is written from ReportText.value, which never looks at its value.
- Khmer text: a reader's machine may have no Khmer font (the console serves its own), so
  when the file holds Khmer text it carries Noto Sans Khmer (OFL, name table kept) cut down
  to the glyphs used, as a data: URL: tens of KB, and still nothing fetched.
"""

from __future__ import annotations

import base64
import re
from html import escape

from gateway.console.assets import font_subset, khmer_font
from gateway.console.i18n import N_, format_local_datetime, format_partial_date
from gateway.report.aggregate import RELATIONS
from gateway.report.charts import chart_svg
from gateway.report.csv_format import GENERATED, NODE, PERIOD, TITLE
from gateway.report.model import Report, Table
from gateway.report.text import COMPLEMENT_NOTE, SUPPRESSED_NOTE, ReportText

# The title and cover words are the CSV's (one msgid, one translation, in every format).
MSG_TITLE = TITLE
MSG_NODE = NODE
MSG_PERIOD = PERIOD
MSG_GENERATED = GENERATED
MSG_EMPTY = N_("Nothing to report in this period.")
MSG_AGGREGATES = N_("Aggregates only: this report holds no name or other personal data.")

_KHMER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
_CSS = """
body { font-family: system-ui, "Segoe UI", Roboto, Arial, "Noto Sans", "Noto Sans Khmer",
  sans-serif; color: #14213d; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
  line-height: 1.5; }
:lang(km) { font-family: "Noto Sans Khmer", "Khmer OS System", "Khmer UI", sans-serif;
  line-height: 1.75; }
h1 { font-size: 1.6rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #c9d1dd; }
dl.report-meta { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dl.report-meta dt { font-weight: 600; }
dl.report-meta dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 0.75rem 0 1rem; }
th, td { border: 1px solid #c9d1dd; padding: 0.3rem 0.5rem; text-align: left; }
thead th { background: #eceff3; }
td.value { text-align: right; font-variant-numeric: tabular-nums; }
td.suppressed { background: #fde6e7; color: #a1121b; font-weight: 600; }
svg.report-chart { max-width: 100%; height: auto; }
.note { color: #3d4a63; font-size: 0.9rem; }
@media print { h2 { break-before: auto; } section { break-inside: avoid; } }
"""


def table_html(table: Table, text: ReportText) -> str:
    """The table as <table>, suppressed cells reading SUPPRESSED_MARK."""
    head = "".join(
        f'<th scope="col">{escape(text.label(label))}</th>'
        for label in (*table.row_headers, *table.columns)
    )
    body: list[str] = []
    for row in table.rows:
        labels = "".join(
            f'<th scope="row">{escape(text.label(label))}</th>' for label in row.labels
        )
        cells = "".join(
            f'<td class="value suppressed" data-suppressed="true">{escape(text.value(cell))}</td>'
            if cell.suppressed
            else f'<td class="value">{escape(text.value(cell))}</td>'
            for cell in row.cells
        )
        body.append(f"<tr>{labels}{cells}</tr>")
    return (
        f'<table class="report-table" data-table="{escape(table.key, quote=True)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def chart_of(table: Table, text: ReportText) -> str:
    """The table's SVG chart, leaving out the columns that total others."""
    totals = frozenset(relation.total for relation in RELATIONS.get(table.key, ()))
    return chart_svg(table, text, totals=totals)


def notes(text: ReportText) -> str:
    """What the markers of hidden cells mean."""
    return f"{text._(SUPPRESSED_NOTE)} {text._(COMPLEMENT_NOTE)}"


def period_text(report: Report, text: ReportText) -> str:
    start = format_partial_date(report.period_from, text.language)
    end = format_partial_date(report.period_to, text.language)
    return f"{start} \u2013 {end}"  # an en dash between the dates


def render_html(report: Report, language: str) -> bytes:
    """The standalone HTML report in `language` (vi, km or en), UTF-8."""
    text = ReportText.of(language)
    title = text._(MSG_TITLE)
    sections: list[str] = []
    for table in report.tables:
        chart = chart_of(table, text)
        figure = f'<figure class="chart">{chart}</figure>' if chart else ""
        rows = (
            table_html(table, text)
            if table.rows
            else f'<p class="note">{escape(text._(MSG_EMPTY))}</p>'
        )
        sections.append(
            f'<section data-table="{escape(table.key, quote=True)}">'
            f"<h2>{escape(text.label(table.title))}</h2>{figure}{rows}</section>"
        )
    meta = (
        f"<dt>{escape(text._(MSG_NODE))}</dt><dd>{escape(report.node)}</dd>"
        f"<dt>{escape(text._(MSG_PERIOD))}</dt><dd>{escape(period_text(report, text))}</dd>"
        f"<dt>{escape(text._(MSG_GENERATED))}</dt>"
        f"<dd>{escape(format_local_datetime(report.generated_at, text.language))}</dd>"
    )
    body = (
        f"<h1>{escape(title)}</h1>\n"
        f'<dl class="report-meta">{meta}</dl>\n'
        f'<p class="note">{escape(text._(MSG_AGGREGATES))} {escape(notes(text))}</p>\n'
        + "\n".join(sections)
    )
    head = (
        '<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · {escape(report.node)}</title>\n"
        f"<style>{_khmer_face(title + body)}{_CSS}</style>\n"
    )
    document = (
        f'<!doctype html>\n<html lang="{text.language}">\n<head>\n{head}</head>\n'
        f"<body>\n{body}\n</body>\n</html>\n"
    )
    return document.encode("utf-8")


def _khmer_face(document: str) -> str:
    """An @font-face carrying the Khmer glyphs `document` uses ("" when it uses none)."""
    used = "".join(sorted(set(_KHMER.findall(document))))
    if not used:
        return ""
    font = base64.b64encode(font_subset(khmer_font(), used)).decode("ascii")
    return (
        '@font-face { font-family: "Noto Sans Khmer"; font-weight: 400 700; '
        f'src: url("data:font/ttf;base64,{font}") format("truetype"); '
        "unicode-range: U+1780-17FF, U+19E0-19FF; }\n"
    )


__all__ = ["chart_of", "notes", "period_text", "render_html", "table_html"]
