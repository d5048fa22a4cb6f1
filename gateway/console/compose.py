"""Console pages: compose a handover proposal, a wanted-person notice or a hotline alert, and
answer a handover from its case page.

Design notes:
- Every form is read by the pure functions of gateway/console/forms.py and checked by the
  Dispatcher (the same checks as the local API) before anything is written. A form with
  errors comes back with status 400, refilled as posted, each error beside its field in the
  reader's language; nothing is stored, sent or audited.
- A handover proposal names victims, so it is not sent: it becomes a draft awaiting a
  supervisor's approval (gateway/console/four_eyes.py). Its case id is made now, so the
  officer lands on the case page, where the draft shows as awaiting approval.
- A notice, an alert or an answer to a handover is submitted at once with the user as actor;
  an answer carries no victim data, only the decision, a time and a reason.
- Files: the notice form takes photos of the subject, the handover form scans of the
  handover and photos per victim. The forms post multipart; gateway/console/uploads.py
  streams the post and stages each file as the local API's uploads are, under the console's
  own owner (CONSOLE_OWNER), and the composed message names the staged ids: the Dispatcher
  binds them per recipient (local_client=CONSOLE_OWNER), at once or when a draft is
  approved. A form shown again with errors keeps no file; once the message is queued, the
  staged files go (each recipient has its own copy).
- The hotline alert form exists only on a Vietnamese node: alerts come from the 111 hotline.
  Its caller never leaves Vietnam, as route policy removes it from copies for other
  countries; the form says so.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from google.protobuf.message import DecodeError
from multidict import MultiDict

from gateway.console import auth
from gateway.console.context import SENDERS, ConsoleContext, ConsoleUser
from gateway.console.form_fields import (
    BORDER_GATES,
    COUNTRIES,
    NEEDS,
    PROVINCES,
    SEXES,
    slot_number,
    slots_used,
)
from gateway.console.form_limits import deferred_csrf
from gateway.console.forms import (
    MAX_ESCORTS,
    MAX_VICTIMS,
    MSG_NO_KEY,
    Composed,
    answer_from_form,
    checked,
    handover_from_form,
    new_reference,
    refusal_error,
)
from gateway.console.four_eyes import compose_draft
from gateway.console.i18n import N_
from gateway.console.notice_forms import (
    CATEGORIES,
    CHANNELS,
    DOCUMENT_TYPES,
    LEGAL_BASES,
    MAX_PERSONS,
    NOTICE_ACTIONS,
    REQUESTS,
    ROLES,
    URGENCIES,
    alert_from_form,
    notice_from_form,
)
from gateway.console.rendering import render
from gateway.console.uploads import CONSOLE_OWNER, ComposeUploads, UploadedForm
from gateway.crypto import EnvelopeRejected, reopen_stored
from gateway.federation.outgoing import Queued, SubmissionRefused
from gateway.ops.logs import fields
from gateway.store import AuditEntry
from gateway.wire import Kind, canonical

log = logging.getLogger(__name__)

VICTIM_SLOTS = 3
CHILD_SLOTS = 2
ESCORT_SLOTS = 2
PERSON_SLOTS = 3
HANDLING_CHOICES = ("normal", "restricted", "victim_protected")
MEDIA_ACCEPT = "image/jpeg,image/png,image/webp,image/tiff,application/pdf"
MSG_CHOOSE_AGAIN = N_("The message was not sent: choose the files again")


def _notice_file(name: str) -> bool:
    return name == "subject-photos"


def _handover_file(name: str) -> bool:
    if name == "documents":
        return True
    slot, dash, rest = name.removeprefix("victims-").partition("-")
    number = slot_number(slot)
    return (
        name.startswith("victims-")
        and bool(dash)
        and rest == "photos"
        and number is not None
        and number < MAX_VICTIMS
    )


async def posted_form(request: web.Request) -> MultiDict[str]:
    """The posted fields that are text (a file field has no place in these forms)."""
    posted = await request.post()
    return MultiDict((key, value) for key, value in posted.items() if isinstance(value, str))


def _slots(form: Mapping[str, str], prefix: str, default: int, limit: int) -> int:
    """How many slots to show: the default, or more when the posted form used more."""
    return min(limit, max([default, *(index + 1 for index in slots_used(form, prefix))]))


# The choices both the notice and the alert form offer.
_NOTICE_CHOICES: dict[str, object] = {
    "actions": tuple(NOTICE_ACTIONS),
    "handlings": HANDLING_CHOICES,
    "provinces": PROVINCES,
}


def _compose_page(
    request: web.Request,
    template: str,
    form: MultiDict[str],
    errors: dict[str, str],
    status: int,
    **choices: object,
) -> web.Response:
    """A compose form, filled with form and its errors beside their fields."""
    return render(
        request,
        template,
        {"form": form, "errors": errors, "sexes": tuple(SEXES), **choices},
        status=status,
    )


class ComposeViews:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        self.uploads = ComposeUploads(
            store=ctx.store,
            keyring=ctx.keyring,
            max_bytes=ctx.max_attachment_bytes,
            clock=ctx.clock,
        )

    async def _read(
        self, request: web.Request, user: ConsoleUser, file_field: Callable[[str], bool]
    ) -> UploadedForm:
        """The posted form, its files staged when it came as multipart."""
        if deferred_csrf(request):
            return await self.uploads.read(request, actor=user.actor, file_field=file_field)
        return UploadedForm(await posted_form(request))

    async def _refused(self, read: UploadedForm, errors: dict[str, str]) -> None:
        """The form goes back with errors: its staged files go, and their fields say so."""
        await self.uploads.discard(read.staged)
        for name in read.files:
            errors.setdefault(name, MSG_CHOOSE_AGAIN)

    # --- handover ---------------------------------------------------------------------

    def _handover_page(
        self,
        request: web.Request,
        form: MultiDict[str],
        errors: dict[str, str],
        victims: int,
        status: int = 200,
    ) -> web.Response:
        return _compose_page(
            request,
            "compose_handover.html",
            form,
            errors,
            status,
            peer_ids=self.ctx.dispatcher.sendable_to(Kind.VICTIM_HANDOVER),
            gates=BORDER_GATES,
            needs=tuple(NEEDS),
            victim_slots=range(victims),
            max_attachment_bytes=self.ctx.max_attachment_bytes,
            media_accept=MEDIA_ACCEPT,
            child_slots=range(CHILD_SLOTS),
            escort_slots=range(_slots(form, "escort-", ESCORT_SLOTS, MAX_ESCORTS)),
        )

    async def handover_form(self, request: web.Request) -> web.Response:
        auth.require(request, *SENDERS)
        asked = request.query.get("victims", "")
        asked_slots = slot_number(asked)
        victims = VICTIM_SLOTS if asked_slots is None else asked_slots
        victims = min(max(victims, 1), MAX_VICTIMS)
        return self._handover_page(request, MultiDict(), {}, victims)

    async def handover_post(self, request: web.Request) -> web.Response:
        user = auth.require(request, *SENDERS)
        read = await self._read(request, user, _handover_file)
        form = read.form
        now = self.ctx.clock()
        case_id = uuid.uuid4()
        composed = handover_from_form(
            form, now=now, case_id=case_id, reference=new_reference(now), attachments=read.files
        )
        composed.errors.update(read.errors)
        composed = checked(composed, self.ctx.dispatcher)
        if not composed.ok:
            await self._refused(read, composed.errors)
            victims = _slots(form, "victims-", VICTIM_SLOTS, MAX_VICTIMS)
            return self._handover_page(request, form, composed.errors, victims, status=400)
        try:
            # The draft names the staged ids; they are bound when a supervisor approves.
            await compose_draft(self.ctx, composed.message, composed.recipients, user)
        except BaseException:
            await self.uploads.discard(read.staged)
            raise
        raise web.HTTPSeeOther(f"/console/cases/{case_id}")

    # --- notices and alerts -----------------------------------------------------------

    def _notice_page(
        self,
        request: web.Request,
        form: MultiDict[str],
        errors: dict[str, str],
        status: int = 200,
    ) -> web.Response:
        return _compose_page(
            request,
            "compose_notice.html",
            form,
            errors,
            status,
            peer_ids=self.ctx.dispatcher.sendable_to(Kind.WANTED_PERSON_NOTICE),
            **_NOTICE_CHOICES,
            countries=COUNTRIES,
            document_types=tuple(DOCUMENT_TYPES),
            legal_bases=LEGAL_BASES,
            requests=tuple(REQUESTS),
            max_attachment_bytes=self.ctx.max_attachment_bytes,
            media_accept=MEDIA_ACCEPT,
        )

    def _alert_page(
        self,
        request: web.Request,
        form: MultiDict[str],
        errors: dict[str, str],
        status: int = 200,
    ) -> web.Response:
        peer_ids = self.ctx.dispatcher.sendable_to(Kind.HOTLINE_ALERT)
        abroad = [
            peer
            for peer in peer_ids
            if (view := self.ctx.peer(peer)) is not None and view.country != "VN"
        ]
        return _compose_page(
            request,
            "compose_alert.html",
            form,
            errors,
            status,
            peer_ids=peer_ids,
            caller_stays_for=abroad,
            **_NOTICE_CHOICES,
            channels=tuple(CHANNELS),
            categories=tuple(CATEGORIES),
            urgencies=tuple(URGENCIES),
            roles=tuple(ROLES),
            person_slots=range(_slots(form, "persons-", PERSON_SLOTS, MAX_PERSONS)),
        )

    def _prefilled(self, request: web.Request) -> MultiDict[str]:
        """?case=<uuid>&action=update|cancel: the form for changing that case's notice."""
        form: MultiDict[str] = MultiDict([("action", "issue")])
        case = request.query.get("case", "")
        action = request.query.get("action", "")
        try:
            form["case_id"] = str(uuid.UUID(case)) if case else ""
        except ValueError:
            raise web.HTTPNotFound() from None
        if action in NOTICE_ACTIONS:
            form["action"] = action
        return form

    async def notice_form(self, request: web.Request) -> web.Response:
        auth.require(request, *SENDERS)
        return self._notice_page(request, self._prefilled(request), {})

    async def notice_post(self, request: web.Request) -> web.Response:
        user = auth.require(request, *SENDERS)
        read = await self._read(request, user, _notice_file)
        now = self.ctx.clock()
        composed = notice_from_form(
            read.form, now=now, reference=new_reference(now), attachments=read.files
        )
        composed.errors.update(read.errors)
        return await self._send(request, user, read, composed, self._notice_page)

    def _alerts_here(self) -> None:
        if self.ctx.node_country != "VN":
            raise web.HTTPNotFound()

    async def alert_form(self, request: web.Request) -> web.Response:
        auth.require(request, *SENDERS)
        self._alerts_here()
        return self._alert_page(request, self._prefilled(request), {})

    async def alert_post(self, request: web.Request) -> web.Response:
        user = auth.require(request, *SENDERS)
        self._alerts_here()
        form = await posted_form(request)
        now = self.ctx.clock()
        composed = alert_from_form(form, now=now, reference=new_reference(now))
        return await self._send(request, user, UploadedForm(form), composed, self._alert_page)

    async def _send(
        self,
        request: web.Request,
        user: ConsoleUser,
        read: UploadedForm,
        composed: Composed,
        page: Callable[..., web.Response],
    ) -> web.Response:
        """Check and submit a composed message at once; 303 to its case, or the form again."""
        try:
            queued = await submit(self.ctx, checked(composed, self.ctx.dispatcher), user)
        except BaseException:
            await self.uploads.discard(read.staged)
            raise
        if not queued:
            await self._refused(read, composed.errors)
            return page(request, read.form, composed.errors, status=400)
        # Each recipient has its own copy of every file now: the staged ones are done.
        await self.uploads.discard(read.staged)
        await _audit_sent(self.ctx, user, composed.message, [q.message_id for q in queued])
        raise web.HTTPSeeOther(f"/console/cases/{queued[0].case_id}")

    # --- answers ----------------------------------------------------------------------

    async def answer_post(self, request: web.Request) -> web.Response:
        user = auth.require(request, *SENDERS)
        try:
            case_id = uuid.UUID(request.match_info["case_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        found = await self.ctx.store.latest_incoming(case_id)
        if found is None or found[0].kind != Kind.VICTIM_HANDOVER.value:
            raise web.HTTPNotFound()
        row, envelope = found
        if envelope is None:
            raise web.HTTPConflict(reason="content_deleted")  # retention: nothing to answer
        try:
            opened = reopen_stored(self.ctx.keyring, envelope)
            answered = canonical.Message.FromString(opened.payload.message)
        except (EnvelopeRejected, DecodeError) as error:
            # The answer takes its gate and time from the answered message: none without it.
            log.error(
                "answered_message_unreadable",
                extra=fields(
                    message_id=row.message_id, user=user.id, error_type=type(error).__name__
                ),
            )
            raise web.HTTPConflict() from None
        form = await posted_form(request)
        now = self.ctx.clock()
        composed = checked(
            answer_from_form(
                form,
                now=now,
                answered=answered,
                answered_id=row.message_id,
                case_id=case_id,
                sender=row.sender,
                reference=new_reference(now),
            ),
            self.ctx.dispatcher,
        )
        queued = await submit(self.ctx, composed, user)
        if not queued:
            return render(
                request,
                "compose_answer.html",
                {
                    "case_id": case_id,
                    "answer_form": form,
                    "answer_errors": composed.errors,
                },
                status=400,
            )
        await _audit_sent(self.ctx, user, composed.message, [q.message_id for q in queued])
        raise web.HTTPSeeOther(f"/console/cases/{case_id}")


async def submit(ctx: ConsoleContext, composed: Composed, user: ConsoleUser) -> list[Queued]:
    """Queue a checked message with the user as actor; [] with composed.errors filled when
    it cannot be sent (nothing is written then)."""
    if not composed.ok:
        return []
    try:
        # The console's staged files are its own client's uploads (gateway/console/uploads.py).
        return await ctx.dispatcher.submit(
            composed.message,
            composed.recipients,
            actor=user.actor,
            local_client=CONSOLE_OWNER,
        )
    except SubmissionRefused as refused:
        name, msgid = refusal_error(refused)
        composed.errors[name] = msgid
    except ValueError as error:
        # seal() finds no key of ours or of the peer valid now: configuration, not the form.
        log.warning(
            "console_message_unsealable",
            extra=fields(user=user.id, error_type=type(error).__name__),
        )
        composed.errors["to"] = MSG_NO_KEY
    return []


async def _audit_sent(
    ctx: ConsoleContext, user: ConsoleUser, message: canonical.Message, ids: list[uuid.UUID]
) -> None:
    """What the user sent from the console: ids and codes, never content."""
    detail: dict[str, Any] = {
        "case": message.case_id,
        "kind": message.WhichOneof("body"),
        "action": canonical.Action.Name(message.action).removeprefix("ACTION_").lower(),
        "messages": ",".join(str(i) for i in ids),
    }
    if message.in_reply_to:
        detail["in_reply_to"] = message.in_reply_to
    await ctx.store.audit([AuditEntry(user.actor, "console.message_sent", message.case_id, detail)])


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    views = ComposeViews(ctx)
    return [
        web.get("/compose/handover", views.handover_form, name="compose_handover"),
        web.post("/compose/handover", views.handover_post),
        web.get("/compose/notice", views.notice_form, name="compose_notice"),
        web.post("/compose/notice", views.notice_post),
        web.get("/compose/alert", views.alert_form, name="compose_alert"),
        web.post("/compose/alert", views.alert_post),
        web.post("/cases/{case_id}/answer", views.answer_post, name="answer"),
    ]


__all__ = ["ComposeViews", "posted_form", "routes"]
