"""GET /api/v1/inbox/{message_id}/attachments/{attachment_id}: one attachment of a received
message, for a local client whose inbox lists that message.

Visibility is the inbox's, no more: the client's kinds (in any of its formats) and the
victim-protected rule (gateway.attachments_read.visible_to_client). A message outside it is
answered 404 attachment_not_found, exactly like an unknown message or attachment id, so a
client cannot learn what it may not read. Checks, decryption and the refusal codes are
gateway/attachments_read.py's; the body goes out only once every check passed, with
Content-Disposition: attachment, nosniff and no-store (a browser that opens it neither runs
nor keeps it). Each read is audited (local.attachment_read, ids only) before the first byte.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence, Set

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.attachments_read import (
    AttachmentReader,
    AttachmentReadError,
    VerifiedAttachment,
    info_of,
    not_found,
    visible_to_client,
)
from gateway.store import AuditEntry, InboxRow, Store
from gateway.store.binding import InboxAttachment
from gateway.wire import envelope


async def serve_attachment(
    request: web.Request,
    *,
    store: Store,
    reader: AttachmentReader,
    client_id: str,
    kinds: Set[str],
    victim_protected: bool,
) -> web.StreamResponse:
    try:
        message_id = uuid.UUID(request.match_info["message_id"])
    except ValueError:
        raise ApiError(400, "invalid_parameter", "message_id: expected a UUID") from None
    attachment_id = request.match_info["attachment_id"]
    try:
        sender, verified = await _verified(
            store, reader, message_id, attachment_id, kinds=kinds, victim_protected=victim_protected
        )
    except AttachmentReadError as refused:
        raise ApiError(refused.status, refused.code, refused.message) from None
    try:
        # Recorded before the first byte: a client that stops reading has still been given
        # the attachment. Ids only, never content.
        await store.audit(
            [
                AuditEntry(
                    f"api:{client_id}",
                    "local.attachment_read",
                    str(message_id),
                    {
                        "client": client_id,
                        "sender": sender,
                        "attachment": attachment_id,
                        "bytes": verified.info.plaintext_size,
                    },
                )
            ]
        )
        return await stream_attachment(request, verified, {})
    finally:
        verified.close()


async def _verified(
    store: Store,
    reader: AttachmentReader,
    message_id: uuid.UUID,
    attachment_id: str,
    *,
    kinds: Set[str],
    victim_protected: bool,
) -> tuple[str, VerifiedAttachment]:
    """The sender and verified plaintext of the attachment, from the first inbox row of
    message_id the client may see whose message names it."""
    for found in await store.inbox_by_message(message_id):
        if found.row.kind not in kinds or not visible_to_client(found.handling, victim_protected):
            continue
        opened = await reader.open_message(found.envelope)
        key = opened.key(attachment_id)
        if key is not None:
            return found.row.sender, await reader.verify(found.row.sender, message_id, key)
    raise not_found()


async def stream_attachment(
    request: web.Request,
    verified: VerifiedAttachment,
    headers: dict[str, str],
    *,
    disposition: str = "attachment",
) -> web.StreamResponse:
    """The verified plaintext as the answer: never sniffed, never cached; headers adds to
    (or overrides) these."""
    info = verified.info
    response = web.StreamResponse(
        headers={
            "Content-Type": info.media_type,
            "Content-Disposition": f'{disposition}; filename="{info.file_name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            **headers,
        }
    )
    response.content_length = info.plaintext_size
    await response.prepare(request)
    async for piece in verified.pieces():
        await response.write(piece)
    await response.write_eof()
    return response


def inbox_attachment_list(
    row: InboxRow, links: Sequence[InboxAttachment]
) -> list[dict[str, object]]:
    """An inbox item's attachments (its links from Store.inbox_attachments_by_row, made when
    the receiver verified them), with the media type the download route serves and its URL."""
    listed: list[dict[str, object]] = []
    for linked in links:
        info = info_of(
            envelope.AttachmentKey(
                attachment_id=linked.attachment_id,
                media_type=linked.media_type,
                plaintext_size=linked.plaintext_size,
            )
        )
        listed.append(
            {
                "id": info.attachment_id,
                "media_type": info.media_type,
                "size": info.plaintext_size,
                "url": f"/api/v1/inbox/{row.message_id}/attachments/{info.attachment_id}",
            }
        )
    return listed
