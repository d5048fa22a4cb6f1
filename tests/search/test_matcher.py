"""The in-memory matcher, table-driven over a small snapshot: filters, ranking, one hit per
person per case, `similar` (possible matches), and snapshots that drop entries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.search import matcher
from gateway.search.model import IndexedPerson, PersonRole, SearchQuery
from gateway.search.names import fold

T = datetime(2026, 11, 1, tzinfo=UTC)


def _person(
    entry_id: int,
    case: int,
    names: tuple[str, ...],
    *,
    kind: str = "victim_handover",
    birth: str = "2004",
    sex: str = "F",
    documents: tuple[str, ...] = (),
    gate: str = "",
    days: int = 0,
    role: PersonRole = "victim",
) -> IndexedPerson:
    return IndexedPerson(
        entry_id=entry_id,
        case_id=uuid.UUID(int=case),
        direction="in",
        message_row=entry_id,
        kind=kind,
        peer="kh-ratanakiri-police",
        occurred_at=T + timedelta(days=days),
        role=role,
        names=names,
        folded=tuple(fold(name) for name in names),
        sex="F" if sex == "F" else "M",
        birth_year=int(birth[:4]) if birth else None,
        birth_date=birth,
        document_numbers=documents,
        border_gate=gate,
    )


PEOPLE = [
    _person(1, 1, ("ង្វៀន ធី ឡាន", "NGUYEN Thi Lan"), birth="2001", gate="KH-OYADAV", days=1),
    # The same person in a later message of the same case: one hit.
    _person(2, 1, ("ង្វៀន ធី ឡាន", "NGUYEN Thi Lan"), birth="2001", gate="KH-OYADAV", days=3),
    _person(3, 2, ("Nguyễn Thị Lan", "Nguyen Thi Lan"), birth="1990-05", days=2,
            kind="wanted_person_notice", documents=("064090001234",)),
    _person(4, 3, ("Siu H'Yến", "Siu H'Yen"), birth="2004-01-02", gate="VN-LETHANH", days=5,
            documents=("064304009876",)),
    _person(5, 4, ("Trần Văn Hùng", "Tran Van Hung"), birth="1985", sex="M", days=4,
            kind="hotline_alert", role="hotline_suspect"),
    _person(6, 5, ("SOK Dara", "សុខ ដារ៉ា"), birth="1990", sex="M", days=6,
            kind="wanted_person_notice", documents=("010456789",)),
]  # fmt: skip
SNAPSHOT = matcher.build(PEOPLE)


@pytest.mark.parametrize(
    ("query", "cases"),
    [
        (SearchQuery(text="Nguyen Thi Lan"), [1, 2]),  # equal scores: the most recent first
        (SearchQuery(text="Lan Nguyễn Thị", kind="victim_handover"), [1]),
        (SearchQuery(text="nguyen thi lan", border_gate="kh-oyadav"), [1]),
        (SearchQuery(text="Nguyen Thi Lan", birth_year=1990), [2]),
        (SearchQuery(text="Nguyen Thi Lan", birth_date="1990-05-17"), [2]),
        (SearchQuery(text="Nguyen Thi Lan", birth_date="2001-02-03"), [1]),
        (SearchQuery(text="Nguyen Thi Lan", since=T + timedelta(days=2, hours=12)), [1]),
        (SearchQuery(text="Nguyen Thi Lan", until=T + timedelta(days=1, hours=12)), [1]),
        (SearchQuery(text="Nguyen Thi Lan", limit=1), [1]),
        (SearchQuery(document_number="064304009876"), [3]),
        (SearchQuery(document_number="064304009876", text="Siu Hyen"), [3]),
        (SearchQuery(document_number="064304009876", text="Tran Van Hung"), []),
        (SearchQuery(document_number="999"), []),
        (SearchQuery(kind="hotline_alert"), [4]),
        (SearchQuery(border_gate="VN-LETHANH"), [3]),
        (SearchQuery(text="Dara", birth_year=1990), [5]),
        (SearchQuery(text="ដារ៉ា សុខ"), [5]),
        (SearchQuery(text="Yến"), [3]),
        (SearchQuery(text="Hung Tran"), [4]),
        (SearchQuery(text="Pham Duc Binh"), []),
    ],
)
def test_search(query: SearchQuery, cases: list[int]) -> None:
    hits = matcher.search(SNAPSHOT, query)
    assert [hit.person.case_id.int for hit in hits] == cases, [
        (hit.person.names, hit.score) for hit in hits
    ]


def test_hit_says_which_form_matched_and_why() -> None:
    (hit,) = matcher.search(SNAPSHOT, SearchQuery(text="សុខ ដារ៉ា", birth_year=1990))
    assert hit.matched_name == "សុខ ដារ៉ា"
    assert hit.reasons == ("name", "birth_year")
    assert hit.score == 100.0
    (by_document,) = matcher.search(SNAPSHOT, SearchQuery(document_number="0104-56789"))
    assert by_document.reasons == ("document_number",)


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        # Same document: whatever the name.
        (_person(10, 9, ("Someone Else",), documents=("064304009876",)), ("document_number",)),
        # Close name, birth year within one, same sex.
        (_person(11, 9, ("Siu Hyen",), birth="2005"), ("name", "birth_year", "sex")),
        # Close name, birth year two apart: not the same person.
        (_person(12, 9, ("Siu Hyen",), birth="2007"), None),
        # Close name, other sex.
        (_person(13, 9, ("Siu Hyen",), sex="M"), None),
        # Close name, no birth year known: the name decides.
        (_person(14, 9, ("Siu H'Yen",), birth=""), ("name", "sex")),
    ],
)
def test_similar(other: IndexedPerson, expected: tuple[str, ...] | None) -> None:
    snapshot = matcher.extend(SNAPSHOT, [other])
    hits = matcher.similar(snapshot, PEOPLE[3], limit=5)
    assert PEOPLE[3].entry_id not in {hit.person.entry_id for hit in hits}
    found = {hit.person.entry_id: hit.reasons for hit in hits}
    assert found.get(other.entry_id) == expected


def test_extend_leaves_the_base_and_drops_entries() -> None:
    added = _person(20, 20, ("Nguyễn Thị Lan",), birth="2001", days=9)
    bigger = matcher.extend(SNAPSHOT, [added])
    assert [
        h.person.case_id.int for h in matcher.search(SNAPSHOT, SearchQuery(text="Nguyen Thi Lan"))
    ] == [1, 2]
    assert matcher.search(bigger, SearchQuery(text="Nguyen Thi Lan"))[0].person.entry_id == 20
    smaller = matcher.extend(bigger, [], dropped=[20, 1, 2])
    assert [
        h.person.entry_id for h in matcher.search(smaller, SearchQuery(text="Nguyen Thi Lan"))
    ] == [3]
    assert len(SNAPSHOT.persons) == len(PEOPLE)
