"""Wanted-person notice and hotline alert forms to canonical messages and back (pure).

The same rules as gateway/console/forms.py. An update or a cancellation belongs to the case
of the notice it changes: the form carries that case's id (hidden, when opened from the case
page) or the notice's own reference, which the Dispatcher links to its case, as it does for
a local system's update. An alert's caller stays in Vietnam: route policy removes it from any
copy for a peer outside Vietnam, whatever the form says.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from multidict import MultiDict

from adapters.common.localtime import to_timestamp
from gateway.console.form_fields import (
    COUNTRIES,
    HANDLINGS,
    LONG_CHARS,
    MSG_NAME,
    PROVINCES,
    Form,
    FormReader,
    code_of,
    date_input,
    local_input,
    person_fields,
)
from gateway.console.forms import MSG_CASE, Composed, read_recipients
from gateway.console.i18n import N_
from gateway.wire import canonical

MAX_PERSONS = 20

NOTICE_ACTIONS: dict[str, canonical.Action.ValueType] = {
    "issue": canonical.ACTION_ISSUE,
    "update": canonical.ACTION_UPDATE,
    "cancel": canonical.ACTION_CANCEL,
}
REQUESTS: dict[str, canonical.Request.ValueType] = {
    "arrest": canonical.REQUEST_ARREST,
    "locate": canonical.REQUEST_LOCATE,
    "inform": canonical.REQUEST_INFORM,
}
DOCUMENT_TYPES: dict[str, canonical.DocumentType.ValueType] = {
    "vn_citizen_id": canonical.DOCUMENT_TYPE_VN_CITIZEN_ID,
    "kh_national_id": canonical.DOCUMENT_TYPE_KH_NATIONAL_ID,
    "passport": canonical.DOCUMENT_TYPE_PASSPORT,
    "other": canonical.DOCUMENT_TYPE_OTHER,
}
LEGAL_BASES = ("VN-PC2015-150", "VN-PC2015-151", "KH-LSHTSE2008")
CHANNELS: dict[str, canonical.Channel.ValueType] = {
    "phone": canonical.CHANNEL_PHONE,
    "zalo": canonical.CHANNEL_ZALO,
    "facebook": canonical.CHANNEL_FACEBOOK,
    "messaging": canonical.CHANNEL_MESSAGING,
    "walk_in": canonical.CHANNEL_WALK_IN,
}
CATEGORIES: dict[str, canonical.Category.ValueType] = {
    "suspected_trafficking": canonical.CATEGORY_SUSPECTED_TRAFFICKING,
    "missing": canonical.CATEGORY_MISSING,
    "rescue": canonical.CATEGORY_RESCUE,
    "information": canonical.CATEGORY_INFORMATION,
}
URGENCIES: dict[str, canonical.Urgency.ValueType] = {
    "critical": canonical.URGENCY_CRITICAL,
    "high": canonical.URGENCY_HIGH,
    "normal": canonical.URGENCY_NORMAL,
}
ROLES: dict[str, canonical.Role.ValueType] = {
    "victim": canonical.ROLE_VICTIM,
    "suspect": canonical.ROLE_SUSPECT,
}
# Digits a document type must have; passports and others are letters and digits.
_DOCUMENT_PATTERNS: dict[int, re.Pattern[str]] = {
    canonical.DOCUMENT_TYPE_VN_CITIZEN_ID: re.compile(r"^[0-9]{12}$"),
    canonical.DOCUMENT_TYPE_KH_NATIONAL_ID: re.compile(r"^[0-9]{9}$"),
}
_DOCUMENT_NUMBER = re.compile(r"^[0-9A-Z]{4,20}$")
_DOCUMENT_COUNTRY: dict[int, str] = {
    canonical.DOCUMENT_TYPE_VN_CITIZEN_ID: "VN",
    canonical.DOCUMENT_TYPE_KH_NATIONAL_ID: "KH",
}

MSG_ACTION = N_("Choose issue, update or cancel")
MSG_REFERENCE_NEEDED = N_("Enter the reference of the notice this message changes")
MSG_REQUEST = N_("Choose what the receiving agency is asked to do")
MSG_DOCUMENT_TYPE = N_("Choose the type of the identity document")
MSG_DOCUMENT_NUMBER = N_(
    "Enter the document number: 12 digits for a Vietnamese citizen ID, 9 for a Cambodian "
    "ID, otherwise 4 to 20 letters and digits"
)
MSG_RECEIVED = N_("Enter when the call was received (local time, UTC+7)")
MSG_CATEGORY = N_("Choose what the call is about")
MSG_URGENCY = N_("Choose how urgent it is")
MSG_SUMMARY = N_("Enter what the caller said")
MSG_ROLE = N_("Choose victim or suspect")


def _case_and_reference(
    reader: FormReader, message: canonical.Message, reference: str, *, changes: bool
) -> None:
    """case_id (hidden field) and sender_reference; an update or cancel needs one of them."""
    case_text = reader.raw("case_id")
    if case_text:
        try:
            message.case_id = str(uuid.UUID(case_text))
        except ValueError:
            reader.fail("form", MSG_CASE)
    typed = reader.text("sender_reference", max_chars=128)
    if changes and not typed and not message.case_id:
        reader.fail("sender_reference", MSG_REFERENCE_NEEDED)
    message.sender_reference = typed or reference


def _read_common(
    form: Form, *, now: datetime, reference: str
) -> tuple[FormReader, canonical.Message, tuple[str, ...]]:
    """The fields a notice and an alert share: recipients, action, case and reference,
    handling (restricted unless chosen otherwise)."""
    reader = FormReader(form, now=now)
    message = canonical.Message()
    message.issued_at.CopyFrom(to_timestamp(now))
    recipients = read_recipients(reader)
    message.action = reader.choice("action", NOTICE_ACTIONS, required=MSG_ACTION)
    _case_and_reference(
        reader, message, reference, changes=message.action != canonical.ACTION_ISSUE
    )
    message.handling = reader.choice("handling", HANDLINGS) or canonical.HANDLING_RESTRICTED
    return reader, message, recipients


def _common_fields(message: canonical.Message, recipients: Sequence[str]) -> list[tuple[str, str]]:
    """The form fields that refill what _read_common reads."""
    return [
        *(("to", peer) for peer in recipients),
        ("action", code_of(NOTICE_ACTIONS, message.action)),
        ("case_id", message.case_id),
        ("sender_reference", message.sender_reference),
        ("handling", code_of(HANDLINGS, message.handling)),
    ]


# --- wanted-person notice -----------------------------------------------------------------


def notice_from_form(
    form: Form,
    *,
    now: datetime,
    reference: str,
    attachments: Mapping[str, Sequence[str]] | None = None,
) -> Composed:
    """A wanted-person notice: issue (the subject and the request required), update (the
    whole notice again), cancel (only which notice).

    attachments: staged file ids by field (gateway/console/uploads.py): `subject-photos`."""
    reader, message, recipients = _read_common(form, now=now, reference=reference)
    cancelling = message.action == canonical.ACTION_CANCEL
    notice = message.wanted_person_notice
    subject = notice.subject
    if reader.person("subject-", subject):
        _subject_details(reader, subject)
    elif not cancelling:
        reader.fail("subject-name", MSG_NAME)
    subject.attachment_ids.extend((attachments or {}).get("subject-photos", ()))
    notice.offence.legal_basis = reader.code("offence-legal_basis", LEGAL_BASES)
    notice.offence.summary = reader.text("offence-summary", max_chars=LONG_CHARS, multiline=True)
    notice.warrant.number = reader.text("warrant-number", max_chars=64)
    notice.warrant.issuing_authority = reader.text("warrant-issuing_authority")
    issued = reader.date("warrant-issued_on", partial=True, not_after_today=True)
    if issued is not None:
        notice.warrant.issued_on.CopyFrom(issued)
    if not (notice.offence.legal_basis or notice.offence.summary):
        notice.ClearField("offence")
    if not (notice.warrant.number or notice.warrant.issuing_authority or issued):
        notice.ClearField("warrant")
    notice.last_known_location = reader.text("last_known_location", max_chars=LONG_CHARS)
    notice.last_known_province = reader.code("last_known_province", PROVINCES)
    notice.request = reader.choice(
        "request", REQUESTS, required=None if cancelling else MSG_REQUEST
    )
    notice.caveat = reader.text("caveat", max_chars=LONG_CHARS, multiline=True)
    until = reader.date("valid_until", not_before_today=True)
    if until is not None:
        notice.valid_until.CopyFrom(until)
    return Composed(message, recipients, reader.errors)


def _subject_details(reader: FormReader, subject: canonical.Person) -> None:
    subject.birth_place = reader.text("subject-birth_place")
    subject.nationality = reader.code("subject-nationality", COUNTRIES)
    subject.ethnicity = reader.text("subject-ethnicity", max_chars=64)
    subject.description = reader.text("subject-description", max_chars=LONG_CHARS, multiline=True)
    number = reader.text("subject-document_number", max_chars=32).replace(" ", "").upper()
    kind = reader.choice(
        "subject-document_type", DOCUMENT_TYPES, required=MSG_DOCUMENT_TYPE if number else None
    )
    if not number:
        return
    pattern = _DOCUMENT_PATTERNS.get(kind, _DOCUMENT_NUMBER)
    if not pattern.match(number):
        reader.fail("subject-document_number", MSG_DOCUMENT_NUMBER)
        return
    country = reader.code("subject-document_country", COUNTRIES) or _DOCUMENT_COUNTRY.get(
        kind, subject.nationality
    )
    subject.identity_documents.add(type=kind, number=number, issuing_country=country)


def notice_to_form(message: canonical.Message, recipients: Sequence[str]) -> MultiDict[str]:
    notice = message.wanted_person_notice
    subject = notice.subject
    fields = _common_fields(message, recipients)
    fields += [
        *person_fields("subject-", subject),
        ("subject-birth_place", subject.birth_place),
        ("subject-nationality", subject.nationality),
        ("subject-ethnicity", subject.ethnicity),
        ("subject-description", subject.description),
    ]
    if subject.identity_documents:
        document = subject.identity_documents[0]
        fields += [
            ("subject-document_type", code_of(DOCUMENT_TYPES, document.type)),
            ("subject-document_number", document.number),
            ("subject-document_country", document.issuing_country),
        ]
    fields += [
        ("offence-legal_basis", notice.offence.legal_basis),
        ("offence-summary", notice.offence.summary),
        ("warrant-number", notice.warrant.number),
        ("warrant-issuing_authority", notice.warrant.issuing_authority),
        ("warrant-issued_on", date_input(notice.warrant.issued_on)),
        ("last_known_location", notice.last_known_location),
        ("last_known_province", notice.last_known_province),
        ("request", code_of(REQUESTS, notice.request)),
        ("caveat", notice.caveat),
        ("valid_until", date_input(notice.valid_until)),
    ]
    return MultiDict(fields)


# --- hotline alert ------------------------------------------------------------------------


def alert_from_form(form: Form, *, now: datetime, reference: str) -> Composed:
    """A hotline alert (Vietnamese nodes only: the view decides that)."""
    reader, message, recipients = _read_common(form, now=now, reference=reference)
    cancelling = message.action == canonical.ACTION_CANCEL
    alert = message.hotline_alert
    alert.call_id = reader.text("call_id", max_chars=128)
    received = reader.local_time(
        "received_at", required=None if cancelling else MSG_RECEIVED, future=False
    )
    if received is not None:
        alert.received_at.CopyFrom(received)
    alert.channel = reader.choice("channel", CHANNELS)
    required = not cancelling
    alert.category = reader.choice(
        "category", CATEGORIES, required=MSG_CATEGORY if required else None
    )
    alert.urgency = reader.choice("urgency", URGENCIES, required=MSG_URGENCY if required else None)
    alert.place = reader.text("place", max_chars=LONG_CHARS)
    alert.province = reader.code("province", PROVINCES)
    alert.summary = reader.text(
        "summary", required=MSG_SUMMARY if required else None, max_chars=LONG_CHARS, multiline=True
    )
    caller_name = reader.text("caller-name")
    caller_phone = reader.phone("caller-phone")
    if caller_name or caller_phone:
        alert.caller.name = caller_name
        alert.caller.phone = caller_phone
    for index in reader.indexes("persons-", MAX_PERSONS):
        prefix = f"persons-{index}-"
        involved = canonical.InvolvedPerson()
        filled = reader.person(prefix, involved.person)
        if not (filled or reader.raw(f"{prefix}role")):
            continue
        if not filled:
            reader.fail(f"{prefix}name", MSG_NAME)
        involved.role = reader.choice(f"{prefix}role", ROLES, required=MSG_ROLE)
        alert.persons.append(involved)
    return Composed(message, recipients, reader.errors)


def alert_to_form(message: canonical.Message, recipients: Sequence[str]) -> MultiDict[str]:
    alert = message.hotline_alert
    fields = _common_fields(message, recipients)
    fields += [
        ("call_id", alert.call_id),
        ("received_at", local_input(alert.received_at) if alert.HasField("received_at") else ""),
        ("channel", code_of(CHANNELS, alert.channel)),
        ("category", code_of(CATEGORIES, alert.category)),
        ("urgency", code_of(URGENCIES, alert.urgency)),
        ("place", alert.place),
        ("province", alert.province),
        ("summary", alert.summary),
        ("caller-name", alert.caller.name),
        ("caller-phone", alert.caller.phone),
    ]
    for index, involved in enumerate(alert.persons):
        prefix = f"persons-{index}-"
        fields.append((f"{prefix}role", code_of(ROLES, involved.role)))
        fields += person_fields(prefix, involved.person)
    return MultiDict(fields)
