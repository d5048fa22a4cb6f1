"""Console page: finding a person across cases, in any script (issue 13).

GET /console/search shows the form; POST /console/search checks it, runs the search and
answers the ranked hits at the same URL.

Design notes:
- Search terms are victim data, so they never travel in a URL: the form posts (with the
  session's CSRF token, checked by auth's middleware before this view runs) and the results
  are the answer to that post, at /console/search; like every console page it is no-store.
  Nothing here logs, audits or echoes a term anywhere but back into the form of the page
  that answers the post.
- Each field is checked as the case list's filters are: a wrong one gets its message beside
  it (a msgid that says what was expected, never what was typed), status 400, and no search
  runs; a form with no field at all is refused the same way. Every text is bounded (the
  name by the index's own MAX_TEXT_CHARS and MAX_TEXT_TOKENS, the document number by
  DOCUMENT_CHARS) and so is the answer (RESULT_LIMIT hits); the search itself is bounded in
  time (SEARCH_TIMEOUT), after which the page says so with 503.
- Dates (from, to) are the reader's local days (UTC+7, as every console page shows times),
  both included; the API (gateway/api/search.py) takes UTC days.
- Who: every signed-in user, as for the case list. Names (and birth dates) are shown as
  case_view.may_read decides for messages: content readers see them; the others only those
  of a wanted-person notice marked normal. An index entry does not say whether its hotline
  alert names a victim beside the suspect, so hotline alerts are withheld from non-readers
  altogether (stricter than may_read, never looser). A hit whose names a user may not see
  is left out of the answer altogether, as the local API leaves victim-protected hits out
  for clients not allowed them: a "Restricted" row with its score would still tell an
  operator that the name typed is a victim's in a protected case (a membership oracle).
- Audit: PersonSearch.search() knows no user, so the console records each search as
  `console.search` with the user as actor, the names of the fields used (never their values)
  and the hit count.
- ctx.person_search is None on a node without the index: the page says search is not
  available (503) and nothing else happens.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from aiohttp import web
from multidict import MultiDict

from adapters.common.text import ascii_digits
from gateway.console import auth
from gateway.console.cases import KINDS
from gateway.console.context import ConsoleContext, ConsoleUser
from gateway.console.form_fields import (
    BORDER_GATES,
    LOCAL_ZONE,
    MAX_YEAR,
    MIN_YEAR,
    MSG_BIRTH_DATE,
    MSG_DATE,
    Form,
    FormReader,
)
from gateway.console.i18n import N_
from gateway.console.rendering import render
from gateway.search.index import MAX_TEXT_CHARS, MAX_TEXT_TOKENS
from gateway.search.model import ScoredPerson, SearchQuery
from gateway.search.names import document_number, romanise
from gateway.store import AuditEntry
from gateway.wire import canonical

RESULT_LIMIT = 50
DOCUMENT_CHARS = 40
# The most of a field's text the page shows again in its form (all wrong beyond MAX_TEXT_CHARS).
ECHO_CHARS = 2 * MAX_TEXT_CHARS
# Longer than the index's first load after a restart (a search waits for it): 9 s for
# 100,000 cases measured by bench/search.py (README "Search"); a query itself takes < 1 s.
SEARCH_TIMEOUT = timedelta(seconds=30)
EARLIEST_BIRTH_YEAR = 1900
# The form's fields, in the order the audit entry names them.
FIELDS = ("name", "document_number", "birth", "border_gate", "kind", "since", "until")

MSG_NOTHING = N_("Fill in at least one field to search.")
MSG_WORDS = N_("Enter at most 8 words of the name")
MSG_DOCUMENT = N_("Enter the document number in Latin letters and digits")
MSG_UNTIL = N_("Enter a date on or after the first date")
MSG_UNAVAILABLE = N_("Search is not available on this node.")
MSG_TIMED_OUT = N_(
    "The search took too long. Add another field (a birth year, a border gate, dates) and "
    "try again."
)

# What an index entry's role is, in words (gateway.search.model.PersonRole).
PERSON_ROLES: dict[str, str] = {
    "wanted": N_("Wanted person"),
    "victim": N_("Victim"),
    "child": N_("Accompanying child"),
    "hotline_victim": N_("Victim named in a hotline alert"),
    "hotline_suspect": N_("Suspect named in a hotline alert"),
}
# Why a hit matched (ScoredPerson.reasons); an unknown code is shown as itself.
REASONS: dict[str, str] = {
    "document_number": N_("same document number"),
    "name": N_("similar name"),
    "birth_year": N_("same birth year"),
    "birth_date": N_("same birth date"),
    "sex": N_("same sex"),
    "border_gate": N_("same border gate"),
    # No name or document number asked for: the person is there for the filters alone.
    "filter": N_("matches the filters"),
}

# What a document number may be typed as: ASCII letters and digits, with separators that
# the index's document_number() then drops (as it does from the numbers it keeps).
_DOCUMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ./-]*")
_BIRTH = re.compile(r"^([0-9]{4})(?:-([0-9]{1,2})-([0-9]{1,2}))?$")


@dataclass(frozen=True)
class ShownName:
    """A name as the page shows it: Khmer text is marked lang="km" (font, line height)."""

    text: str
    khmer: bool


@dataclass(frozen=True)
class Hit:
    """One result row, as the reader may see it."""

    scored: ScoredPerson
    percent: int
    # Empty and None when the reader may not see this person's names.
    names: tuple[ShownName, ...]
    matched: ShownName | None
    birth: canonical.Date | None
    withheld: bool
    reasons: tuple[str, ...]  # msgids (or unknown codes as they came)
    # Every name written in Khmer script only: its Latin reading (names.romanise), so that
    # the name shows in both scripts; None when a Latin form was written, or withheld.
    romanised: str | None = None

    @property
    def person_role(self) -> str:
        return PERSON_ROLES.get(self.scored.person.role, self.scored.person.role)


def is_khmer(text: str) -> bool:
    """Whether text holds Khmer letters (U+1780..U+17FF, U+19E0..U+19FF)."""
    return any("\u1780" <= char <= "\u17ff" or "\u19e0" <= char <= "\u19ff" for char in text)


def shown_name(text: str) -> ShownName:
    return ShownName(text, is_khmer(text))


def may_see_names(user: ConsoleUser, scored: ScoredPerson) -> bool:
    """Content readers see every name; the others only a normal wanted notice's subject."""
    if user.reads_content:
        return True
    person = scored.person
    return person.handling == "normal" and person.kind == "wanted_person_notice"


