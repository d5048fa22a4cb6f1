"""What the search index knows of one person named in one message: the contract between the
index (gateway.search.index), possible matches (gateway.search.matching) and their users.

Design notes:
- Plaintext forms of a person exist only in the gateway's memory. At rest an IndexedPerson
  is sealed (gateway.crypto) in the search_entries table; only ids, case, kind, peer,
  direction and times are stored in the clear, as the inbox and outbox already store them.
- One entry per person per message: a wanted notice's subject, each victim of a handover
  and each accompanying child, each person a hotline alert names. Escort officers and
  hotline callers are never indexed (callers' identities never leave Vietnam, and an index
  that held them would be one more place to leak them).
- `folded` forms are what matching compares: lower case Latin, no diacritics, Khmer
  romanised, tokens sorted so that family-name-first and family-name-last compare equal
  (gateway.search.names makes them; no I/O there).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Direction = Literal["in", "out"]
PersonRole = Literal["wanted", "victim", "child", "hotline_victim", "hotline_suspect"]
Sex = Literal["F", "M", ""]


@dataclass(frozen=True, slots=True)
class IndexedPerson:
    """One person named in one message, as the index holds it in memory."""

    entry_id: int
    case_id: uuid.UUID
    direction: Direction
    message_row: int  # inbox.id for "in", outbox.id for "out"
    kind: str  # wanted_person_notice | victim_handover | hotline_alert (gateway.wire Kind value)
    peer: str  # the sender for "in", the recipient for "out"
    occurred_at: datetime  # received or created, UTC
    role: PersonRole
    names: tuple[str, ...]  # as written, every script: name, name_latin, aliases (NFC)
    folded: tuple[str, ...]  # normalised forms, one per name (gateway.search.names.fold)
    sex: Sex
    birth_year: int | None
    birth_date: str  # "YYYY", "YYYY-MM" or "YYYY-MM-DD"; "" when unknown
    document_numbers: tuple[str, ...]  # normalised: ASCII digits and upper-case letters only
    border_gate: str  # "" when the message names none
    # The message's handling marking (normal | restricted | victim_protected): who may see
    # this person's names is decided from it, as for the message itself.
    handling: str = "victim_protected"


@dataclass(frozen=True, slots=True)
class ScoredPerson:
    """A search hit: the person, a score in [0, 100], and which form matched best."""

    person: IndexedPerson
    score: float
    matched_name: str  # the written form (of person.names) that matched best
    reasons: tuple[str, ...]  # reason codes: document_number, name, birth_year, sex, ...


class PersonIndex(Protocol):
    """The narrow interface possible matches uses: people similar to one person."""

    async def similar(self, person: IndexedPerson, *, limit: int) -> list[ScoredPerson]:
        """Other people in the index (never `person`'s own entry) most like `person`,
        best first: same document number, or a close name in any script."""
        ...

    async def persons_after(self, entry_id: int, *, limit: int) -> list[IndexedPerson]:
        """Indexed people with entry_id greater than the given one, in entry_id order: how
        a worker with its own durable cursor (possible matches) sees each new person once."""
        ...


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What an officer asks for; every field optional, at least one set (checked by the API
    and the console, each naming the field). Dates are UTC days, inclusive."""

    text: str = ""  # a name in any script or transliteration, any order
    document_number: str = ""
    birth_year: int | None = None
    birth_date: str = ""  # "YYYY-MM-DD"
    border_gate: str = ""
    kind: str = ""  # a gateway.wire Kind value, "" for any
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50


class PersonSearch(Protocol):
    """The narrow interface the console's search page and the local API use."""

    async def search(self, query: SearchQuery) -> list[ScoredPerson]:
        """Ranked hits, best first, at most query.limit."""
        ...
