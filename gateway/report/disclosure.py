"""Disclosure control: which cells of a report are hidden so that no one can be picked out.

Design notes (pure: no I/O, no clock):
- Primary suppression: a count of 1 or 2 is hidden (shown "<3"); zero is shown, since a
  count of nobody picks out nobody. A duration or percentage computed from fewer than 3
  items (n < 3) is hidden too (shown "<3": from fewer than three).
- Secondary suppression, by the total: a table declares its totals as `TotalOf` relations
  within each row (cells[total] is the sum of cells[members], or, for a subtotal such as
  "minors", stands for a part of them). When a member of a relation is hidden, its total is
  hidden as well, repeated until nothing changes (a hidden total that is itself a member
  hides the total above it). A shown total therefore never has a hidden member, so no
  hidden cell can be had by subtracting shown cells from a shown total. Hiding the total
  rather than "the next smallest cell" is chosen because a second hidden cell still leaks
  when the two are 1 and 1 (the difference is 2: both are 1) or when the second is 0.
- A cell hidden only to protect another (n is 0 or 3 and more) is shown "x", not "<3":
  "<3" would misstate it. Telling them apart reveals nothing about a hidden small cell:
  an "x" total only says the hidden members together are 3 or more, which leaves each of
  two or more hidden members at 1 or 2 (a single hidden member with only zeros beside it
  makes the total itself 1 or 2, so that total is "<3").
- Tables relate no cells across rows: there are no column totals, so relations are per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from gateway.report.model import Cell, Report, Row, Table

SMALL = "<3"  # a count of 1 or 2, or a figure from fewer than 3 items
COMPLEMENT = "x"  # hidden so that a total does not give a small cell away
MIN_SHOWN = 3


@dataclass(frozen=True, slots=True)
class TotalOf:
    """In every row, cells[total] is computed from cells[members]."""

    members: tuple[int, ...]
    total: int


def is_small(cell: Cell) -> bool:
    """Whether the cell itself must be hidden (primary suppression)."""
    if cell.unit == "count":
        return 0 < cell.n < MIN_SHOWN
    return cell.n < MIN_SHOWN


def marker(cell: Cell) -> str | None:
    """What a renderer shows instead of the value of a hidden cell; None when it is shown."""
    if not cell.suppressed:
        return None
    return SMALL if is_small(cell) else COMPLEMENT


def _protect_row(row: Row, relations: Sequence[TotalOf]) -> Row:
    hidden = [is_small(cell) for cell in row.cells]
    changed = True
    while changed:  # at most one pass per relation: each pass hides at least one total
        changed = False
        for relation in relations:
            if not hidden[relation.total] and any(hidden[i] for i in relation.members):
                hidden[relation.total] = True
                changed = True
    cells = tuple(
        replace(cell, suppressed=True) if hide else replace(cell, suppressed=False)
        for cell, hide in zip(row.cells, hidden, strict=True)
    )
    return replace(row, cells=cells)


def protect(table: Table, relations: Sequence[TotalOf] = ()) -> Table:
    """The table with every cell's `suppressed` decided by the rules above."""
    width = len(table.columns)
    for relation in relations:
        for index in (*relation.members, relation.total):
            if not 0 <= index < width:
                raise ValueError(f"{table.key}: relation names column {index} of {width}")
    return replace(table, rows=tuple(_protect_row(row, relations) for row in table.rows))


def protect_report(report: Report, relations: Mapping[str, Sequence[TotalOf]]) -> Report:
    """Every table protected with its relations (none for a table not named)."""
    return replace(
        report,
        tables=tuple(protect(table, relations.get(table.key, ())) for table in report.tables),
    )