def _birth(text: str) -> canonical.Date | None:
    """An index entry's birth date ("YYYY", "YYYY-MM", "YYYY-MM-DD") for the date filter."""
    parts = text.split("-")
    if not text or not all(
        part.isascii() and part.isdigit() and len(part) <= 4 for part in parts[:3]
    ):
        return None
    numbers = [int(part) for part in parts[:3]] + [0, 0]
    return canonical.Date(year=numbers[0], month=numbers[1], day=numbers[2])


def hit_of(user: ConsoleUser, scored: ScoredPerson) -> Hit:
    shown = may_see_names(user, scored)
    person = scored.person
    return Hit(
        scored=scored,
        percent=max(0, min(100, round(scored.score))),
        names=tuple(shown_name(name) for name in person.names) if shown else (),
        # Which of several written forms matched; with one, it is the name shown already.
        matched=(
            shown_name(scored.matched_name)
            if shown and scored.matched_name and len(person.names) > 1
            else None
        ),
        birth=_birth(person.birth_date) if shown else None,
        withheld=not shown,
        reasons=tuple(REASONS.get(reason, reason) for reason in scored.reasons),
        romanised=(
            romanise(person.names[0])
            if shown and person.names and all(is_khmer(name) for name in person.names)
            else None
        ),
    )


@dataclass(frozen=True)
class ReadQuery:
    """The checked form: the query (None when a field is wrong or none is filled in), the
    errors per field (msgids) and the names of the fields used."""

    query: SearchQuery | None
    errors: dict[str, str]
    used: tuple[str, ...]


def read_query(form: Form, *, now: datetime) -> ReadQuery:
    """Check every field of the posted form; errors name the field, never quote it."""
    reader = FormReader(form, now=now)
    text = reader.text("name", max_chars=MAX_TEXT_CHARS)
    if len(text.split()) > MAX_TEXT_TOKENS:
        reader.fail("name", MSG_WORDS)
    document = _document_number(reader)
    birth_year, birth_date = _birth_field(reader, now)
    gate = reader.code("border_gate", BORDER_GATES)
    kind = reader.code("kind", KINDS)
    first = _day(reader, "since")
    last = _day(reader, "until")
    since = _day_start(first) if first is not None else None
    until = _day_start(last) + timedelta(days=1, microseconds=-1) if last is not None else None
    if since is not None and until is not None and until < since:
        reader.fail("until", MSG_UNTIL)
    used = tuple(name for name in FIELDS if reader.raw(name))
    if not used:
        reader.fail("query", MSG_NOTHING)
    if reader.errors:
        return ReadQuery(None, reader.errors, used)
    query = SearchQuery(
        text=text,
        document_number=document,
        birth_year=birth_year,
        birth_date=birth_date,
        border_gate=gate,
        kind=kind,
        since=since,
        until=until,
        limit=RESULT_LIMIT,
    )
    return ReadQuery(query, {}, used)


