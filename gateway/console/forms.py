"""Console forms to canonical messages and back: pure functions, no I/O.

A posted form (field names fixed by the console contract) becomes a canonical blg.v1.Message,
the same model every other door of the gateway produces, with errors keyed by field name;
then `checked()` puts it through the Dispatcher's own checks (identifiers, kinds, actions,
peers, size), so the console cannot send what the API would refuse, and maps a refusal back
to the form field it concerns. The reverse direction (`*_to_form`) refills a form from a
message, and is how the tests prove that no field is lost on the way.

Choices made here:
- A handover proposal is always HANDLING_VICTIM_PROTECTED (it names victims), and so is an
  answer to one: both partner formats default handovers to that marking.
- Every message needs a sender reference (both partner formats require one); the console
  makes one up (`new_reference`) unless the officer typed the notice's own number.
- Empty slots (victims, children, escorts, persons) are ignored; a slot with anything typed
  in it must be complete.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from multidict import MultiDict

from adapters.common.localtime import to_timestamp
from gateway.console.form_fields import (
    BORDER_GATES,
    LOCAL_ZONE,
    LONG_CHARS,
    MSG_NAME,
    NEEDS,
    Form,
    FormReader,
    code_of,
    local_input,
    person_fields,
    slots_used,
)
from gateway.console.i18n import N_
from gateway.federation.outgoing import Dispatcher, SubmissionRefused
from gateway.wire import canonical

MAX_VICTIMS = 20
MAX_CHILDREN = 10
MAX_ESCORTS = 10

ANSWER_ACTIONS: dict[str, canonical.Action.ValueType] = {
    "accept": canonical.ACTION_ACCEPT,
    "counter_propose": canonical.ACTION_COUNTER_PROPOSE,
    "reject": canonical.ACTION_REJECT,
    "complete": canonical.ACTION_COMPLETE,
}

MSG_TO = N_("Choose the agency to send to")
MSG_GATE = N_("Choose the border gate")
MSG_PLANNED = N_("Enter the planned date and time of the handover (local time, UTC+7)")
MSG_NO_VICTIM = N_("Enter at least one victim")
MSG_ESCORT_NAME = N_("Enter the escorting officer's name")
MSG_ACTION = N_("Choose what to answer")
MSG_REASON = N_("Enter the reason for rejecting the handover")
MSG_PEER_UNKNOWN = N_("Choose an agency from the list")
MSG_KIND_REFUSED = N_("This agency does not receive this kind of message")
MSG_ONWARD = N_(
    "This message carries another agency's restricted or victim-protected case: it may go "
    "only back to that agency"
)
MSG_TOO_LARGE = N_("The message is too large to send: shorten the texts or name fewer people")
MSG_REFERENCE = N_("Enter the reference in visible characters, at most 128, on one line")
MSG_CASE = N_("The case or the answered message is not valid: open the case again")
MSG_INVALID = N_("The message cannot be sent as it is: check the fields")
MSG_NO_KEY = N_(
    "No key of this agency is valid now, so nothing can be sealed for it: ask the operator"
)

# SubmissionRefused.field -> the form field its error is shown beside ("form": at the top).
_REFUSAL_FIELDS = {
    "to": "to",
    "action": "action",
    "sender_reference": "sender_reference",
    "hotline_alert.call_id": "call_id",
    "in_reply_to": "form",
    "case_id": "form",
    "body": "form",
}
_REFUSAL_MESSAGES = {
    "no_route": MSG_TO,
    "no_recipient": MSG_TO,
    "unknown_peer": MSG_PEER_UNKNOWN,
    "kind_not_allowed": MSG_KIND_REFUSED,
    "message_too_large": MSG_TOO_LARGE,
    "onward_not_allowed": MSG_ONWARD,
}


@dataclass
class Composed:
    """A form read into a message; errors (field -> msgid) empty when it may be sent."""

    message: canonical.Message
    recipients: tuple[str, ...]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def new_reference(now: datetime, token: str | None = None) -> str:
    """A sender reference for a console message: local date and a random part, unique
    enough per kind (both partner formats require a reference on every message)."""
    part = token if token is not None else secrets.token_hex(4).upper()
    return f"BLO-{now.astimezone(LOCAL_ZONE):%Y%m%d}-{part}"


def refusal_error(refused: SubmissionRefused) -> tuple[str, str]:
    """The form field and msgid for a Dispatcher refusal (its own text is never shown: it is
    English, and for an identifier it describes a value the officer typed)."""
    name = _REFUSAL_FIELDS.get(refused.field, "form")
    if refused.code in _REFUSAL_MESSAGES:
        return name, _REFUSAL_MESSAGES[refused.code]
    if name in {"sender_reference", "call_id"}:
        return name, MSG_REFERENCE
    if name == "form" and refused.field in {"in_reply_to", "case_id"}:
        return name, MSG_CASE
    if name == "action":
        return name, MSG_ACTION
    return name, MSG_INVALID


def checked(composed: Composed, dispatcher: Dispatcher) -> Composed:
    """composed after the Dispatcher's checks (which normalise identifiers in place)."""
    if not composed.ok:
        return composed
    try:
        dispatcher.check(composed.message, composed.recipients)
    except SubmissionRefused as refused:
        name, msgid = refusal_error(refused)
        composed.errors[name] = msgid
    return composed


