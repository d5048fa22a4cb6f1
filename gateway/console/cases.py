"""Console pages: the case list (inbox and outbox by case) and one case's whole thread.

Design notes:
- A case is every message sent (one per recipient) and received under one case_id, with its
  drafts not sent yet (gateway.store.cases); drafts are compose's, shown by metadata only.
- Envelopes are opened off the event loop, a bounded number per page
  (gateway.console.case_view); a user outside CONTENT_READERS sees only the metadata of
  restricted and victim-protected messages, and every victim-protected message shown to a
  reader is audited as console.case_viewed with the reader's id.
- Filters come from selects; a value that is not one of the options is answered with the
  list's form again, status 400, the error beside the field, and no query run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from gateway.console import auth
from gateway.console.acknowledge import case_acknowledgements, overdue_list
from gateway.console.attachments import attachment_url
from gateway.console.case_view import (
    MessageView,
    action_of,
    enum_value,
    instant,
    message_views,
    open_many,
    open_thread,
)
from gateway.console.context import SENDERS, ConsoleContext, ConsoleUser
from gateway.console.i18n import N_
from gateway.console.matches import REASON_TEXT, case_matches
from gateway.console.rendering import render
from gateway.store import AuditEntry
from gateway.store.cases import MAX_THREAD_MESSAGES, CaseSummary, Direction, Latest
from gateway.store.drafts import DraftRow
from gateway.wire import Kind, canonical

MESSAGE_KINDS = frozenset(kind.value for kind in Kind)

PAGE_SIZE = 50
MAX_PAGE = 10_000
KINDS = ("wanted_person_notice", "victim_handover", "hotline_alert")
STATES = (
    "awaiting_approval",
    "queued",
    "sending",
    "delivered",
    "rejected",
    "expired",
    "dead",
    "received",
    "withdrawn",
)


@dataclass(frozen=True)
class CaseRow:
    """One line of the case list: the stored summary and the latest message's action."""

    summary: CaseSummary
    last_action: str


@dataclass(frozen=True)
class Filters:
    kind: str | None
    peer: str | None
    state: str | None
    page: int

    def query(self, page: int) -> str:
        """The list's query string for another page with the same filters."""
        return "?" + urlencode([*self._chosen(), ("page", str(page))])

    def _chosen(self) -> list[tuple[str, str]]:
        chosen = (("kind", self.kind), ("peer", self.peer), ("state", self.state))
        return [(name, value) for name, value in chosen if value]


