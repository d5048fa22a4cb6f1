"""Console: possible matches on a case page (issue 13 item 2; gateway.search.finder finds
them). See gateway/console/__init__.py.

Design notes:
- A case page shows one "Possible match" box per pair that names a person of the case,
  either side (Store.case_possible_matches): a link to the other case, the reasons by code,
  translated, and the decision once taken (who, when). Nothing is ever merged: confirming
  says "the same person" for the officers, no more.
- The other person's names are shown only to a user who may read the message that names
  them, by the case page's rule (gateway.console.case_view.may_read): content readers
  always; anybody else only a wanted-person entry of a message marked normal (a notice's
  subject, never a victim). The index says the marking and the person's role without
  opening anything; no index wired (or the entry gone): no names.
- POST /console/cases/<case>/matches/<id>/confirm and .../dismiss: officers and supervisors
  (SENDERS), CSRF checked by the console's middleware, one checked UPDATE of an open pair of
  that case with its audit entry (console.match_confirmed / console.match_dismissed, the
  user id and the ids only). A second press (a stale page) changes nothing and goes back to
  the page, which shows the decision taken; an id that is no pair of the case is a 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from gateway.console import auth
from gateway.console.context import SENDERS, ConsoleContext, ConsoleUser
from gateway.console.i18n import N_
from gateway.search.model import IndexedPerson
from gateway.store.matches import CaseMatch, Decision, MatchNotOpen

REASON_TEXT = {
    "document_number": N_("Same document number"),
    "name": N_("Similar name (any script)"),
    "birth_year": N_("Birth year within one year"),
    "sex": N_("Same sex"),
}
DECISIONS: dict[str, Decision] = {"confirm": "confirmed", "dismiss": "dismissed"}


@dataclass(frozen=True)
class MatchView:
    """One possible match as a case page shows it."""

    match: CaseMatch
    # The other person's names as written (every script), when the user may read them.
    other_names: tuple[str, ...]
    may_decide: bool

    @property
    def id(self) -> int:
        return self.match.id

    @property
    def state(self) -> str:
        return self.match.state

    @property
    def other_case_id(self) -> uuid.UUID:
        return self.match.other_case_id

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(r for r in self.match.reasons if r in REASON_TEXT)

    @property
    def decided_by(self) -> str | None:
        return self.match.decided_by_name

    @property
    def decided_at(self) -> datetime | None:
        return self.match.decided_at


def may_see_names(user: ConsoleUser, person: IndexedPerson) -> bool:
    """The case page's rule (case_view.may_read) as far as the index tells it: content
    readers read everything; the others only a wanted person of a normal message."""
    if user.reads_content:
        return True
    return person.handling == "normal" and person.role == "wanted"


async def _person(ctx: ConsoleContext, entry_id: int) -> IndexedPerson | None:
    """One indexed person by entry id, through the PersonIndex contract."""
    if ctx.person_index is None:
        return None
    found = await ctx.person_index.persons_after(entry_id - 1, limit=1)
    return found[0] if found and found[0].entry_id == entry_id else None


async def case_matches(
    ctx: ConsoleContext, user: ConsoleUser, case_id: uuid.UUID
) -> list[MatchView]:
    """The possible matches of a case, as this user may see them."""
    views: list[MatchView] = []
    for match in await ctx.store.case_possible_matches(case_id):
        person = await _person(ctx, match.other_entry_id)
        names = person.names if person is not None and may_see_names(user, person) else ()
        views.append(MatchView(match, names, user.role in SENDERS))
    return views


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    async def decide(request: web.Request) -> web.Response:
        user = auth.require(request, *SENDERS)
        decision = DECISIONS.get(request.match_info["decision"])
        try:
            case_id = uuid.UUID(request.match_info["case_id"])
            text = request.match_info["match_id"]
            match_id = int(text) if text.isascii() and text.isdigit() and len(text) < 19 else 0
        except ValueError:
            raise web.HTTPNotFound() from None
        if decision is None or match_id <= 0:
            raise web.HTTPNotFound()
        try:
            await ctx.store.decide_possible_match(
                match_id, case_id=case_id, decision=decision, user_id=user.id, actor=user.actor
            )
        except MatchNotOpen:
            known = {m.id for m in await ctx.store.case_possible_matches(case_id)}
            if match_id not in known:
                raise web.HTTPNotFound() from None
        raise web.HTTPSeeOther(f"/console/cases/{case_id}#match-{match_id}")

    return [web.post("/cases/{case_id}/matches/{match_id}/{decision}", decide)]
