"""Console: a received message's attachment, shown inline (images) or downloaded.

Design notes:
- Who may: the console's content rule (case_view.may_read) on the message's marking, the
  same that decides whether the case page shows its content. Operators and admins see a
  restricted or victim-protected message's metadata only, and get 403 here; the case page
  lists attachments only where it shows the content, so they never see a link.
- What is served: only what gateway/attachments_read.py verified (complete stream, hash,
  every PROTOCOL 7.3 check), from its temporary file; a refusal is the console's error page
  with the reason code (attachment_unavailable 409, attachment_corrupt 502,
  content_deleted 410; their texts are in rendering._REASON_MESSAGES), never part of the
  plaintext.
- Headers: JPEG, PNG and WebP are served `inline` (the case page shows them with <img>, which
  the console's CSP allows from 'self'); everything else as `attachment`. Every answer is
  nosniff and no-store, and carries a CSP of its own that forbids everything (sandbox,
  default-src 'none'): a file a peer sent, opened directly, can run nothing here.
- Each read is audited (console.attachment_viewed: user, message id, attachment id, peer).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from aiohttp import web

from gateway.api.attachments import stream_attachment
from gateway.attachments_read import AttachmentReader, AttachmentReadError, VerifiedAttachment
from gateway.console import auth
from gateway.console.case_view import marking, may_read
from gateway.console.context import ConsoleContext, ConsoleUser
from gateway.store import AuditEntry

# The answer's own policy: it is a peer's file, not a console page.
ATTACHMENT_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
_ERRORS: Mapping[int, type[web.HTTPException]] = {
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    410: web.HTTPGone,
    500: web.HTTPInternalServerError,
    502: web.HTTPBadGateway,
}


def attachment_url(message_id: uuid.UUID | str, attachment_id: str) -> str:
    return f"/console/messages/{message_id}/attachments/{attachment_id}"


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    reader = ctx.attachments or AttachmentReader(ctx.store, ctx.keyring)

    async def attachment(request: web.Request) -> web.StreamResponse:
        user = auth.require(request)
        try:
            message_id = uuid.UUID(request.match_info["message_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        attachment_id = request.match_info["attachment_id"]
        try:
            peer, verified = await _verified(ctx, reader, user, message_id, attachment_id)
        except AttachmentReadError as refused:
            raise _ERRORS.get(refused.status, web.HTTPInternalServerError)(
                reason=refused.code
            ) from None
        try:
            await ctx.store.audit(
                [
                    AuditEntry(
                        user.actor,
                        "console.attachment_viewed",
                        str(message_id),
                        {"peer": peer, "attachment": attachment_id},
                    )
                ]
            )
            return await stream_attachment(
                request,
                verified,
                {
                    "Content-Security-Policy": ATTACHMENT_CSP,
                    "Referrer-Policy": "no-referrer",
                    "X-Frame-Options": "DENY",
                },
                disposition="inline" if verified.info.inline_image else "attachment",
            )
        finally:
            verified.close()

    return [web.get("/messages/{message_id}/attachments/{attachment_id}", attachment)]


async def _verified(
    ctx: ConsoleContext,
    reader: AttachmentReader,
    user: ConsoleUser,
    message_id: uuid.UUID,
    attachment_id: str,
) -> tuple[str, VerifiedAttachment]:
    """The peer and verified attachment; 403 when the user may not read the message's
    content, AttachmentReadError otherwise (404 for an unknown message or id)."""
    forbidden = False
    for found in await ctx.store.inbox_by_message(message_id):
        opened = await reader.open_message(found.envelope)
        key = opened.key(attachment_id)
        if key is None:
            continue
        if not may_read(user, marking(found.handling, opened.message), opened.message):
            forbidden = True
            continue
        return found.row.sender, await reader.verify(found.row.sender, message_id, key)
    if forbidden:
        raise web.HTTPForbidden()
    raise web.HTTPNotFound()
