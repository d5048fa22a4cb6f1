"""Whether two indexed people may be the same person: the possible-match rules (no I/O).

Design notes:
- A possible match is a hint for an officer, never a merge: the rules lean towards showing a
  pair an officer dismisses in one click rather than hiding a girl found twice.
- `document_number`: the two share a normalised document number (ASCII digits and upper
  case letters, as the index holds them). That is enough on its own.
- Otherwise all three must hold:
  `name`: the index found the other person by name (its hit's reasons hold `name`: a hit
  found by document number alone scores 100 whatever the names say) and scored it at least
  NAME_THRESHOLD (of 100), across scripts (the index compares folded forms: Khmer
  romanised, Vietnamese without diacritics, tokens sorted);
  `birth_year`: equal or one apart (a year of birth estimated by a hotline caller or written
  from a Buddhist-era date is often one off), or unknown on either side;
  `sex`: equal, or unknown on either side.
  A known difference in birth year (2 or more) or sex rules a name match out, however close
  the name: two girls of one common name are not one girl born five years apart.
- The reasons returned are codes only (they go to the database and the audit log): the
  birth_year / sex codes are added only when both sides know the value and it agrees, so a
  reason list says what was actually compared, not what was merely not contradicted.
"""

from __future__ import annotations

from gateway.search.model import IndexedPerson, ScoredPerson

# Of the index's 0..100 name score (gateway.search.names.score_name). Above the index's own
# floor for similar() (85): at 85 "Nguyễn Thị Hoa" and "Nguyễn Thị Lan", two girls sharing
# the commonest family and middle names, scored 85.7 and would pair. At 90 a transliteration
# (Khmer script against Latin: 94-100), a dropped H' prefix (95), a dropped or added middle
# name (90) and a one-letter slip (93-97) still pair; tests/search/test_matching.py holds the
# table, over the real scorer.
NAME_THRESHOLD = 90.0
BIRTH_YEAR_TOLERANCE = 1

DOCUMENT_NUMBER = "document_number"
NAME = "name"
BIRTH_YEAR = "birth_year"
SEX = "sex"
REASONS = (DOCUMENT_NUMBER, NAME, BIRTH_YEAR, SEX)


def shared_document(a: IndexedPerson, b: IndexedPerson) -> bool:
    """Whether the two share a (non-empty) normalised document number."""
    return bool({n for n in a.document_numbers if n} & {n for n in b.document_numbers if n})


def birth_years_compatible(a: int | None, b: int | None) -> bool:
    return a is None or b is None or abs(a - b) <= BIRTH_YEAR_TOLERANCE


def sexes_compatible(a: str, b: str) -> bool:
    return not a or not b or a == b


def match_reasons(person: IndexedPerson, candidate: ScoredPerson) -> tuple[str, ...]:
    """The reason codes why `person` and `candidate.person` may be one person, in REASONS
    order; () when they may not (or when they are the same entry)."""
    other = candidate.person
    if other.entry_id == person.entry_id:
        return ()
    reasons: list[str] = []
    if shared_document(person, other):
        reasons.append(DOCUMENT_NUMBER)
    years_ok = birth_years_compatible(person.birth_year, other.birth_year)
    sex_ok = sexes_compatible(person.sex, other.sex)
    by_name = NAME in candidate.reasons and candidate.score >= NAME_THRESHOLD
    if by_name and years_ok and sex_ok:
        reasons.append(NAME)
        if person.birth_year is not None and other.birth_year is not None:
            reasons.append(BIRTH_YEAR)
        if person.sex and other.sex:
            reasons.append(SEX)
    return tuple(reasons)