def read_recipients(reader: FormReader) -> tuple[str, ...]:
    chosen = tuple(
        dict.fromkeys(value.strip() for value in reader.form.getall("to", []) if value.strip())
    )
    if not chosen:
        reader.fail("to", MSG_TO)
    return chosen


# --- victim handover proposal -------------------------------------------------------------


def handover_from_form(
    form: Form,
    *,
    now: datetime,
    case_id: uuid.UUID,
    reference: str,
    attachments: Mapping[str, Sequence[str]] | None = None,
) -> Composed:
    """A handover proposal (victim-protected) for a new case.

    attachments: staged file ids by field (gateway/console/uploads.py): `documents` (scans
    of the handover) and `victims-N-photos` (photos of the victim in slot N)."""
    files = attachments or {}
    reader = FormReader(form, now=now)
    message = canonical.Message(
        case_id=str(case_id),
        sender_reference=reference,
        action=canonical.ACTION_PROPOSE,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
    )
    message.issued_at.CopyFrom(to_timestamp(now))
    recipients = read_recipients(reader)
    handover = message.victim_handover
    handover.border_gate = reader.code("border_gate", BORDER_GATES, required=MSG_GATE)
    planned = reader.local_time("planned_at", required=MSG_PLANNED, future=True)
    if planned is not None:
        handover.planned_at.CopyFrom(planned)
    handover.note = reader.text("note", max_chars=LONG_CHARS, multiline=True)
    handover.attachment_ids.extend(files.get("documents", ()))
    photo_slots = {i for i in slots_used(files, "victims-") if i < MAX_VICTIMS}
    for index in sorted(set(reader.indexes("victims-", MAX_VICTIMS)) | photo_slots):
        prefix = f"victims-{index}-"
        victim = canonical.Victim()
        filled = reader.person(prefix, victim.person)
        victim.person.attachment_ids.extend(files.get(f"{prefix}photos", ()))
        victim.minor = reader.flag(f"{prefix}minor")
        victim.needs.extend(reader.choices(f"{prefix}needs", NEEDS))
        for child_index in reader.indexes(f"{prefix}child-", MAX_CHILDREN):
            child = canonical.Person()
            if reader.person(f"{prefix}child-{child_index}-", child):
                victim.accompanying_children.append(child)
        if (
            filled
            or victim.minor
            or victim.needs
            or victim.accompanying_children
            or victim.person.attachment_ids
        ):
            if not filled:
                reader.fail(f"{prefix}name", MSG_NAME)
            handover.victims.append(victim)
    if not handover.victims:
        reader.fail("victims", MSG_NO_VICTIM)
    for index in reader.indexes("escort-", MAX_ESCORTS):
        prefix = f"escort-{index}-"
        if not reader.present(*(f"{prefix}{s}" for s in ("name", "rank", "unit", "phone"))):
            continue
        handover.escort.add(
            name=reader.text(f"{prefix}name", required=MSG_ESCORT_NAME),
            rank=reader.text(f"{prefix}rank"),
            unit=reader.text(f"{prefix}unit"),
            phone=reader.phone(f"{prefix}phone"),
        )
    return Composed(message, recipients, reader.errors)


