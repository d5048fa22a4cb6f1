"""The possible-match rules, table-driven: each row two people, an index score and the
reasons expected (() where they must not match, the near misses among them)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.search.matching import NAME_THRESHOLD, match_reasons
from gateway.search.model import IndexedPerson, ScoredPerson

GIRL = IndexedPerson(
    entry_id=1,
    case_id=uuid.UUID(int=1),
    direction="out",
    message_row=1,
    kind="hotline_alert",
    peer="kh-stungtreng-police",
    occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
    role="hotline_victim",
    names=("Rơ Mah Hnhiang",),
    folded=("hnhiang mah ro",),
    sex="F",
    birth_year=2011,
    birth_date="2011",
    document_numbers=(),
    border_gate="",
)


def other(**changes: object) -> IndexedPerson:
    base = replace(GIRL, entry_id=2, case_id=uuid.UUID(int=2), direction="in")
    return replace(base, **changes)  # type: ignore[arg-type]


CASES = [
    ("same name, year, sex", other(), 95.0, ("name", "birth_year", "sex")),
    ("birth year one off", other(birth_year=2012), 90.0, ("name", "birth_year", "sex")),
    ("birth year unknown there", other(birth_year=None), 90.0, ("name", "sex")),
    ("sex unknown there", other(sex=""), 90.0, ("name", "birth_year")),
    ("score at the threshold", other(), NAME_THRESHOLD, ("name", "birth_year", "sex")),
    (
        "document number and name",
        other(document_numbers=("N1234567",)),
        95.0,
        ("document_number", "name", "birth_year", "sex"),
    ),
    # A shared document number is enough on its own, whatever the rest says.
    (
        "document number only",
        other(document_numbers=("N1234567",), birth_year=1990, sex="M"),
        10.0,
        ("document_number",),
    ),
    # Near misses: no match.
    ("same name, birth years 5 apart", other(birth_year=2016), 99.0, ()),
    ("same name, birth years 2 apart", other(birth_year=2013), 99.0, ()),
    ("same name, different sex", other(sex="M"), 99.0, ()),
    ("name below the threshold", other(), NAME_THRESHOLD - 0.5, ()),
    ("different document numbers", other(document_numbers=("B7654321",)), 40.0, ()),
    ("empty document numbers are no match", other(document_numbers=("",)), 40.0, ()),
    ("the same entry", replace(GIRL), 100.0, ()),
]


@pytest.mark.parametrize(
    ("candidate", "score", "expected"),
    [pytest.param(c, s, e, id=name) for name, c, s, e in CASES],
)
def test_match_reasons(candidate: IndexedPerson, score: float, expected: tuple[str, ...]) -> None:
    person = replace(GIRL, document_numbers=("N1234567", ""))
    scored = ScoredPerson(candidate, score, candidate.names[0], ())
    assert match_reasons(person, scored) == expected
