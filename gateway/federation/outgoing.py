"""Submitting a canonical message: check, seal per recipient, queue, in one transaction.

Every way into the gateway (the local API, the CLI, a drop folder, the console) ends here,
so that what may be sent to whom is decided in one place. A message for several peers is
sealed once per peer under its own message id, and all of them are queued atomically: either
every recipient will get it or none will, and the caller hears which ids to follow.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config.acknowledgements import AcknowledgementRule
from gateway.crypto import EnvelopeLimits, Keyring, seal, sealed_length
from gateway.federation.acknowledgements import deadline_for
from gateway.federation.outgoing_attachments import (
    AttachmentBinder,
    AttachmentUnreadable,
    UnknownAttachment,
    attachment_refs,
)
from gateway.ops.logs import fields
from gateway.policy import RoutePolicy
from gateway.policy.identifiers import IdentifierInvalid, normalise_identifiers
from gateway.store import AuditEntry, DroppedFile, OutgoingEnvelope, Store
from gateway.store.binding import StagedAttachment
from gateway.store.drafts import DraftApproval
from gateway.wire import Kind, canonical, envelope, uuid7

_NOTICE_ACTIONS = frozenset(
    {canonical.ACTION_ISSUE, canonical.ACTION_UPDATE, canonical.ACTION_CANCEL}
)
ALLOWED_ACTIONS: dict[Kind, frozenset[int]] = {
    Kind.WANTED_PERSON_NOTICE: _NOTICE_ACTIONS,
    Kind.HOTLINE_ALERT: _NOTICE_ACTIONS,
    Kind.VICTIM_HANDOVER: frozenset(
        {
            canonical.ACTION_PROPOSE,
            canonical.ACTION_ACCEPT,
            canonical.ACTION_COUNTER_PROPOSE,
            canonical.ACTION_REJECT,
            canonical.ACTION_COMPLETE,
            canonical.ACTION_UPDATE,
            canonical.ACTION_CANCEL,
        }
    ),
}

# Markings under which a message received from one peer may go on to another. Only normal:
# restricted ("liaison officers only") and victim_protected are the originating agency's
# decision about who sees the content, which this node cannot widen; an unknown marking (None:
# unspecified by the sender, or newer than this node) counts as the strictest.
ONWARD_MARKINGS = frozenset({"normal"})

log = logging.getLogger(__name__)


class SubmissionRefused(Exception):  # noqa: N818 - a verdict on the caller's input
    """The message cannot be sent as asked; code is machine-readable, field names the spot."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Queued:
    """One queued copy of a submitted message, and what policy removed from that copy."""

    message_id: uuid.UUID
    recipient: str
    case_id: uuid.UUID
    redacted: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Prepared:
    items: list[OutgoingEnvelope]
    audit: list[AuditEntry]
    queued: list[Queued]


