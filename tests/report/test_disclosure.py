"""Disclosure control, by property (hypothesis) and by table: no count of 1 or 2 is shown,
and no shown total, less the shown cells beside it, gives a hidden cell away; an attacker who
tries every value the markers allow finds each hidden small cell could be 1 or 2."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.report.disclosure import TotalOf, marker, protect
from gateway.report.model import Cell, Label, Row, Table, Unit


def _table(rows: list[list[Cell]]) -> Table:
    width = len(rows[0])
    return Table(
        "t",
        Label("T"),
        (Label("r"),),
        tuple(Label(str(i), translate=False) for i in range(width)),
        tuple(Row((Label(str(i), translate=False),), tuple(cells)) for i, cells in enumerate(rows)),
    )


def _counts(values: list[int]) -> list[Cell]:
    return [Cell(float(v), v) for v in values]


@st.composite
def rows_with_totals(draw: st.DrawFn) -> tuple[list[list[int]], list[TotalOf]]:
    """Rows of k members, their total, and a subtotal of the first min(3, k) members."""
    k = draw(st.integers(min_value=1, max_value=6))
    sub = min(3, k)
    rows = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        members = draw(st.lists(st.integers(0, 6), min_size=k, max_size=k))
        rows.append([*members, sum(members), sum(members[:sub])])
    return rows, [TotalOf(tuple(range(k)), k), TotalOf(tuple(range(sub)), k + 1)]


def feasible_values(
    shown: list[str | None], values: list[int], relations: list[TotalOf]
) -> dict[int, set[int]]:
    """Every value each "<3" cell can take, given what is shown: "<3" cells range over 1..2,
    "x" cells over anything (they claim nothing), shown cells are their value, and each
    relation whose total is shown must add up."""
    small = [i for i, text in enumerate(shown) if text == "<3"]
    free = {i for i, text in enumerate(shown) if text == "x"}
    found: dict[int, set[int]] = {i: set() for i in small}
    for guess in itertools.product((1, 2), repeat=len(small)):
        cell = {i: float(v) for i, v in enumerate(values) if shown[i] is None}
        cell.update(dict(zip(small, guess, strict=True)))
        fits = all(
            relation.total in free
            or any(m in free for m in relation.members)
            or cell[relation.total] == sum(cell[m] for m in relation.members)
            for relation in relations
        )
        if fits:
            for i, v in zip(small, guess, strict=True):
                found[i].add(v)
    return found


@settings(max_examples=300, deadline=None)
@given(rows_with_totals())
def test_no_small_count_can_be_recovered(case: tuple[list[list[int]], list[TotalOf]]) -> None:
    rows, relations = case
    protected = protect(_table([_counts(r) for r in rows]), relations)
    for values, row in zip(rows, protected.rows, strict=True):
        shown = [marker(c) for c in row.cells]
        for value, text in zip(values, shown, strict=True):
            assert text is not None or value not in (1, 2)  # no 1 or 2 is shown
        for relation in relations:  # a shown total has only shown members
            if shown[relation.total] is None:
                assert all(shown[m] is None for m in relation.members)
        # The attacker: every hidden small cell stays ambiguous between 1 and 2.
        for index, possible in feasible_values(shown, values, relations).items():
            assert possible == {1, 2}, (values, shown, index)


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ([0, 0, 0, 0], ["0", "0", "0", "0"]),  # zero is shown
        ([5, 3, 8, 8], ["5", "3", "8", "8"]),
        ([1, 4, 5, 1], ["<3", "4", "x", "x"]),  # the total would give the 1 away
        ([1, 1, 2, 2], ["<3", "<3", "x", "x"]),  # "<3" on the 2 would give both 1s away
        ([0, 3, 3, 0], ["0", "3", "3", "0"]),
        ([4, 0, 4, 4], ["4", "0", "4", "4"]),
    ],
)
def test_rows(values: list[int], shown: list[str]) -> None:
    relations = [TotalOf((0, 1), 2), TotalOf((0,), 3)]
    [row] = protect(_table([_counts(values)]), relations).rows
    assert [marker(c) or f"{c.value:g}" for c in row.cells] == shown


@pytest.mark.parametrize(
    ("unit", "n", "hidden"),
    [("seconds", 0, True), ("seconds", 2, True), ("seconds", 3, False), ("percent", 1, True)],
)
def test_figures_from_fewer_than_three_are_hidden(unit: Unit, n: int, hidden: bool) -> None:
    [row] = protect(_table([[Cell(42.0, n, unit)]])).rows
    assert row.cells[0].suppressed is hidden
    assert marker(row.cells[0]) == ("<3" if hidden else None)


def test_a_relation_outside_the_table_is_refused() -> None:
    with pytest.raises(ValueError, match="column 5"):
        protect(_table([_counts([1, 2])]), [TotalOf((0,), 5)])
