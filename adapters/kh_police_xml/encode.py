"""canonical -> kh-police-xml.

The writer is hand-made rather than ElementTree's so that the bytes are fully determined by
the message: attributes in the specification's order, two-space indentation, the default
namespace on the root only, and escaping that survives a parser's normalisation (a line break
in an attribute is written `&#10;`, a carriage return anywhere `&#13;`, or they would come
back as spaces and line feeds).

A value the format has no valid shape for (a month without a day, a twelve-digit Vietnamese
ID in a nine-digit field, an invalid country code) is left out rather than written in a form
the partner would refuse; the adapter's loss check then reports it. Characters that XML 1.0
cannot hold at all (most control characters) are removed for the same reason.

The hotline caller is never written, in any element or attribute: the format has no place for
it, and the caller's identity must not leave Vietnam even if route policy failed to strip it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeGuard

from google.protobuf.timestamp_pb2 import Timestamp

from adapters.base import CannotEncode, Problem
from adapters.common.localtime import from_timestamp
from adapters.common.names import family_first_latin, is_latin_script
from adapters.common.text import ascii_digits, nfc
from adapters.kh_police_xml import codes
from gateway.wire import Kind, canonical

_INDENT = "  "
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)

_SEX_CODE = {value: code for code, value in codes.SEXES.items()}
_REQUEST_CODE = {value: code for code, value in codes.REQUESTS.items()}
_NEED_CODE = {value: code for code, value in codes.NEEDS.items()}
_ROLE_CODE = {value: code for code, value in codes.ROLES.items()}
_CATEGORY_CODE = {value: code for code, value in codes.CATEGORIES.items()}
_URGENCY_CODE = {value: code for code, value in codes.URGENCIES.items()}
_CLASSIFICATION_CODE = {value: code for code, value in codes.CLASSIFICATIONS.items()}


def _clean(value: str) -> str:
    return _NOT_XML.sub("", value)


def _present(value: str | None) -> TypeGuard[str]:
    """Whether value survives writing and reading back: the decoder drops what is blank."""
    return value is not None and bool(nfc(_clean(value)))


@dataclass
class _Element:
    name: str
    attributes: list[tuple[str, str]] = field(default_factory=list)
    children: list[_Element] = field(default_factory=list)
    text: str = ""

    def attribute(self, name: str, value: str | None) -> None:
        """Add the attribute when it has a value (blank means absent in this format)."""
        if _present(value):
            self.attributes.append((name, value))

    def child(self, tag: str, text: str | None = None, /, **attributes: str | None) -> _Element:
        element = _Element(tag, text=text if _present(text) else "")
        for key, value in attributes.items():
            element.attribute(key, value)
        self.children.append(element)
        return element

    def leaf(self, tag: str, text: str | None) -> None:
        """A text-only child, written only when there is text."""
        if _present(text):
            self.child(tag, text)


def _render(element: _Element, depth: int, lines: list[str]) -> None:
    attributes = "".join(
        f' {name}="{_clean(value).translate(_ATTRIBUTE_ESCAPES)}"'
        for name, value in element.attributes
    )
    indent = _INDENT * depth
    if element.children:
        lines.append(f"{indent}<{element.name}{attributes}>")
        for child in element.children:
            _render(child, depth + 1, lines)
        lines.append(f"{indent}</{element.name}>")
    elif element.text:
        text = _clean(element.text).translate(_TEXT_ESCAPES)
        lines.append(f"{indent}<{element.name}{attributes}>{text}</{element.name}>")
    else:
        lines.append(f"{indent}<{element.name}{attributes}/>")


def _time(stamp: Timestamp) -> str | None:
    try:
        return codes.local_time(from_timestamp(stamp))
    except (ValueError, OverflowError):
        return None  # outside the calendar: left out, and reported by the loss check


def _names(person: canonical.Person) -> tuple[str, str]:
    """(NameKh, NameLatin). Only Khmer script goes in NameKh: a Vietnamese name has no Khmer
    form, so it is carried by its Latin form alone (derived when the message has none)."""
    if person.name and codes.is_khmer_script(person.name):
        return person.name, person.name_latin
    if person.name_latin:
        return "", person.name_latin
    if person.name and is_latin_script(person.name):
        return "", family_first_latin(person.name)
    return "", ""  # another script without a Latin form: nothing fits; the loss check says so


def _person(person: canonical.Person, parent: _Element, **attributes: str | None) -> _Element:
    element = parent.child("Person", **attributes)
    name_kh, name_latin = _names(person)
    element.leaf("NameKh", name_kh)
    element.leaf("NameLatin", name_latin)
    for alias in person.aliases:
        element.leaf("Alias", alias)
    element.leaf("Sex", _SEX_CODE.get(person.sex))
    if person.HasField("birth_date"):
        element.leaf("Born", codes.birth_date(person.birth_date))
    if codes.COUNTRY_RE.fullmatch(person.nationality):
        element.leaf("Nationality", person.nationality)
    # The format holds one ID card and one passport; they are written in the message's order
    # so that decoding gives the same list back.
    written: set[str] = set()
    for document in person.identity_documents:
        number = ascii_digits(document.number)
        if (
            document.type == canonical.DOCUMENT_TYPE_KH_NATIONAL_ID
            and codes.KH_ID_RE.fullmatch(number)
            and "IdCard" not in written
        ):
            element.leaf("IdCard", number)
            written.add("IdCard")
        elif (
            document.type == canonical.DOCUMENT_TYPE_PASSPORT
            and codes.PASSPORT_RE.fullmatch(number)
            and "Passport" not in written
        ):
            element.leaf("Passport", number)
            written.add("Passport")
    element.leaf("Ethnicity", person.ethnicity)
    element.leaf("Description", person.description)
    for attachment in person.attachment_ids:
        if _present(attachment):
            element.child("Photo", ref=attachment)
    return element


def _province(code: str) -> str | None:
    return code if codes.PROVINCE_RE.fullmatch(code) else None


def _wanted(notice: canonical.WantedPersonNotice, root: _Element) -> None:
    if notice.HasField("subject"):
        _person(notice.subject, root.child("Subject"))
    if notice.HasField("offence"):
        root.child("Offence", notice.offence.summary, law=notice.offence.legal_basis)
    if notice.HasField("warrant"):
        warrant = notice.warrant
        issued_on = codes.full_date(warrant.issued_on) if warrant.HasField("issued_on") else None
        root.child(
            "Warrant", number=warrant.number, court=warrant.issuing_authority, date=issued_on
        )
    province = _province(notice.last_known_province)
    if notice.last_known_location or province:
        root.child("LastSeen", notice.last_known_location, province=province)
    root.leaf("Request", _REQUEST_CODE.get(notice.request))
    root.leaf("Caveat", notice.caveat)
    if notice.HasField("valid_until"):
        root.leaf("ValidUntil", codes.full_date(notice.valid_until))


def _handover(handover: canonical.VictimHandover, root: _Element) -> None:
    if handover.victims:
        victims = root.child("Victims")
        for victim in handover.victims:
            person = _person(victim.person, victims, minor="true" if victim.minor else "false")
            needs = [_NEED_CODE[need] for need in victim.needs if need in _NEED_CODE]
            person.leaf("Needs", " ".join(needs))
            if victim.accompanying_children:
                children = person.child("Children")
                for child in victim.accompanying_children:
                    _person(child, children)
    planned = _time(handover.planned_at) if handover.HasField("planned_at") else None
    if handover.border_gate or planned:
        root.child("Crossing", gate=handover.border_gate, at=planned)
    if handover.escort:
        escort = root.child("Escort")
        for officer in handover.escort:
            escort.child(
                "Officer",
                name=officer.name,
                rank=officer.rank,
                unit=officer.unit,
                phone=officer.phone,
            )
    root.leaf("Note", handover.note)
    for attachment in handover.attachment_ids:
        if _present(attachment):
            root.child("Document", ref=attachment)


def _alert(alert: canonical.HotlineAlert, root: _Element) -> None:
    # call_id and caller are deliberately absent (see the module docstring).
    element = root.child(
        "Alert",
        received=_time(alert.received_at) if alert.HasField("received_at") else None,
        channel=codes.CHANNEL_CODE.get(alert.channel),
        category=_CATEGORY_CODE.get(alert.category),
        urgency=_URGENCY_CODE.get(alert.urgency),
    )
    province = _province(alert.province)
    if alert.place or province:
        element.child("Place", alert.place, province=province)
    element.leaf("Summary", alert.summary)
    if alert.persons:
        persons = element.child("Persons")
        for involved in alert.persons:
            _person(involved.person, persons, role=_ROLE_CODE.get(involved.role))


def encode_message(message: canonical.Message) -> bytes:
    """The notice for message; CannotEncode when the root's required attributes or the body
    are missing, since the partner would refuse such a document."""
    body = message.WhichOneof("body")
    if body is None:
        raise CannotEncode(
            Problem("body", "expected a wanted-person notice, victim handover or hotline alert")
        )
    kind = Kind(body)
    if not _present(message.sender_reference):
        raise CannotEncode(
            Problem("sender_reference", "expected the sender's reference: every notice has a ref")
        )
    nearest = (
        codes.NEAREST_HANDOVER_ACTION
        if kind is Kind.VICTIM_HANDOVER
        else codes.NEAREST_NOTICE_ACTION
    )
    action = nearest.get(message.action)
    if action is None:
        raise CannotEncode(Problem("action", "expected an action: every notice has one"))
    classification = _CLASSIFICATION_CODE.get(message.handling, codes.DEFAULT_CLASSIFICATION[kind])
    root = _Element("Notice", [("xmlns", codes.NAMESPACE)])
    root.attribute("kind", codes.CODE_OF_KIND[kind])
    root.attribute("ref", message.sender_reference)
    root.attribute("action", action)
    root.attribute("issued", _time(message.issued_at) if message.HasField("issued_at") else None)
    root.attribute("classification", classification)

    if kind is Kind.WANTED_PERSON_NOTICE:
        _wanted(message.wanted_person_notice, root)
    elif kind is Kind.VICTIM_HANDOVER:
        _handover(message.victim_handover, root)
    else:
        _alert(message.hotline_alert, root)

    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    _render(root, 0, lines)
    return ("\n".join(lines) + "\n").encode("utf-8")
