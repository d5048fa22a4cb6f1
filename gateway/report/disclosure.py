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
- A total hidden to protect its members is shown "x" ("hidden"), never "<3", even when it
  is itself 1 or 2: a total of 2 shown "<3" beside two members shown "<3" gives both away
  (each is at least 1, so both are 1). "x" claims nothing about the value, so an "x" total
  puts no bound on its members; "<3" is shown only on a cell hidden for its own sake.
  Cell.complement tells them apart (added to the model for this).
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
    return COMPLEMENT if cell.complement else SMALL


def _protect_row(row: Row, relations: Sequence[TotalOf]) -> Row:
    hidden = [is_small(cell) for cell in row.cells]
    complement = [False] * len(row.cells)
    changed = True
    while changed:  # each pass marks at least one more total, so it ends
        changed = False
        for relation in relations:
            if not complement[relation.total] and any(hidden[i] for i in relation.members):
                hidden[relation.total] = complement[relation.total] = True
                changed = True
    cells = tuple(
        replace(cell, suppressed=hide, complement=other)
        for cell, hide, other in zip(row.cells, hidden, complement, strict=True)
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