def _document_number(reader: FormReader) -> str:
    """The document number as the index keeps them (letters upper case, no separators)."""
    value = ascii_digits(reader.text("document_number", max_chars=DOCUMENT_CHARS))
    if not value:
        return ""
    if not (value.isascii() and _DOCUMENT.fullmatch(value)):
        reader.fail("document_number", MSG_DOCUMENT)
        return ""
    return document_number(value)


def _birth_field(reader: FormReader, now: datetime) -> tuple[int | None, str]:
    """A birth year (yyyy) or a whole birth date (yyyy-mm-dd), not in the future."""
    text = ascii_digits(reader.raw("birth"))
    if not text:
        return None, ""
    found = _BIRTH.match(text) if len(text) <= len("yyyy-mm-dd") else None
    today = now.astimezone(LOCAL_ZONE).date()
    if found is None:
        reader.fail("birth", MSG_BIRTH_DATE)
        return None, ""
    year = int(found.group(1))
    if found.group(2) is None:
        if not EARLIEST_BIRTH_YEAR <= year <= today.year:
            reader.fail("birth", MSG_BIRTH_DATE)
            return None, ""
        return year, ""
    try:
        born = date(year, int(found.group(2)), int(found.group(3)))
    except ValueError:
        born = None
    if born is None or not date(EARLIEST_BIRTH_YEAR, 1, 1) <= born <= today:
        reader.fail("birth", MSG_BIRTH_DATE)
        return None, ""
    return None, born.isoformat()


def _day(reader: FormReader, name: str) -> canonical.Date | None:
    """A from/to date (yyyy-mm-dd) within the years messages can have."""
    day = reader.date(name)
    if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
        reader.fail(name, MSG_DATE)
        return None
    return day


def _day_start(day: canonical.Date) -> datetime:
    """The first instant of a local (UTC+7) day: the day the reader sees on their pages."""
    return datetime.combine(date(day.year, day.month, day.day), time.min, LOCAL_ZONE)


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    def page(
        request: web.Request,
        form: Form,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        hits: list[Hit] | None = None,
        notice: str | None = None,
    ) -> web.Response:
        return render(
            request,
            "search.html",
            {
                "form": form,
                "errors": errors or {},
                "hits": hits,
                "notice": notice,
                "available": ctx.person_search is not None,
                "gates": BORDER_GATES,
                "kinds": KINDS,
                "result_limit": RESULT_LIMIT,
            },
            status=status,
        )

    async def search_form(request: web.Request) -> web.Response:
        auth.require(request)
        if ctx.person_search is None:
            return page(request, MultiDict(), status=503, notice=MSG_UNAVAILABLE)
        return page(request, MultiDict())

    async def search(request: web.Request) -> web.Response:
        user = auth.require(request)
        form = await request.post()
        # Only the form's own text fields are read (never the token), and what comes back
        # into the form is cut to a bound: a megabyte pasted into a field is refused there,
        # not shown again.
        fields: MultiDict[str] = MultiDict(
            (name, value) for name in FIELDS if isinstance(value := form.get(name, ""), str)
        )
        kept: MultiDict[str] = MultiDict(
            (name, value[:ECHO_CHARS]) for name, value in fields.items()
        )
        if ctx.person_search is None:
            return page(request, kept, status=503, notice=MSG_UNAVAILABLE)
        read = read_query(fields, now=ctx.clock())
        if read.query is None:
            return page(request, kept, status=400, errors=read.errors)
        try:
            async with asyncio.timeout(SEARCH_TIMEOUT.total_seconds()):
                found = await ctx.person_search.search(read.query)
        except TimeoutError:
            await _audit(ctx, user, read.used, None)
            return page(request, kept, status=503, notice=MSG_TIMED_OUT)
        found = [scored for scored in found if may_see_names(user, scored)][:RESULT_LIMIT]
        await _audit(ctx, user, read.used, len(found))
        return page(request, kept, hits=[hit_of(user, scored) for scored in found])

    return [
        web.get("/search", search_form, name="search"),
        web.post("/search", search),
    ]


async def _audit(
    ctx: ConsoleContext, user: ConsoleUser, used: tuple[str, ...], hits: int | None
) -> None:
    """Who searched, with which fields (names only) and how many hits (None: timed out)."""
    await ctx.store.audit(
        [
            AuditEntry(
                user.actor,
                "console.search",
                "person_search",
                {"fields": ",".join(used), "hits": hits, "timed_out": hits is None},
            )
        ]
    )


__all__ = [
    "FIELDS",
    "PERSON_ROLES",
    "REASONS",
    "RESULT_LIMIT",
    "Hit",
    "ReadQuery",
    "hit_of",
    "is_khmer",
    "may_see_names",
    "read_query",
    "routes",
]