def _filters(request: web.Request, peers: tuple[str, ...]) -> tuple[Filters, dict[str, str]]:
    """The chosen filters, and per field the message id of what is wrong with it."""
    errors: dict[str, str] = {}
    chosen: dict[str, str | None] = {}
    for name, allowed, problem in (
        ("kind", KINDS, N_("Choose a kind from the list.")),
        ("peer", peers, N_("Choose a partner agency from the list.")),
        ("state", STATES, N_("Choose a state from the list.")),
    ):
        value = request.query.get(name, "")
        chosen[name] = value or None
        if value and value not in allowed:
            errors[name] = problem
            chosen[name] = None
    page_text = request.query.get("page", "1")
    # isascii: str.isdigit() also accepts digits int() refuses (superscripts); the length
    # keeps int() within its bounds.
    readable = page_text.isascii() and page_text.isdigit() and len(page_text) <= 6
    page = int(page_text) if readable else 0
    if not 1 <= page <= MAX_PAGE:
        errors["page"] = N_("The page number is not valid.")
        page = 1
    return Filters(chosen["kind"], chosen["peer"], chosen["state"], page), errors


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    peer_ids = tuple(peer.id for peer in ctx.peers)

    async def case_list(request: web.Request) -> web.Response:
        auth.require(request)
        filters, errors = _filters(request, peer_ids)
        rows: list[CaseRow] = []
        total = 0
        if not errors:
            page = await ctx.store.list_cases(
                kind=filters.kind,
                peer=filters.peer,
                state=filters.state,
                limit=PAGE_SIZE,
                offset=(filters.page - 1) * PAGE_SIZE,
            )
            total = page.total
            latest = [(case.latest_direction, case.latest_row) for case in page.cases]
            envelopes = await ctx.store.case_envelopes(latest)
            # Drafts are not opened here; a row purged by retention since the list was read
            # has no envelope: neither shows an action.
            present: list[tuple[Direction, int]] = []
            for direction, row_id in latest:
                if direction != "draft" and (direction, row_id) in envelopes:
                    present.append((direction, row_id))
            opened: dict[tuple[Latest, int], canonical.Message | None] = dict(
                zip(
                    present,
                    await open_many(ctx.keyring, [(d, envelopes[(d, r)]) for d, r in present]),
                    strict=True,
                )
            )
            rows = [
                CaseRow(case, action_of(opened.get(key)))
                for case, key in zip(page.cases, latest, strict=True)
            ]
        overdue, more_overdue = await overdue_list(ctx)
        return render(
            request,
            "cases.html",
            {
                "overdue": overdue,
                "more_overdue": more_overdue,
                "cases": rows,
                "total": total,
                "filters": filters,
                "errors": errors,
                "kinds": KINDS,
                "states": STATES,
                "peer_ids": peer_ids,
                "previous_page": filters.query(filters.page - 1) if filters.page > 1 else None,
                "next_page": (
                    filters.query(filters.page + 1) if filters.page * PAGE_SIZE < total else None
                ),
            },
            status=400 if errors else 200,
        )

    async def case_page(request: web.Request) -> web.Response:
        user = auth.require(request)
        try:
            case_id = uuid.UUID(request.match_info["case_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        # Control envelopes of the case (a cancellation's confirmation) are no messages of it.
        rows = [row for row in await ctx.store.case_thread(case_id) if row.kind in MESSAGE_KINDS]
        drafts = await _drafts(ctx, case_id)
        if not rows and not drafts:
            raise web.HTTPNotFound()
        opened = await open_thread(ctx.keyring, [(row.direction, row.envelope) for row in rows])
        messages = message_views(
            user, rows, [message for message, _ in opened], [infos for _, infos in opened]
        )
        await _audit_protected(ctx, user, case_id, messages)
        kinds = sorted({row.kind for row in rows})
        acknowledgements = await case_acknowledgements(ctx, rows)
        return render(
            request,
            "case.html",
            {
                "acks": acknowledgements.sent,
                "given": acknowledgements.given,
                "now": ctx.clock(),
                "may_acknowledge": user.role in SENDERS and ctx.acknowledger is not None,
                "case_id": case_id,
                "kinds": kinds,
                "peers": sorted({row.peer for row in rows}),
                "messages": messages,
                "drafts": drafts,
                "truncated": len(rows) >= MAX_THREAD_MESSAGES,
                "answerable": _answerable(user, kinds, messages),
                "instant": instant,
                "enum_value": enum_value,
                # Section 14: the case cancelled by a peer here; this node's cancellations.
                "cancelled_by": await ctx.store.cancelled_cases([case_id]),
                "cancellations": await ctx.store.cancellation_status(case_id),
                "attachment_url": attachment_url,
                # Issue 13: possible matches with people of other open cases.
                "matches": await case_matches(ctx, user, case_id),
                "reason_text": REASON_TEXT,
            },
        )

    return [
        web.get("/cases", case_list, name="cases"),
        web.get("/cases/{case_id}", case_page, name="case"),
    ]


def _answerable(user: ConsoleUser, kinds: list[str], messages: list[MessageView]) -> bool:
    """The answer form is for a handover whose latest message came in, and for senders."""
    return (
        user.role in SENDERS
        and kinds == ["victim_handover"]
        and bool(messages)
        and messages[-1].direction == "in"
        and not messages[-1].content_deleted  # an answer takes its gate and time from it
    )


async def _drafts(ctx: ConsoleContext, case_id: uuid.UUID) -> list[DraftRow]:
    """Drafts of this case awaiting approval or withdrawn (metadata only); an approved one
    is on the page as the messages it queued."""
    return [d for d in await ctx.store.drafts_for_case(case_id) if d.state != "approved"]


async def _audit_protected(
    ctx: ConsoleContext, user: ConsoleUser, case_id: uuid.UUID, messages: list[MessageView]
) -> None:
    """Who was shown which victim-protected content: ids only, never content."""
    shown = [m for m in messages if m.content is not None and m.handling == "victim_protected"]
    if shown:
        await ctx.store.audit(
            [
                AuditEntry(
                    user.actor,
                    "console.case_viewed",
                    str(message.message_id),
                    {"case": str(case_id), "peer": message.peer},
                )
                for message in shown
            ]
        )