class Dispatcher:
    """Seals and queues messages for peers."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: Store,
        sendable_kinds: Mapping[str, frozenset[str]],
        policy: RoutePolicy,
        message_ttl: timedelta,
        clock: Callable[[], datetime],
        max_envelope_bytes: int = EnvelopeLimits.max_envelope_bytes,
        attachments: AttachmentBinder | None = None,
        acknowledgements: Sequence[AcknowledgementRule] = (),
    ) -> None:
        self._keyring = keyring
        # Binds uploaded attachments to each recipient's copy; None: a message naming any is
        # refused (attachment_unknown), as no upload can exist.
        self._attachments = attachments
        # Which messages need a person's acknowledgement at the peer, within how long: the
        # deadline is fixed here, at queueing (gateway.federation.acknowledgements).
        self._acknowledgements = tuple(acknowledgements)
        self._max_envelope_bytes = max_envelope_bytes
        self._store = store
        self._sendable = sendable_kinds
        self._policy = policy
        self._ttl = message_ttl
        self._clock = clock

    def sendable_to(self, kind: Kind) -> tuple[str, ...]:
        """The peers this node may send kind to (configuration order), e.g. for a form's list
        of recipients."""
        return tuple(peer for peer, kinds in self._sendable.items() if kind.value in kinds)

    def recipients(self, message: canonical.Message, requested: Sequence[str]) -> tuple[str, ...]:
        """The peers asked for, or those the routing rules choose; refused when none."""
        chosen = tuple(dict.fromkeys(requested)) or self._policy.route(message)
        if not chosen:
            raise SubmissionRefused(
                "no_route",
                "to",
                "expected recipients: none were given and no routing rule matches this "
                "message's kind and province",
            )
        return chosen

    def normalise(self, message: canonical.Message) -> None:
        """Identifiers rewritten in place to the form they are indexed in (see
        gateway.policy.identifiers), or SubmissionRefused naming the field."""
        try:
            normalise_identifiers(message)
        except IdentifierInvalid as invalid:
            raise SubmissionRefused("invalid_field", invalid.field, invalid.expected) from None

    def check(self, message: canonical.Message, recipients: Sequence[str]) -> Kind:
        """Refuse what cannot be sent, before anything is written; returns the kind.

        Normalises the message's identifiers first (in place)."""
        self.normalise(message)
        kind = self._check_route(message, recipients)
        for recipient in recipients:
            self._check_size(message, kind, recipient)
        return kind

    def _check_route(self, message: canonical.Message, recipients: Sequence[str]) -> Kind:
        """check() without normalising and without the size: what submit checks before it
        seals (the size it checks on the sealed envelope itself, see _prepare)."""
        body = message.WhichOneof("body")
        if body is None:
            raise SubmissionRefused(
                "missing_body",
                "body",
                "expected one of wanted_person_notice, victim_handover, hotline_alert",
            )
        kind = Kind(body)
        if message.action not in ALLOWED_ACTIONS[kind]:
            allowed = sorted(canonical.Action.Name(a) for a in ALLOWED_ACTIONS[kind])  # type: ignore[arg-type]
            raise SubmissionRefused(
                "invalid_field", "action", f"expected for {kind.value} one of {', '.join(allowed)}"
            )
        if not recipients:
            raise SubmissionRefused("no_recipient", "to", "expected at least one peer")
        for recipient in recipients:
            if recipient not in self._sendable:
                raise SubmissionRefused(
                    "unknown_peer", "to", f"{recipient!r} is not a peer of this node"
                )
            if kind.value not in self._sendable[recipient]:
                raise SubmissionRefused(
                    "kind_not_allowed", "to", f"{kind.value} may not be sent to {recipient}"
                )
        return kind

    def _check_size(self, message: canonical.Message, kind: Kind, recipient: str) -> None:
        """Refuse now what the peer would refuse as envelope_too_large after we queued it.

        The limit is this node's limits.max_envelope_bytes, which is also what it accepts
        from peers: the federation shares one envelope limit (1 MiB by default)."""
        copy = self._policy.apply(message, recipient).message
        if not copy.case_id:
            copy.case_id = str(uuid.UUID(int=0))  # as long as the id _prepare will give it
        plaintext = envelope.SealedPayload(message=copy.SerializeToString()).ByteSize()
        now = self._clock()
        try:
            length = sealed_length(
                self._keyring,
                recipient=recipient,
                kind=kind,
                case_id=uuid.UUID(copy.case_id),
                created_at=now,
                expires_at=now + self._ttl,
                plaintext_length=plaintext,
            )
        except ValueError:
            return  # no usable key: seal() reports it, as it always has
        self._refuse_too_large(recipient, length)

    def _refuse_too_large(self, recipient: str, length: int) -> None:
        if length > self._max_envelope_bytes:
            raise SubmissionRefused(
                "message_too_large",
                "body",
                f"the sealed message for {recipient} would be {length} bytes; "
                f"at most {self._max_envelope_bytes} may be sent (limits.max_envelope_bytes)",
            )

    async def submit(
        self,
        message: canonical.Message,
        recipients: Sequence[str] = (),
        *,
        actor: str,
        local_client: str | None = None,
        approval: DraftApproval | None = None,
    ) -> list[Queued]:
        """Queue message for each recipient (or the routed ones); a new case gets an id here.

        approval: a console draft approved in the same transaction (see Store.enqueue);
        DraftNotAwaiting or OwnDraft from gateway.store.drafts when it cannot be, and then
        nothing is queued."""
        self.normalise(message)
        await self._link_case(message)
        await self.check_onward(message, self.recipients(message, recipients), actor)
        staged = await self.check_attachments(message, local_client)
        prepared = await self._prepare(message, recipients, actor, local_client, staged)
        await self._store.enqueue(prepared.items, prepared.audit, approval=approval)
        _log_queued(prepared.queued, message.WhichOneof("body"), actor)
        return prepared.queued

    async def submit_all(
        self,
        messages: Sequence[canonical.Message],
        recipients: Sequence[str] = (),
        *,
        actor: str,
        local_client: str | None = None,
        dropped_file: DroppedFile | None = None,
    ) -> list[Queued]:
        """Queue several messages in one transaction: all of them or, on any refusal, none.

        dropped_file is recorded in that transaction (see Store.enqueue)."""
        items: list[OutgoingEnvelope] = []
        audit: list[AuditEntry] = []
        queued: list[Queued] = []
        kinds: list[str | None] = []
        uploads: list[dict[str, StagedAttachment]] = []
        for message in messages:
            self.normalise(message)
            await self._link_case(message)
            await self.check_onward(message, self.recipients(message, recipients), actor)
            # Every message's attachments are checked before any is re-encrypted.
            uploads.append(await self.check_attachments(message, local_client))
        for message, staged in zip(messages, uploads, strict=True):
            prepared = await self._prepare(message, recipients, actor, local_client, staged)
            items += prepared.items
            audit += prepared.audit
            queued += prepared.queued
            kinds += [message.WhichOneof("body")] * len(prepared.queued)
        await self._store.enqueue(items, audit, dropped_file=dropped_file)
        for item, kind in zip(queued, kinds, strict=True):
            _log_queued([item], kind, actor)
        return queued

    async def _link_case(self, message: canonical.Message) -> None:
        """A message with no case id joins the case of the message it answers (in_reply_to,
        sent or received here), else the case its own reference opened: a local system's
        answer, or its update or cancellation of a notice (same so_hieu / ref), needs no id
        of ours to stay in the case."""
        body = message.WhichOneof("body")
        if message.case_id or body is None:
            return
        if message.in_reply_to:
            try:
                answered = uuid.UUID(message.in_reply_to)
            except ValueError:
                answered = None
            found = None if answered is None else await self._store.case_of_message(answered)
            if found is not None:
                message.case_id = str(found)
                return
        if not message.sender_reference:
            return
        found = await self._store.case_for_reference(body, message.sender_reference)
        if found is not None:
            message.case_id = str(found)

    async def check_links(
        self, message: canonical.Message, recipients: Sequence[str], actor: str
    ) -> None:
        """check_onward for a message not submitted yet: links it to its case first (as
        submit will), so that a caller judging records one by one (a drop folder) can refuse
        one record rather than the whole file."""
        await self._link_case(message)
        await self.check_onward(message, recipients, actor)

    async def check_onward(
        self, message: canonical.Message, recipients: Sequence[str], actor: str
    ) -> None:
        """Refuse (and audit) sending to a peer content that came from another peer whose
        marking does not allow onward sharing (ONWARD_MARKINGS).

        What the message may carry from peers is judged by its links, after _link_case: the
        messages received in its case from the peer that opened the case here, and the
        received message it answers. The message's own marking does not loosen that (an
        officer cannot mark a reply normal to pass it on), nor tighten it: content of a case
        this node opened is its own to share. Sending back to the peer it came from is
        always allowed."""
        case_id = _uuid_or_none(message.case_id)
        answered = _uuid_or_none(message.in_reply_to)
        markings = await self._store.received_markings(case_id, answered)
        for recipient in recipients:
            for marking in markings:
                if marking.sender == recipient or marking.handling in ONWARD_MARKINGS:
                    continue
                handling = marking.handling or "unknown"
                # Ids and markings only: the refused content is not recorded.
                await self._store.audit(
                    [
                        AuditEntry(
                            actor,
                            "outbox.onward_refused",
                            str(case_id or answered),
                            {
                                "peer": recipient,
                                "origin": marking.sender,
                                "handling": handling,
                                "via": marking.via,
                            },
                        )
                    ]
                )
                log.info(
                    "onward_refused",
                    extra=fields(peer=recipient, origin=marking.sender, actor=actor),
                )
                raise SubmissionRefused(
                    "onward_not_allowed",
                    "to",
                    f"{recipient} may not receive this message: its "
                    f"{'case' if marking.via == 'case' else 'in_reply_to message'} came from "
                    f"{marking.sender} marked {handling}, which does not allow onward sharing",
                )

    async def check_attachments(
        self, message: canonical.Message, local_client: str | None
    ) -> dict[str, StagedAttachment]:
        """The uploads the message names (by id, in attachment_ids fields), each a complete
        upload of local_client; else SubmissionRefused attachment_unknown naming the field."""
        if self._attachments is None:
            checked: dict[str, StagedAttachment] | UnknownAttachment = {}
            refs = attachment_refs(message)
            if refs:
                checked = UnknownAttachment(*refs[0])
        else:
            checked = await self._attachments.check(message, local_client)
        if isinstance(checked, UnknownAttachment):
            raise SubmissionRefused(
                "attachment_unknown",
                checked.field,
                "expected the id of an attachment this client uploaded whole "
                "(PUT /api/v1/attachments/{id})",
            )
        return checked

    async def _prepare(
        self,
        message: canonical.Message,
        requested: Sequence[str],
        actor: str,
        local_client: str | None,
        staged: dict[str, StagedAttachment],
    ) -> _Prepared:
        # The caller normalised the message; its size is checked on each sealed envelope
        # below, before anything is written (the policy applied and the message sealed once).
        recipients = self.recipients(message, requested)
        kind = self._check_route(message, recipients)
        if not message.case_id:
            message.case_id = str(uuid.uuid4())
        case_id = uuid.UUID(message.case_id)
        now = self._clock()
        handling = canonical.Handling.Name(message.handling).removeprefix("HANDLING_").lower()
        within = deadline_for(self._acknowledgements, message)
        prepared = _Prepared([], [], [])
        for recipient in recipients:
            copy = self._policy.apply(message, recipient)
            bound = None
            if staged and self._attachments is not None:
                try:
                    bound = await self._attachments.bind(
                        copy.message,
                        recipient=recipient,
                        client=local_client,
                        staged=staged,
                        now=now,
                    )
                except AttachmentUnreadable as unreadable:
                    raise SubmissionRefused(
                        "attachment_unknown",
                        "attachment_ids",
                        f"{unreadable.attachment_id}: its key no longer opens; upload it again",
                    ) from None
            payload = envelope.SealedPayload(
                message=copy.message.SerializeToString(),
                attachments=bound.keys if bound else [],
            )
            message_id = uuid7()
            sealed = seal(
                self._keyring,
                recipient=recipient,
                kind=kind,
                case_id=case_id,
                message_id=message_id,
                payload=payload,
                created_at=now,
                expires_at=now + self._ttl,
            )
            self._refuse_too_large(recipient, len(sealed.data))
            prepared.items.append(
                OutgoingEnvelope(
                    message_id=message_id,
                    recipient=recipient,
                    case_id=case_id,
                    kind=kind.value,
                    handling=handling,
                    envelope=sealed.data,
                    envelope_sha256=sealed.sha256,
                    expires_at=sealed.header.expires_at,
                    sender_reference=message.sender_reference,
                    local_client=local_client,
                    attachments=bound.links if bound else (),
                    acknowledge_due=None if within is None else now + within,
                )
            )
            detail: dict[str, str | int | bool | None] = {
                "peer": recipient,
                "kind": kind.value,
                "case": str(case_id),
            }
            if within is not None:
                detail["acknowledge_within_s"] = int(within.total_seconds())
            if copy.removed:
                detail["redacted"] = ",".join(copy.removed)
            prepared.audit.append(AuditEntry(actor, "outbox.queued", str(message_id), detail))
            prepared.queued.append(Queued(message_id, recipient, case_id, copy.removed))
        return prepared


def _uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None  # refused elsewhere, or not one of ours: nothing received links to it


def _log_queued(queued: Sequence[Queued], kind: str | None, actor: str) -> None:
    for item in queued:
        log.info(
            "message_queued",
            extra=fields(
                message_id=item.message_id,
                peer=item.recipient,
                kind=kind,
                actor=actor,
                case=str(item.case_id),
                redacted=len(item.redacted) or None,
            ),
        )
