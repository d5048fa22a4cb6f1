"""Ranking people in memory: an immutable snapshot of the index and the pure functions that
search it. Runs on a worker thread (gateway.search.index hands it the snapshot).

Design notes:
- A Snapshot is never changed once built: the index publishes a new one when entries are
  added or dropped, so a search on a worker thread reads a consistent set while the event
  loop refreshes. Names are flattened into parallel lists (folded form, skeleton, owner), the
  preprocessed arrays rapidfuzz's process.extract runs over in C++ with a score cutoff:
  measured at about 30 ms per scorer over 300,000 names for ratio, 190 ms for token set
  ratio (bench/search.py prints the end-to-end numbers).
- Score of a person: the best of their written names (gateway.search.names.score_name,
  computed in bulk). Document number, birth date/year, gate, kind and time range are
  filters; a matching document number alone scores 100.
- One hit per person per case: the same victim named in a proposal, its acceptance and
  each recipient's copy of our outbox is one hit (the most recent message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from gateway.search.model import IndexedPerson, ScoredPerson, SearchQuery
from gateway.search.names import (
    SKELETON_WEIGHT,
    TOKEN_SET_WEIGHT,
    NameForms,
    document_number,
    forms,
    skeleton,
)

# A name scoring below this is not a hit (tuned on the evaluation table:
# docs/search-evaluation.md).
MIN_NAME_SCORE = 72.0
# `similar` (possible matches) asks for more: a close name and compatible facts.
MIN_SIMILAR_SCORE = 85.0


@dataclass(frozen=True)
class Snapshot:
    persons: dict[int, IndexedPerson] = field(default_factory=dict)
    folded: list[str] = field(default_factory=list)
    skeletons: list[str] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)  # entry id of each name
    written: list[int] = field(default_factory=list)  # which of the owner's names
    by_document: dict[str, tuple[int, ...]] = field(default_factory=dict)


def build(persons: Iterable[IndexedPerson]) -> Snapshot:
    snapshot = Snapshot()
    return extend(snapshot, persons)


def extend(base: Snapshot, added: Iterable[IndexedPerson], dropped: Iterable[int] = ()) -> Snapshot:
    """A new snapshot with persons added and entry ids dropped (base is left as it was)."""
    gone = set(dropped)
    persons = {key: value for key, value in base.persons.items() if key not in gone}
    if gone:
        keep = [i for i, owner in enumerate(base.owners) if owner not in gone]
        folded = [base.folded[i] for i in keep]
        skeletons = [base.skeletons[i] for i in keep]
        owners = [base.owners[i] for i in keep]
        written = [base.written[i] for i in keep]
        documents = {
            number: tuple(owner for owner in owners_of if owner not in gone)
            for number, owners_of in base.by_document.items()
        }
    else:
        folded, skeletons = list(base.folded), list(base.skeletons)
        owners, written = list(base.owners), list(base.written)
        documents = dict(base.by_document)
    for person in added:
        if person.entry_id in persons:
            continue
        persons[person.entry_id] = person
        for place, name in enumerate(person.folded):
            if name:
                folded.append(name)
                skeletons.append(skeleton(name))
                owners.append(person.entry_id)
                written.append(place)
        for number in person.document_numbers:
            documents[number] = (*documents.get(number, ()), person.entry_id)
    return Snapshot(persons, folded, skeletons, owners, written, documents)


def _name_scores(
    snapshot: Snapshot, query: NameForms, cutoff: float
) -> dict[int, tuple[float, int]]:
    """Per entry id: (best name score >= cutoff, index of the written name that scored it)."""
    best: dict[int, tuple[float, int]] = {}
    passes: tuple[tuple[str, Sequence[str], Callable[..., float], float], ...] = (
        (query.folded, snapshot.folded, fuzz.ratio, 1.0),
        (query.skeleton, snapshot.skeletons, fuzz.ratio, SKELETON_WEIGHT),
        (query.skeleton, snapshot.skeletons, fuzz.token_set_ratio, TOKEN_SET_WEIGHT),
    )
    for text, choices, scorer, weight in passes:
        if not text:
            continue
        for _, score, place in process.extract(
            text, choices, scorer=scorer, score_cutoff=cutoff / weight, limit=None
        ):
            value = score * weight
            owner = snapshot.owners[place]
            if value > best.get(owner, (0.0, 0))[0]:
                best[owner] = (value, snapshot.written[place])
    return best


def _passes_filters(person: IndexedPerson, query: SearchQuery) -> bool:
    if query.kind and person.kind != query.kind:
        return False
    if query.border_gate and person.border_gate.upper() != query.border_gate.upper():
        return False
    if query.since is not None and person.occurred_at < query.since:
        return False
    if query.until is not None and person.occurred_at > query.until:
        return False
    if query.birth_year is not None and person.birth_year != query.birth_year:
        return False
    # A birth date asked for matches what is known of one: 2007-03-12 matches 2007 and 2007-03.
    return not query.birth_date or bool(
        person.birth_date and query.birth_date.startswith(person.birth_date)
    )


def _distinct(hits: list[ScoredPerson]) -> list[ScoredPerson]:
    """One hit per person per case, best then most recent first."""
    hits.sort(
        key=lambda hit: (-hit.score, -hit.person.occurred_at.timestamp(), hit.person.entry_id)
    )
    seen: set[tuple[object, ...]] = set()
    kept: list[ScoredPerson] = []
    for hit in hits:
        identity = (hit.person.case_id, frozenset(hit.person.folded), hit.person.document_numbers)
        if identity not in seen:
            seen.add(identity)
            kept.append(hit)
    return kept


def search(snapshot: Snapshot, query: SearchQuery) -> list[ScoredPerson]:
    """Ranked hits for a validated query (gateway.search.api bounds it first)."""
    reasons_base: list[str] = []
    candidates: Iterable[int]
    number = document_number(query.document_number) if query.document_number else ""
    if number:
        candidates = snapshot.by_document.get(number, ())
        reasons_base.append("document_number")
    else:
        candidates = snapshot.persons.keys()
    names: dict[int, tuple[float, int]] | None = None
    if query.text:
        names = _name_scores(snapshot, forms(query.text), MIN_NAME_SCORE)
        candidates = names.keys() if not number else [c for c in candidates if c in names]
    if query.birth_year is not None or query.birth_date:
        reasons_base.append("birth_date" if query.birth_date else "birth_year")
    hits: list[ScoredPerson] = []
    for entry_id in candidates:
        person = snapshot.persons.get(entry_id)
        if person is None or not _passes_filters(person, query):
            continue
        if names is not None:
            score, place = names[entry_id]
            reasons = ("name", *reasons_base)
        else:
            score, place = 100.0, 0
            reasons = tuple(reasons_base) or ("filter",)
        matched = person.names[place] if place < len(person.names) else ""
        hits.append(ScoredPerson(person, round(score, 1), matched, reasons))
    return _distinct(hits)[: query.limit]


def similar(snapshot: Snapshot, person: IndexedPerson, limit: int) -> list[ScoredPerson]:
    """Other people most like person: same document number, or a close name (any of theirs
    against any of its) with a compatible birth year (+-1) and sex."""
    found: dict[int, tuple[float, int, tuple[str, ...]]] = {}
    for number in person.document_numbers:
        for owner in snapshot.by_document.get(number, ()):
            found[owner] = (100.0, 0, ("document_number",))
    for name in person.folded:
        for owner, (score, place) in _name_scores(snapshot, forms(name), MIN_SIMILAR_SCORE).items():
            if owner in found and found[owner][0] >= score:
                continue
            found[owner] = (score, place, ("name",))
    hits: list[ScoredPerson] = []
    for owner, (score, place, why) in found.items():
        reasons = why
        other = snapshot.persons.get(owner)
        if other is None or owner == person.entry_id:
            continue
        if reasons == ("name",):
            if person.birth_year and other.birth_year:
                if abs(person.birth_year - other.birth_year) > 1:
                    continue
                reasons = (*reasons, "birth_year")
            if person.sex and other.sex:
                if person.sex != other.sex:
                    continue
                reasons = (*reasons, "sex")
        matched = other.names[place] if place < len(other.names) else ""
        hits.append(ScoredPerson(other, round(score, 1), matched, reasons))
    return _distinct(hits)[:limit]
