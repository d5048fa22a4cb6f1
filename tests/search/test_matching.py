"""The possible-match rules, table-driven: each row two people, an index score and the
reasons expected (() where they must not match, the near misses among them)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gateway.search import matcher
from gateway.search.matching import NAME_THRESHOLD, match_reasons
from gateway.search.model import IndexedPerson, ScoredPerson
from gateway.search.names import fold

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
    # Found by document number only: its 100 says nothing of the names.
    (
        "a document hit's score is no name score",
        other(document_numbers=("N1234567",)),
        100.0,
        ("document_number",),
    ),
    ("empty document numbers are no match", other(document_numbers=("",)), 40.0, ()),
    ("the same entry", replace(GIRL), 100.0, ()),
]


@pytest.mark.parametrize(
    ("name", "candidate", "score", "expected"),
    [pytest.param(name, c, s, e, id=name) for name, c, s, e in CASES],
)
def test_match_reasons(
    name: str, candidate: IndexedPerson, score: float, expected: tuple[str, ...]
) -> None:
    person = replace(GIRL, document_numbers=("N1234567", ""))
    by = ("document_number",) if name == "a document hit's score is no name score" else ("name",)
    scored = ScoredPerson(candidate, score, candidate.names[0], by)
    assert match_reasons(person, scored) == expected


def _person(entry_id: int, *names: str, sex: str = "F", born: int | None = 2011) -> IndexedPerson:
    return replace(
        GIRL,
        entry_id=entry_id,
        case_id=uuid.UUID(int=entry_id),
        names=names,
        folded=tuple(fold(name) for name in names),
        sex=sex,  # type: ignore[arg-type]
        birth_year=born,
        document_numbers=(),
    )


# The rules over the real index's similar() (gateway.search.matcher, pure): across scripts.
REAL = [
    ("Khmer and Latin vs Vietnamese", ("ង្វៀន ធី ឡាន", "NGUYEN Thi Lan"), "F", 2011, True),
    ("Latin only, family name last", ("Thi Lan NGUYEN",), "F", 2012, True),
    ("same name, born 5 years apart", ("Nguyen Thi Lan",), "F", 2016, False),
    ("same name, a boy", ("Nguyen Thi Lan",), "M", 2011, False),
    ("another given name", ("Nguyen Thi Hoa",), "F", 2011, False),
    ("another given name, Vietnamese", ("Nguyễn Thị Hoa",), "F", 2012, False),
    ("another family name", ("Tran Thi Lan",), "F", 2012, False),
    ("middle name dropped", ("Nguyen Lan",), "F", 2012, True),
    ("one letter slip", ("Nguyen Thi Lam",), "F", 2012, True),
]


@pytest.mark.parametrize(
    ("names", "sex", "born", "matches"),
    [pytest.param(n, s, b, m, id=label) for label, n, s, b, m in REAL],
)
def test_rules_over_the_real_index(
    names: tuple[str, ...], sex: str, born: int, matches: bool
) -> None:
    girl = _person(1, "Nguyễn Thị Lan", "Nguyen Thi Lan", born=2012)
    other_person = _person(2, *names, sex=sex, born=born)
    snapshot = matcher.build([girl, other_person])
    hits = matcher.similar(snapshot, other_person, 10)
    found = [match_reasons(other_person, hit) for hit in hits if hit.person.entry_id == 1]
    assert bool(found and found[0]) is matches