def handover_to_form(message: canonical.Message, recipients: Sequence[str]) -> MultiDict[str]:
    """The form fields that show a handover proposal again."""
    handover = message.victim_handover
    fields: list[tuple[str, str]] = [("to", peer) for peer in recipients]
    fields.append(("border_gate", handover.border_gate))
    if handover.HasField("planned_at"):
        fields.append(("planned_at", local_input(handover.planned_at)))
    fields.append(("note", handover.note))
    for index, victim in enumerate(handover.victims):
        prefix = f"victims-{index}-"
        fields += person_fields(prefix, victim.person)
        if victim.minor:
            fields.append((f"{prefix}minor", "on"))
        fields += [(f"{prefix}needs", code_of(NEEDS, need)) for need in victim.needs]
        for child_index, child in enumerate(victim.accompanying_children):
            fields += person_fields(f"{prefix}child-{child_index}-", child)
    for index, escort in enumerate(handover.escort):
        prefix = f"escort-{index}-"
        fields += [
            (f"{prefix}name", escort.name),
            (f"{prefix}rank", escort.rank),
            (f"{prefix}unit", escort.unit),
            (f"{prefix}phone", escort.phone),
        ]
    return MultiDict(fields)


# --- answer to a handover -----------------------------------------------------------------


def answer_from_form(
    form: Form,
    *,
    now: datetime,
    answered: canonical.Message,
    answered_id: uuid.UUID,
    case_id: uuid.UUID,
    sender: str,
    reference: str,
) -> Composed:
    """An answer (accept, counter-proposal, rejection, completion) to the handover message
    answered, for its sender: no victims, the gate and time of the answered message unless
    the form changes them, case_id and in_reply_to set so that it joins the case."""
    reader = FormReader(form, now=now)
    action_code = reader.raw("action")
    action = ANSWER_ACTIONS.get(action_code, canonical.ACTION_UNSPECIFIED)
    if not action:
        reader.fail("action", MSG_ACTION)
    message = canonical.Message(
        case_id=str(case_id),
        sender_reference=reference,
        action=action,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        in_reply_to=str(answered_id),
    )
    message.issued_at.CopyFrom(to_timestamp(now))
    handover = message.victim_handover
    proposed = answered.victim_handover
    handover.border_gate = (
        reader.code("border_gate", BORDER_GATES) if reader.raw("border_gate") else ""
    ) or proposed.border_gate
    countering = action == canonical.ACTION_COUNTER_PROPOSE
    planned = reader.local_time(
        "planned_at",
        required=MSG_PLANNED if countering else None,
        future=True if countering else None,
    )
    if planned is not None:
        handover.planned_at.CopyFrom(planned)
    elif proposed.HasField("planned_at"):
        handover.planned_at.CopyFrom(proposed.planned_at)
    handover.note = reader.text(
        "reason",
        required=MSG_REASON if action == canonical.ACTION_REJECT else None,
        max_chars=LONG_CHARS,
        multiline=True,
    )
    return Composed(message, (sender,), reader.errors)


__all__ = [
    "ANSWER_ACTIONS",
    "Composed",
    "answer_from_form",
    "checked",
    "handover_from_form",
    "handover_to_form",
    "new_reference",
    "read_recipients",
    "refusal_error",
]
