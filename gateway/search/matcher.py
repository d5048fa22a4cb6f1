"""Ranking people in memory: an immutable snapshot of the index and the pure functions that
search it. Runs on a worker thread (gateway.search.index hands it the snapshot).

Design notes:
- A Snapshot is never changed once built: the index publishes a new one when entries are
  added or dropped, so a search on a worker thread reads a consistent set while the event
  loop refreshes. Names are kept as distinct folded forms and distinct skeletons with their
  owners: the lists rapidfuzz's process.extract runs over in C++ with a score cutoff. Names
  repeat a great deal (100,000 generated cases hold some 290,000 written names but far
  fewer distinct ones), and scoring each distinct form once took the bench's p50 from
  495 ms (every name scored) to the figures in bench/README.md.
- Hits are taken best first and the walk stops once `limit` distinct people are in and
  the score drops below the last one's: a common name's thousand weaker near-misses are
  never turned into hits.
- Score of a person: the best of their written names (gateway.search.names.score_name,
  computed in bulk). Document number, birth date/year, gate, kind and time range are
  filters; a matching document number alone scores 100.
- One hit per person per case: the same victim named in a proposal, its acceptance and
  each recipient's copy of our outbox is one hit (the most recent message).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from gateway.search.model import IndexedPerson, ScoredPerson, SearchQuery
from gateway.search.names import (
    FOLDED_TOKEN_SET_WEIGHT,
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
    """Persons by entry id, and their names by distinct folded form: names repeat (many
    people are called Nguyễn Thị Lan), so the scorers run over each form once and the hits
    fan out to its owners."""

    persons: dict[int, IndexedPerson] = field(default_factory=dict)
    folded: list[str] = field(default_factory=list)  # distinct folded names
    skeleton_of: list[int] = field(default_factory=list)  # folded index -> skeletons index
    owners: list[tuple[tuple[int, int], ...]] = field(default_factory=list)  # (entry, written)
    words: list[int] = field(default_factory=list)  # distinct words of each folded name
    skeletons: list[str] = field(default_factory=list)  # distinct skeletons
    sounds: list[int] = field(default_factory=list)  # distinct words of each skeleton
    folded_of: list[tuple[int, ...]] = field(default_factory=list)  # skeleton -> folded
    by_document: dict[str, tuple[int, ...]] = field(default_factory=dict)
    places: dict[str, int] = field(default_factory=dict)  # folded name -> index
    sound_places: dict[str, int] = field(default_factory=dict)  # skeleton -> index


def build(persons: Iterable[IndexedPerson]) -> Snapshot:
    return extend(Snapshot(), persons)


def extend(base: Snapshot, added: Iterable[IndexedPerson], dropped: Iterable[int] = ()) -> Snapshot:
    """A new snapshot with persons added and entry ids dropped (base is left as it was;
    lists shared with it are copied before they change)."""
    gone = set(dropped)
    if gone:
        # Rare (retention, a deleted row): rebuilt from the persons that stay.
        kept = [person for key, person in base.persons.items() if key not in gone]
        return extend(Snapshot(), [*kept, *added])
    persons = dict(base.persons)
    folded, skeleton_of, owners = list(base.folded), list(base.skeleton_of), list(base.owners)
    words, skeletons, sounds = list(base.words), list(base.skeletons), list(base.sounds)
    folded_of, documents = list(base.folded_of), dict(base.by_document)
    places, sound_places = dict(base.places), dict(base.sound_places)
    for person in added:
        if person.entry_id in persons:
            continue
        persons[person.entry_id] = person
        for written, name in enumerate(person.folded):
            if not name:
                continue
            place = places.get(name)
            if place is None:
                sound = skeleton(name)
                sound_place = sound_places.get(sound)
                if sound_place is None:
                    sound_place = sound_places[sound] = len(skeletons)
                    skeletons.append(sound)
                    sounds.append(len(set(sound.split())))
                    folded_of.append(())
                place = places[name] = len(folded)
                folded.append(name)
                skeleton_of.append(sound_place)
                owners.append(())
                words.append(len(set(name.split())))
                folded_of[sound_place] = (*folded_of[sound_place], place)
            owners[place] = (*owners[place], (person.entry_id, written))
        for number in person.document_numbers:
            documents[number] = (*documents.get(number, ()), person.entry_id)
    return Snapshot(
        persons, folded, skeleton_of, owners, words, skeletons, sounds, folded_of, documents,
        places, sound_places,
    )  # fmt: skip


def _form_scores(snapshot: Snapshot, query: NameForms, cutoff: float) -> dict[int, float]:
    """Per distinct folded name (its index): the best score >= cutoff of the four passes
    (gateway.search.names.score_name, in bulk). A whole-word pass (token set ratio) says
    "all the query's words are in the name"; it must not also say so of a name with fewer
    distinct words than the query (its words all in the query), hence the word counts."""
    best: dict[int, float] = {}

    def keep(place: int, value: float) -> None:
        if value > best.get(place, 0.0):
            best[place] = value

    if not query.folded:
        return best
    words = len(set(query.folded.split()))
    sounds = len(set(query.skeleton.split()))
    for _, score, place in process.extract(
        query.folded, snapshot.folded, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
    ):
        keep(place, score)
    for _, score, place in process.extract(
        query.folded,
        snapshot.folded,
        scorer=fuzz.token_set_ratio,
        score_cutoff=cutoff / FOLDED_TOKEN_SET_WEIGHT,
        limit=None,
    ):
        if snapshot.words[place] >= words:
            keep(place, score * FOLDED_TOKEN_SET_WEIGHT)
    for scorer, weight, whole in (
        (fuzz.ratio, SKELETON_WEIGHT, False),
        (fuzz.token_set_ratio, TOKEN_SET_WEIGHT, True),
    ):
        for _, score, sound in process.extract(
            query.skeleton, snapshot.skeletons, scorer=scorer, score_cutoff=cutoff / weight,
            limit=None,
        ):  # fmt: skip
            if whole and snapshot.sounds[sound] < sounds:
                continue
            for place in snapshot.folded_of[sound]:
                keep(place, score * weight)
    return best


def _ranked_owners(
    snapshot: Snapshot, scores: dict[int, float]
) -> Iterator[tuple[float, int, int]]:
    """(score, entry id, written name) best first; each person once, at their best name."""
    seen: set[int] = set()
    for place in sorted(scores, key=scores.__getitem__, reverse=True):
        for entry_id, written in snapshot.owners[place]:
            if entry_id not in seen:
                seen.add(entry_id)
                yield scores[place], entry_id, written


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


def _identity(person: IndexedPerson) -> tuple[object, ...]:
    """The same person in the same case (another message of it, another recipient's copy)."""
    return (person.case_id, frozenset(person.folded), person.document_numbers)


def _distinct(hits: list[ScoredPerson]) -> list[ScoredPerson]:
    """One hit per person per case, best then most recent first."""
    hits.sort(
        key=lambda hit: (-hit.score, -hit.person.occurred_at.timestamp(), hit.person.entry_id)
    )
    seen: set[tuple[object, ...]] = set()
    kept: list[ScoredPerson] = []
    for hit in hits:
        identity = _identity(hit.person)
        if identity not in seen:
            seen.add(identity)
            kept.append(hit)
    return kept


def _matched(person: IndexedPerson, written: int, typed: str) -> str:
    """The written form to show as matched: the one typed, when the query is one of them
    (several forms of a name fold alike: សុខ ដារ៉ា and SOK Dara), else the best scoring."""
    for name in person.names:
        if name.casefold() == typed:
            return name
    return person.names[written] if written < len(person.names) else ""


def search(snapshot: Snapshot, query: SearchQuery) -> list[ScoredPerson]:
    """Ranked hits for a validated query (gateway.search.api bounds it first)."""
    reasons_base: list[str] = []
    number = document_number(query.document_number) if query.document_number else ""
    if number:
        reasons_base.append("document_number")
    if query.birth_year is not None or query.birth_date:
        reasons_base.append("birth_date" if query.birth_date else "birth_year")
    hits: list[ScoredPerson] = []
    typed = unicodedata.normalize("NFC", " ".join(query.text.split())).casefold()
    if query.text:
        ranked: Iterable[tuple[float, int, int]] = _ranked_owners(
            snapshot, _form_scores(snapshot, forms(query.text), MIN_NAME_SCORE)
        )
        reasons = ("name", *reasons_base)
    else:
        candidates = snapshot.by_document.get(number, ()) if number else snapshot.persons
        ranked = ((100.0, entry_id, 0) for entry_id in candidates)
        reasons = tuple(reasons_base) or ("filter",)
    # Best first: once `limit` people are in, only those tied with the last can still
    # enter (ties go to the most recent message, in _distinct).
    distinct: set[tuple[object, ...]] = set()
    floor = -1.0
    for score, entry_id, written in ranked:
        if score < floor:
            break
        person = snapshot.persons[entry_id]
        if number and number not in person.document_numbers:
            continue
        if not _passes_filters(person, query):
            continue
        hits.append(
            ScoredPerson(person, round(score, 1), _matched(person, written, typed), reasons)
        )
        distinct.add(_identity(person))
        if len(distinct) >= query.limit and floor < 0:
            floor = score
    return _distinct(hits)[: query.limit]


def similar(snapshot: Snapshot, person: IndexedPerson, limit: int) -> list[ScoredPerson]:
    """Other people most like person: same document number, or a close name (any of theirs
    against any of its) with a compatible birth year (+-1) and sex."""
    found: dict[int, tuple[float, int, tuple[str, ...]]] = {}
    for number in person.document_numbers:
        for owner in snapshot.by_document.get(number, ()):
            found[owner] = (100.0, 0, ("document_number",))
    for name in person.folded:
        scores = _form_scores(snapshot, forms(name), MIN_SIMILAR_SCORE)
        for score, owner, written in _ranked_owners(snapshot, scores):
            if owner in found and found[owner][0] >= score:
                continue
            found[owner] = (score, written, ("name",))
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
