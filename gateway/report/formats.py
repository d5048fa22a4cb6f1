"""The report's output formats: each a pure function from a Report and a language (vi, km,
en) to the bytes of a file. The CLI (`gateway report --format`) and the console's download
buttons look formats up here by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.report.html_format import render_html
from gateway.report.model import Report
from gateway.report.xlsx_format import render_xlsx

Renderer = Callable[[Report, str], bytes]

FORMATS: Mapping[str, Renderer] = {
    "xlsx": render_xlsx,
    "html": render_html,
}

__all__ = ["FORMATS", "Renderer"]
