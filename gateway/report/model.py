"""The report as data: the contract between the aggregation (gateway.report.aggregate), which
fills it from the store, and the renderers (CSV, XLSX, HTML with SVG charts, console page).

Design notes:
- A Report holds aggregates only. Each Cell carries the number of messages or people behind
  it (`n`); a renderer never shows a cell whose n is 1 or 2 (gateway.report.disclosure
  decides, including the second cell suppressed in a row so that a shown total cannot give a
  suppressed cell away). Zero is shown: a count of nobody picks out nobody.
- Titles, row and column labels are message ids (gettext msgids, English) or literal values
  (peer ids, months as YYYY-MM); `Label.translate` says which, so every renderer translates
  the same way into vi, km or en.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

Unit = Literal["count", "seconds", "percent"]


@dataclass(frozen=True, slots=True)
class Label:
    text: str
    translate: bool = True  # False for literal values: peer ids, months, gate codes


@dataclass(frozen=True, slots=True)
class Cell:
    value: float  # a count, or a duration in seconds, or a percentage
    n: int  # how many messages or people the value is computed from
    unit: Unit = "count"
    suppressed: bool = False  # set by gateway.report.disclosure, never by hand
    # Hidden to protect another cell (a total whose member is hidden), whatever its own value:
    # shown "x", not "<3" (disclosure.marker). Set by gateway.report.disclosure only.
    complement: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    labels: tuple[Label, ...]  # one per row-header column
    cells: tuple[Cell, ...]  # one per value column


@dataclass(frozen=True, slots=True)
class Table:
    key: str  # stable id: messages_by_peer_kind_month, victims_by_sex_age, ...
    title: Label
    row_headers: tuple[Label, ...]
    columns: tuple[Label, ...]
    rows: tuple[Row, ...]
    chart: Literal["bar", "stacked_bar", "none"] = "bar"


@dataclass(frozen=True, slots=True)
class Report:
    node: str
    period_from: date  # inclusive, local calendar days of the node's time zone
    period_to: date  # inclusive
    generated_at: datetime
    tables: tuple[Table, ...]
