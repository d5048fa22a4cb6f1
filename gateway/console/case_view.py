"""What the case pages show of a message: opened content, who may read it, and its times.

Design notes:
- The database holds sealed envelopes only. An incoming one is opened with reopen_stored,
  our own outbox copy with reopen_sent (the box is shared by both ends). Opening costs a
  signature check and a decryption per message, so it runs on a worker thread in one batch
  per page, and a page opens a bounded number of messages (the store's page limits).
- The action, the handling marking and in_reply_to travel inside the sealed message, so even
  a user who may not read the content gets them from the opened message; what such a user
  sees is decided here (may_read), and the content itself is then not handed to the template.
- "Answered" is derived, not stored: the time of the first later message of the case whose
  in_reply_to names this one.
- Nothing here logs content: an envelope that does not open is logged by message id and
  reason code.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.attachments_read import AttachmentInfo, info_of
from gateway.console.context import ConsoleUser
from gateway.crypto import EnvelopeRejected, Keyring, reopen_sent, reopen_stored
from gateway.ops.logs import fields
from gateway.store.cases import CaseMessage, Direction
from gateway.wire import canonical

log = logging.getLogger(__name__)

# Canonical enum per label group, for coded values held as numbers in the message.
_ENUMS: dict[str, Any] = {
    "action": canonical.Action,
    "handling": canonical.Handling,
    "sex": canonical.Sex,
    "need": canonical.Need,
    "request": canonical.Request,
    "channel": canonical.Channel,
    "category": canonical.Category,
    "urgency": canonical.Urgency,
    "role": canonical.Role,
    "document_type": canonical.DocumentType,
}


def enum_value(group: str, number: int) -> str:
    """The label value of a canonical enum number: its name without the type's prefix, in
    lower case (SEX_FEMALE -> female); "" for the unspecified value or an unknown number."""
    enum = _ENUMS[group]
    prefix = enum.Name(0).removesuffix("UNSPECIFIED")  # SEX_UNSPECIFIED -> SEX_
    try:
        name: str = enum.Name(number)
    except ValueError:
        return ""
    return "" if number == 0 else name.removeprefix(prefix).lower()


def instant(timestamp: Timestamp) -> datetime | None:
    """An aware UTC datetime of a protobuf Timestamp; None when it is not set (zero)."""
    if not timestamp.seconds and not timestamp.nanos:
        return None
    return timestamp.ToDatetime(tzinfo=UTC)


def open_sealed(
    keyring: Keyring, direction: Direction, data: bytes | None
) -> canonical.Message | None:
    """The canonical message of a stored envelope, or None when it does not open (logged by
    reason only) or retention deleted it (data None). Blocking: call through open_many."""
    return open_with_attachments(keyring, direction, data)[0]


def open_with_attachments(
    keyring: Keyring, direction: Direction, data: bytes | None
) -> tuple[canonical.Message | None, tuple[AttachmentInfo, ...]]:
    """open_sealed, with what the payload lists of its attachments (never their keys)."""
    if data is None:
        return None, ()
    try:
        opened = reopen_sent(keyring, data) if direction == "out" else reopen_stored(keyring, data)
        return canonical.Message.FromString(opened.payload.message), tuple(
            info_of(key) for key in opened.payload.attachments
        )
    except EnvelopeRejected as rejected:
        log.warning(
            "stored_envelope_unreadable", extra=fields(direction=direction, reason=rejected.reason)
        )
    except DecodeError:
        log.warning(
            "stored_envelope_unreadable", extra=fields(direction=direction, reason="not_canonical")
        )
    return None, ()


async def open_many(
    keyring: Keyring, envelopes: Sequence[tuple[Direction, bytes | None]]
) -> list[canonical.Message | None]:
    """open_sealed for each, on a worker thread (never on the event loop)."""

    def work() -> list[canonical.Message | None]:
        return [open_sealed(keyring, direction, data) for direction, data in envelopes]

    return await asyncio.get_running_loop().run_in_executor(None, work)


async def open_thread(
    keyring: Keyring, envelopes: Sequence[tuple[Direction, bytes | None]]
) -> list[tuple[canonical.Message | None, tuple[AttachmentInfo, ...]]]:
    """open_with_attachments for each, on a worker thread: a case page's messages."""

    def work() -> list[tuple[canonical.Message | None, tuple[AttachmentInfo, ...]]]:
        return [open_with_attachments(keyring, direction, data) for direction, data in envelopes]

    return await asyncio.get_running_loop().run_in_executor(None, work)


