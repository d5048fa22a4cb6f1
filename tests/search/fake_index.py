"""A PersonIndex in memory for the finder's tests: people given by the test, and name scores
from a table (pairs of entry ids), so the finder is tested apart from the real index."""

from __future__ import annotations

from gateway.search.matching import shared_document
from gateway.search.model import IndexedPerson, ScoredPerson


class FakePersonIndex:
    def __init__(self) -> None:
        self.people: list[IndexedPerson] = []
        self.scores: dict[frozenset[int], float] = {}
        self.similar_calls: list[int] = []

    def add(self, person: IndexedPerson, **scores: float) -> None:
        """Index a person; scores: name score against earlier entries, by e<entry_id>=score."""
        self.people.append(person)
        for key, score in scores.items():
            self.scores[frozenset({person.entry_id, int(key.removeprefix("e"))})] = score

    async def similar(self, person: IndexedPerson, *, limit: int) -> list[ScoredPerson]:
        self.similar_calls.append(person.entry_id)
        found = []
        for other in self.people:
            if other.entry_id == person.entry_id:
                continue
            score = self.scores.get(frozenset({person.entry_id, other.entry_id}), 0.0)
            if score > 0 or shared_document(person, other):
                why = ("name",) if score > 0 else ("document_number",)
                found.append(ScoredPerson(other, score, other.names[0], why))
        found.sort(key=lambda hit: -hit.score)
        return found[:limit]

    async def persons_after(self, entry_id: int, *, limit: int) -> list[IndexedPerson]:
        later = sorted((p for p in self.people if p.entry_id > entry_id), key=lambda p: p.entry_id)
        return later[:limit]
