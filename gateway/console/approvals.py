"""Console pages: drafts awaiting approval (four eyes), for supervisors.

Design notes:
- A supervisor sees every draft awaiting approval with its content opened (the point of a
  second pair of eyes is to read what is approved), and approves or withdraws it. Opening a
  draft for a reader is audited like reading a victim-protected message.
- Refusals carry a machine-readable data-reason: `own_draft` (403) for approving one's own
  draft, `not_awaiting_approval` (409) for a draft approved or withdrawn already, including
  by a concurrent approval; the database decides the race (gateway/store/drafts.py), so
  exactly one approval queues the message.
- The composer may withdraw their own draft (from the case page); a supervisor any draft.
"""

from __future__ import annotations

import logging

from aiohttp import web

from gateway.console import auth
from gateway.console.context import SENDERS, ConsoleContext, ConsoleUser, Role
from gateway.console.form_fields import NEEDS, SEXES
from gateway.console.four_eyes import (
    OpenedDraft,
    approve_draft,
    draft_attachments,
    read_draft,
    withdraw_files,
)
from gateway.console.rendering import render
from gateway.crypto.drafts import DraftUnreadable
from gateway.federation.outgoing import SubmissionRefused
from gateway.ops.logs import fields
from gateway.store import AuditEntry
from gateway.store.drafts import DraftNotAwaiting, DraftRow, NotDraftComposer, OwnDraft

log = logging.getLogger(__name__)

# Each draft shown is fetched, opened and audited: the page shows the oldest this many (and
# says how many more wait), so that thousands composed by a script do not stall it.
MAX_SHOWN = 50


def _draft_id(request: web.Request) -> int:
    text = request.match_info["draft_id"]
    # isascii: str.isdigit() also accepts superscripts, which int() refuses (a 500).
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise web.HTTPNotFound()
    return int(text)


async def _opened(ctx: ConsoleContext, draft_id: int) -> OpenedDraft:
    try:
        found = await read_draft(ctx, draft_id)
    except DraftUnreadable as unreadable:
        log.error(
            "draft_unreadable", extra=fields(draft=draft_id, error_type=type(unreadable).__name__)
        )
        raise web.HTTPConflict(reason="draft_unreadable") from None
    if found is None:
        raise web.HTTPNotFound()
    return found


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    async def approvals_page(request: web.Request) -> web.Response:
        user = auth.require(request, Role.SUPERVISOR)
        drafts: list[OpenedDraft] = []
        unreadable: list[DraftRow] = []
        awaiting = await ctx.store.drafts_awaiting()
        for row in awaiting[:MAX_SHOWN]:
            try:
                opened = await read_draft(ctx, row.id)
            except DraftUnreadable:
                log.error("draft_unreadable", extra=fields(draft=row.id, user=user.id))
                unreadable.append(row)
                continue
            if opened is not None:
                drafts.append(opened)
        shown = drafts
        files = {d.row.id: await draft_attachments(ctx, d) for d in shown}
        if shown:
            await ctx.store.audit(
                [
                    AuditEntry(
                        user.actor,
                        "console.draft_viewed",
                        f"draft:{d.row.id}",
                        {"case": str(d.row.case_id)},
                    )
                    for d in shown
                ]
            )
        return render(
            request,
            "approvals.html",
            {
                "drafts": drafts,
                "files": files,
                "unreadable": unreadable,
                "more": max(0, len(awaiting) - MAX_SHOWN),
                "sex_codes": {number: code for code, number in SEXES.items()},
                "need_codes": {number: code for code, number in NEEDS.items()},
            },
        )

    async def approve(request: web.Request) -> web.Response:
        user = auth.require(request, Role.SUPERVISOR)
        draft = await _opened(ctx, _draft_id(request))
        if draft.row.composed_by == user.id:
            raise web.HTTPForbidden(reason="own_draft")
        if draft.row.state != "awaiting_approval":
            raise web.HTTPConflict(reason="not_awaiting_approval")
        try:
            await approve_draft(ctx, draft, user)
        except OwnDraft:
            raise web.HTTPForbidden(reason="own_draft") from None
        except DraftNotAwaiting:
            raise web.HTTPConflict(reason="not_awaiting_approval") from None
        except (SubmissionRefused, ValueError) as refusal:
            # Checked when composed; since then a peer was removed from the configuration,
            # or its keys expired (seal() finds none valid now).
            log.warning(
                "draft_unsendable",
                extra=fields(draft=draft.row.id, user=user.id, error_type=type(refusal).__name__),
            )
            raise web.HTTPConflict(reason="cannot_send") from None
        raise web.HTTPSeeOther(f"/console/cases/{draft.row.case_id}")

    async def withdraw(request: web.Request) -> web.Response:
        user: ConsoleUser = auth.require(request, *SENDERS)
        draft_id = _draft_id(request)
        try:
            row = await ctx.store.withdraw_draft(
                draft_id,
                user_id=user.id,
                actor=user.actor,
                any_composer=user.role == Role.SUPERVISOR,
            )
        except DraftNotAwaiting:
            if await ctx.store.draft(draft_id) is None:
                raise web.HTTPNotFound() from None
            raise web.HTTPConflict(reason="not_awaiting_approval") from None
        except NotDraftComposer:
            raise web.HTTPForbidden() from None
        await _drop_files(draft_id)
        raise web.HTTPSeeOther(f"/console/cases/{row.case_id}")

    async def _drop_files(draft_id: int) -> None:
        """A withdrawn draft's files will never be sent: they go now, not at the sweep."""
        try:
            opened = await read_draft(ctx, draft_id)
        except DraftUnreadable:
            return  # its content is gone or unreadable; the sweep removes the files
        if opened is not None:
            await withdraw_files(ctx, opened)

    return [
        web.get("/approvals", approvals_page, name="approvals"),
        web.post("/approvals/{draft_id}/approve", approve),
        web.post("/approvals/{draft_id}/withdraw", withdraw),
    ]