def marking(stored: str | None, message: canonical.Message | None) -> str:
    """A received or sent message's handling marking: the stored one, else the opened
    message's, else the strictest (unknown)."""
    if stored is not None:
        return stored
    if message is not None:
        return enum_value("handling", message.handling) or "victim_protected"
    return "victim_protected"


def action_of(message: canonical.Message | None) -> str:
    return "" if message is None else enum_value("action", message.action)


def holds_victims(message: canonical.Message) -> bool:
    """Whether the content names victims, whatever its marking says."""
    body = message.WhichOneof("body")
    if body == "victim_handover":
        return True
    if body == "hotline_alert":
        return any(p.role == canonical.ROLE_VICTIM for p in message.hotline_alert.persons)
    return False


def may_read(user: ConsoleUser, handling: str, message: canonical.Message | None) -> bool:
    """Content readers read everything; the others only normal content that names no
    victim (an operator never sees victim data, even if a sender marked it normal)."""
    if message is None:
        return False
    if user.reads_content:
        return True
    return handling == "normal" and not holds_victims(message)


@dataclass(frozen=True)
class MessageView:
    """One message of a case page, as the template shows it."""

    direction: Direction
    message_id: uuid.UUID
    peer: str
    kind: str
    action: str
    handling: str
    state: str
    queued_at: datetime
    receipt_at: datetime | None
    received_at: datetime | None
    answered_at: datetime | None
    in_reply_to: str
    # The opened content when the user may read it; None otherwise.
    content: canonical.Message | None
    withheld: bool
    unreadable: bool
    # Retention deleted the content; the metadata above is all there is.
    content_deleted: bool = False
    # A received message's attachments, when the user may read its content.
    attachments: tuple[AttachmentInfo, ...] = ()

    @property
    def at(self) -> datetime:
        """When this node sent or got it: the order of the thread."""
        return self.received_at or self.queued_at


def message_views(
    user: ConsoleUser,
    rows: Sequence[CaseMessage],
    opened: Sequence[canonical.Message | None],
    attachments: Sequence[tuple[AttachmentInfo, ...]] | None = None,
) -> list[MessageView]:
    """The thread as the user may see it, with answered times (and received attachments
    listed to those who may read the content, when given)."""
    views: list[MessageView] = []
    listed = attachments if attachments is not None else [()] * len(rows)
    for row, message, infos in zip(rows, opened, listed, strict=True):
        handling = marking(row.handling, message)
        readable = may_read(user, handling, message)
        views.append(
            MessageView(
                direction=row.direction,
                message_id=row.message_id,
                peer=row.peer,
                kind=row.kind,
                action=action_of(message),
                handling=handling,
                state=row.state,
                queued_at=row.queued_at,
                receipt_at=row.receipt_at,
                received_at=row.received_at,
                answered_at=None,
                in_reply_to="" if message is None else message.in_reply_to,
                content=message if readable else None,
                withheld=message is not None and not readable,
                unreadable=message is None and row.envelope is not None,
                content_deleted=row.envelope is None,
                attachments=infos if readable and row.direction == "in" else (),
            )
        )
    answered: dict[str, datetime] = {}
    earlier: set[str] = set()
    for view in views:
        if view.in_reply_to in earlier and view.in_reply_to not in answered:
            answered[view.in_reply_to] = view.at
        earlier.add(str(view.message_id))
    return [replace(view, answered_at=answered.get(str(view.message_id))) for view in views]
