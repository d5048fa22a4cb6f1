"""The report's file formats: FORMATS maps a format name to its renderer.

A Renderer turns a (disclosure-protected) Report and a reader's language (vi, km, en) into
the file's bytes. "csv" is gateway.report.csv_format; the XLSX and HTML renderers join this
table from their own modules.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.report.csv_format import render_csv
from gateway.report.model import Report

Renderer = Callable[[Report, str], bytes]

FORMATS: dict[str, Renderer] = {
    "csv": render_csv,
}
