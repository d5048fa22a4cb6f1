"""Four eyes for victim data: compose a handover as a sealed draft, approve it into the outbox.

A victim handover composed in the console is not sent: it is sealed to this node's own key
(gateway/crypto/drafts.py) and stored as a draft awaiting approval. A different user with the
supervisor role opens it, reads it, and approves it; only then is it sealed for the peer and
queued, by the Dispatcher, in the same transaction that marks the draft approved (so a second
or concurrent approval fails and queues nothing). The composer or a supervisor may withdraw
it before that. The draft's metadata (case, kind, recipients, composer) is bound to its
sealed content, so a draft moved to another row in the database does not open.

Files attached to a draft (gateway/console/uploads.py) stay staged under the console's owner
while it awaits approval: the draft's sealed message names their ids, the approver sees each
one's id, type and size (draft_attachments), and approval binds them per recipient like any
upload; the staged copies go once the message is queued.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import DecodeError

from adapters.common.localtime import from_timestamp
from gateway.console.context import ConsoleContext, ConsoleUser
from gateway.console.uploads import CONSOLE_OWNER, AttachedFile, ComposeUploads
from gateway.crypto.drafts import DraftUnreadable, SealedDraft, open_draft, seal_draft
from gateway.federation.outgoing import Queued
from gateway.federation.outgoing_attachments import attachment_refs
from gateway.store.drafts import DraftApproval, DraftRow, NewDraft
from gateway.wire import canonical


@dataclass(frozen=True)
class OpenedDraft:
    row: DraftRow
    message: canonical.Message

    @property
    def planned_at(self) -> datetime | None:
        handover = self.message.victim_handover
        return from_timestamp(handover.planned_at) if handover.HasField("planned_at") else None


def _context(case_id: uuid.UUID, kind: str, recipients: Sequence[str], composed_by: int) -> str:
    return f"{case_id}|{kind}|{','.join(recipients)}|{composed_by}"


async def compose_draft(
    ctx: ConsoleContext,
    message: canonical.Message,
    recipients: Sequence[str],
    user: ConsoleUser,
) -> int:
    """Store message, checked already, as a draft awaiting approval; returns its id."""
    kind = message.WhichOneof("body")
    assert kind is not None, "a checked message has a body"
    case_id = uuid.UUID(message.case_id)
    now = ctx.clock()
    sealed = seal_draft(
        ctx.keyring,
        message.SerializeToString(),
        context=_context(case_id, kind, recipients, user.id),
        at=now,
    )
    return await ctx.store.create_draft(
        NewDraft(
            case_id=case_id,
            kind=kind,
            recipients=tuple(recipients),
            composed_by=user.id,
            composed_at=now,
            key_id=sealed.key_id,
            sealed_message=sealed.data,
        ),
        actor=user.actor,
    )


async def read_draft(ctx: ConsoleContext, draft_id: int) -> OpenedDraft | None:
    """A draft with its message opened; None when there is no such draft.

    DraftUnreadable when it does not open (its key is gone, or the row was tampered with)."""
    found = await ctx.store.draft(draft_id)
    if found is None:
        return None
    row = found.row
    if found.sealed_message is None:
        raise DraftUnreadable("the draft's content was deleted under retention")
    plaintext = open_draft(
        ctx.keyring,
        SealedDraft(found.key_id, found.sealed_message),
        context=_context(row.case_id, row.kind, row.recipients, row.composed_by),
    )
    try:
        message = canonical.Message.FromString(plaintext)
    except DecodeError:
        raise DraftUnreadable("the draft's content does not parse") from None
    return OpenedDraft(row, message)


async def approve_draft(ctx: ConsoleContext, draft: OpenedDraft, user: ConsoleUser) -> list[Queued]:
    """Queue an opened draft for its recipients as approved by user, atomically.

    OwnDraft or DraftNotAwaiting (gateway.store.drafts) when it may not be, and then nothing
    is queued; SubmissionRefused when the Dispatcher refuses it now (a peer removed since)."""
    queued = await ctx.dispatcher.submit(
        draft.message,
        draft.row.recipients,
        actor=user.actor,
        local_client=CONSOLE_OWNER,
        approval=DraftApproval(draft.row.id, user.id, user.actor),
    )
    # Each recipient has its own copy of every file now: the staged ones are done.
    await _uploads(ctx).discard(_attachment_ids(draft.message))
    return queued


async def draft_attachments(ctx: ConsoleContext, draft: OpenedDraft) -> list[AttachedFile]:
    """The files the draft names, as the approver sees them (id, type, size)."""
    return await _uploads(ctx).describe(_attachment_ids(draft.message))


async def withdraw_files(ctx: ConsoleContext, draft: OpenedDraft) -> None:
    """Drop the staged files of a withdrawn draft."""
    await _uploads(ctx).discard(_attachment_ids(draft.message))


def _attachment_ids(message: canonical.Message) -> list[str]:
    return list(dict.fromkeys(value for _, value in attachment_refs(message)))


def _uploads(ctx: ConsoleContext) -> ComposeUploads:
    return ComposeUploads(
        store=ctx.store, keyring=ctx.keyring, max_bytes=ctx.max_attachment_bytes, clock=ctx.clock
    )
