"""The report's file formats: FORMATS maps a format name to its renderer.

A Renderer turns a (disclosure-protected) Report and a reader's language (vi, km, en) into
the file's bytes. "csv" is gateway.report.csv_format, "xlsx" gateway.report.xlsx_format,
"html" gateway.report.html_format (inline SVG charts). The CLI (`gateway report --format`)
and the console's download buttons look formats up here by name.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.report.csv_format import render_csv
from gateway.report.html_format import render_html
from gateway.report.model import Report
from gateway.report.xlsx_format import render_xlsx

Renderer = Callable[[Report, str], bytes]

FORMATS: dict[str, Renderer] = {
    "csv": render_csv,
    "xlsx": render_xlsx,
    "html": render_html,
}

__all__ = ["FORMATS", "Renderer"]
