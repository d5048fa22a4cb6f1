"""kh-police-xml -> canonical.

The decoder reads the whole notice and collects every problem before deciding, so that a
partner fixing a rejected document sees all its faults at once; a document with any problem
is refused whole (one notice is one message: there is no good part to keep). Problems name
the line and path and say what was expected; they never repeat a value, which may be a
victim's name or an officer's phone.

Element order is not checked: the specification lists elements but never says their order is
significant, and refusing a well-formed notice for it would only delay a handover. What the
decoder does not know is reported as a warning and skipped, so a partner adding an element
does not break the exchange. Empty elements and attributes count as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from adapters.base import Decoded, DocumentInvalid, Problem
from adapters.common.countries import iso_from_vietnamese
from adapters.common.localtime import parse_local, to_timestamp
from adapters.common.names import family_first_latin, is_latin_script
from adapters.common.text import ascii_digits, nfc
from adapters.kh_police_xml import codes
from adapters.kh_police_xml.xmltree import Node, parse
from gateway.wire import Kind, canonical

_V = TypeVar("_V")

_PERSON_SINGLE = (
    "NameKh",
    "NameLatin",
    "Sex",
    "Born",
    "Nationality",
    "IdCard",
    "Passport",
    "Ethnicity",
    "Description",
)
_PERSON_REPEATED = ("Alias", "Photo")
_NO_ELEMENTS: tuple[str, ...] = ()


class _Reader:
    """Walks the tree, filling a canonical message and collecting problems and warnings."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    @staticmethod
    def where(node: Node, attribute: str | None = None) -> str:
        path = node.path if attribute is None else f"{node.path}/@{attribute}"
        return f"line {node.line}: {path}"

    def error(self, node: Node, message: str, attribute: str | None = None) -> None:
        self.problems.append(Problem(self.where(node, attribute), message))

    def warn(self, node: Node, message: str, attribute: str | None = None) -> None:
        self.warnings.append(Problem(self.where(node, attribute), message))

    # Structure

    def attributes(self, node: Node, known: tuple[str, ...]) -> dict[str, str]:
        """The known attributes, NFC and trimmed, empty ones dropped; others warned about."""
        values: dict[str, str] = {}
        for name, value in node.attributes.items():
            if name not in known:
                self.warn(node, "unknown attribute, ignored", name)
            elif text := nfc(value):
                values[name] = text
        return values

    def children(
        self, node: Node, single: tuple[str, ...], repeated: tuple[str, ...] = ()
    ) -> dict[str, list[Node]]:
        """Known child elements by name; unknown ones warned about, repeats of single ones
        refused (which of two birth dates is right cannot be guessed)."""
        found: dict[str, list[Node]] = {}
        for child in node.children:
            if child.namespace != codes.NAMESPACE:
                self.warn(child, f"element outside namespace {codes.NAMESPACE}, ignored")
            elif child.name not in single and child.name not in repeated:
                self.warn(child, "unknown element here, ignored")
            else:
                found.setdefault(child.name, []).append(child)
        for name in single:
            for extra in found.get(name, [])[1:]:
                self.error(extra, f"expected at most one {name} here")
        if node.text.strip():
            self.warn(node, "text between elements, ignored")
        return found

    def leaf(self, node: Node, *known: str) -> tuple[str, dict[str, str]]:
        """Text of an element that holds text only, and its known attributes."""
        attributes = self.attributes(node, known)
        if node.children:
            self.error(node, "expected text only, no child elements")
        return nfc(node.text), attributes

    def empty(self, node: Node, *known: str) -> dict[str, str]:
        """Attributes of an element that holds nothing else."""
        attributes = self.attributes(node, known)
        self.children(node, _NO_ELEMENTS)
        return attributes

    # Values

    def code(
        self,
        node: Node,
        value: str,
        table: Mapping[str, _V],
        what: str,
        attribute: str | None = None,
    ) -> _V | None:
        found = table.get(value.upper())
        if found is None:
            self.error(node, f"expected {what}: one of {', '.join(table)}", attribute)
        return found

    def date(self, node: Node, text: str, attribute: str | None = None) -> canonical.Date | None:
        match = codes.DATE_RE.fullmatch(ascii_digits(text))
        if match is not None:
            day, month, year = (int(part) for part in match.groups())
            value = canonical.Date(year=year, month=month, day=day)
            if codes.full_date(value) is not None:
                return value
        self.error(node, codes.EXPECT_DATE, attribute)
        return None

    def birth(self, node: Node, text: str) -> canonical.Date | None:
        digits = ascii_digits(text)
        if codes.YEAR_RE.fullmatch(digits) and int(digits) >= 1:
            return canonical.Date(year=int(digits))
        match = codes.DATE_RE.fullmatch(digits)
        if match is not None:
            day, month, year = (int(part) for part in match.groups())
            value = canonical.Date(year=year, month=month, day=day)
            if codes.full_date(value) is not None:
                return value
        self.error(node, codes.EXPECT_BIRTH)
        return None

    def time(self, node: Node, text: str, attribute: str) -> Timestamp | None:
        digits = ascii_digits(text)
        if codes.TIME_RE.fullmatch(digits):
            try:
                return to_timestamp(parse_local(digits, codes.TIME_PATTERN))
            except (ValueError, OverflowError):
                pass  # an impossible date or hour: reported below like a malformed one
        self.error(node, codes.EXPECT_TIME, attribute)
        return None

    def province(self, node: Node, text: str, attribute: str) -> str:
        code = ascii_digits(text).upper()
        if codes.PROVINCE_RE.fullmatch(code):
            return code
        self.error(node, codes.EXPECT_PROVINCE, attribute)
        return ""

    def country(self, node: Node, text: str) -> str:
        code = text.upper()
        if codes.COUNTRY_RE.fullmatch(code):
            return code
        # Clerks sometimes write the country's name; a known name is unambiguous.
        named = iso_from_vietnamese(text)
        if named is not None:
            self.warn(node, "expected an ISO 3166-1 alpha-2 code; the country name was converted")
            return named
        self.error(node, codes.EXPECT_COUNTRY)
        return ""

    # Message parts

    def person(
        self,
        node: Node,
        target: canonical.Person,
        attributes: tuple[str, ...] = (),
        single: tuple[str, ...] = (),
    ) -> tuple[dict[str, str], dict[str, list[Node]]]:
        """Fill target from a <Person>; the caller handles the extra attributes and elements
        it names (minor, role, Needs, Children)."""
        values = self.attributes(node, attributes)
        found = self.children(node, _PERSON_SINGLE + single, _PERSON_REPEATED)
        target.SetInParent()

        def text_of(name: str) -> tuple[Node, str] | None:
            elements = found.get(name)
            if not elements:
                return None
            text, _ = self.leaf(elements[0])
            return (elements[0], text) if text else None

        if kh := text_of("NameKh"):
            target.name = kh[1]
            if not codes.is_khmer_script(kh[1]):
                self.warn(
                    kh[0],
                    "expected Khmer script; kept as the person's name, but a name in another "
                    "script is written back as NameLatin only",
                )
        if latin := text_of("NameLatin"):
            target.name_latin = latin[1]
            if not is_latin_script(latin[1]):
                self.warn(latin[0], "expected a name in Latin script; kept as written")
        elif kh and is_latin_script(kh[1]):
            target.name_latin = family_first_latin(kh[1])
        for alias in found.get("Alias", []):
            if text := self.leaf(alias)[0]:
                target.aliases.append(text)
        if sex := text_of("Sex"):
            target.sex = (
                self.code(sex[0], sex[1], codes.SEXES, "a sex") or canonical.SEX_UNSPECIFIED
            )
        if born := text_of("Born"):
            birth_date = self.birth(*born)
            if birth_date is not None:
                target.birth_date.CopyFrom(birth_date)
        if nationality := text_of("Nationality"):
            target.nationality = self.country(*nationality)
        # Documents in document order, so that a round trip keeps their order.
        for child in node.children:
            if child is not found.get(child.name, [None])[0]:
                continue  # unknown, foreign or repeated: already reported
            if child.name == "IdCard" and (text := self.leaf(child)[0]):
                number = ascii_digits(text)
                if codes.KH_ID_RE.fullmatch(number):
                    target.identity_documents.add(
                        type=canonical.DOCUMENT_TYPE_KH_NATIONAL_ID,
                        number=number,
                        issuing_country="KH",
                    )
                else:
                    self.error(child, codes.EXPECT_KH_ID)
            elif child.name == "Passport" and (text := self.leaf(child)[0]):
                number = ascii_digits(text)
                if codes.PASSPORT_RE.fullmatch(number):
                    target.identity_documents.add(
                        type=canonical.DOCUMENT_TYPE_PASSPORT,
                        number=number,
                        issuing_country=target.nationality,
                    )
                else:
                    self.error(child, codes.EXPECT_PASSPORT)
        if ethnicity := text_of("Ethnicity"):
            target.ethnicity = ethnicity[1]
        if description := text_of("Description"):
            target.description = description[1]
        for photo in found.get("Photo", []):
            if ref := self.empty(photo, "ref").get("ref"):
                target.attachment_ids.append(ref)
            else:
                self.error(photo, "expected an attachment id", "ref")
        return values, found

    def wanted(self, root: Node, notice: canonical.WantedPersonNotice) -> None:
        notice.SetInParent()
        found = self.children(
            root,
            ("Subject", "Offence", "Warrant", "LastSeen", "Request", "Caveat", "ValidUntil"),
        )
        for subject in found.get("Subject", [])[:1]:
            self.attributes(subject, ())
            persons = self.children(subject, ("Person",)).get("Person", [])
            if persons:
                self.person(persons[0], notice.subject)
        for offence in found.get("Offence", [])[:1]:
            summary, attributes = self.leaf(offence, "law")
            notice.offence.SetInParent()
            notice.offence.legal_basis = attributes.get("law", "")
            notice.offence.summary = summary
        for warrant in found.get("Warrant", [])[:1]:
            attributes = self.empty(warrant, "number", "court", "date")
            notice.warrant.SetInParent()
            notice.warrant.number = attributes.get("number", "")
            notice.warrant.issuing_authority = attributes.get("court", "")
            if "date" in attributes:
                issued_on = self.date(warrant, attributes["date"], "date")
                if issued_on is not None:
                    notice.warrant.issued_on.CopyFrom(issued_on)
        for last_seen in found.get("LastSeen", [])[:1]:
            location, attributes = self.leaf(last_seen, "province")
            notice.last_known_location = location
            if "province" in attributes:
                notice.last_known_province = self.province(
                    last_seen, attributes["province"], "province"
                )
        for request in found.get("Request", [])[:1]:
            if text := self.leaf(request)[0]:
                notice.request = (
                    self.code(request, text, codes.REQUESTS, "a request")
                    or canonical.REQUEST_UNSPECIFIED
                )
        for caveat in found.get("Caveat", [])[:1]:
            notice.caveat = self.leaf(caveat)[0]
        for valid_until in found.get("ValidUntil", [])[:1]:
            if text := self.leaf(valid_until)[0]:
                until = self.date(valid_until, text)
                if until is not None:
                    notice.valid_until.CopyFrom(until)

    def victim(self, node: Node, victim: canonical.Victim) -> None:
        attributes, found = self.person(node, victim.person, ("minor",), ("Needs", "Children"))
        minor = attributes.get("minor", "").lower()
        if minor in {"true", "false"}:
            victim.minor = minor == "true"
        else:
            # An adult by default would be unsafe for a child: the sender must say.
            self.error(node, 'expected minor="true" or minor="false"', "minor")
        for needs in found.get("Needs", [])[:1]:
            for token in self.leaf(needs)[0].split():
                need = self.code(needs, token, codes.NEEDS, "needs separated by spaces, each")
                if need is not None:
                    victim.needs.append(need)
        for children in found.get("Children", [])[:1]:
            self.attributes(children, ())
            for child in self.children(children, (), ("Person",)).get("Person", []):
                self.person(child, victim.accompanying_children.add())

    def handover(self, root: Node, handover: canonical.VictimHandover) -> None:
        handover.SetInParent()
        found = self.children(root, ("Victims", "Crossing", "Escort", "Note"), ("Document",))
        for victims in found.get("Victims", [])[:1]:
            self.attributes(victims, ())
            for person in self.children(victims, (), ("Person",)).get("Person", []):
                self.victim(person, handover.victims.add())
        for crossing in found.get("Crossing", [])[:1]:
            attributes = self.empty(crossing, "gate", "at")
            handover.border_gate = attributes.get("gate", "")
            if "at" in attributes:
                planned = self.time(crossing, attributes["at"], "at")
                if planned is not None:
                    handover.planned_at.CopyFrom(planned)
        for escort in found.get("Escort", [])[:1]:
            self.attributes(escort, ())
            for officer in self.children(escort, (), ("Officer",)).get("Officer", []):
                attributes = self.empty(officer, "name", "rank", "unit", "phone")
                handover.escort.add(
                    name=attributes.get("name", ""),
                    rank=attributes.get("rank", ""),
                    unit=attributes.get("unit", ""),
                    phone=attributes.get("phone", ""),
                )
        for note in found.get("Note", [])[:1]:
            handover.note = self.leaf(note)[0]
        for document in found.get("Document", []):
            if ref := self.empty(document, "ref").get("ref"):
                handover.attachment_ids.append(ref)
            else:
                self.error(document, "expected an attachment id", "ref")

    def alert(self, root: Node, alert: canonical.HotlineAlert) -> None:
        alert.SetInParent()
        # No caller element exists: the hotline caller never leaves Vietnam. A Caller an
        # unexpected sender adds is warned about and never read.
        for node in self.children(root, ("Alert",)).get("Alert", [])[:1]:
            attributes = self.attributes(node, ("received", "channel", "category", "urgency"))
            if "received" in attributes:
                received = self.time(node, attributes["received"], "received")
                if received is not None:
                    alert.received_at.CopyFrom(received)
            if "channel" in attributes:
                alert.channel = (
                    self.code(node, attributes["channel"], codes.CHANNELS, "a channel", "channel")
                    or canonical.CHANNEL_UNSPECIFIED
                )
            if "category" in attributes:
                alert.category = (
                    self.code(
                        node, attributes["category"], codes.CATEGORIES, "a category", "category"
                    )
                    or canonical.CATEGORY_UNSPECIFIED
                )
            if "urgency" in attributes:
                alert.urgency = (
                    self.code(node, attributes["urgency"], codes.URGENCIES, "an urgency", "urgency")
                    or canonical.URGENCY_UNSPECIFIED
                )
            found = self.children(node, ("Place", "Summary", "Persons"))
            for place in found.get("Place", [])[:1]:
                text, place_attributes = self.leaf(place, "province")
                alert.place = text
                if "province" in place_attributes:
                    alert.province = self.province(place, place_attributes["province"], "province")
            for summary in found.get("Summary", [])[:1]:
                alert.summary = self.leaf(summary)[0]
            for persons in found.get("Persons", [])[:1]:
                self.attributes(persons, ())
                for person in self.children(persons, (), ("Person",)).get("Person", []):
                    involved = alert.persons.add()
                    values, _ = self.person(person, involved.person, ("role",))
                    if "role" in values:
                        involved.role = (
                            self.code(person, values["role"], codes.ROLES, "a role", "role")
                            or canonical.ROLE_UNSPECIFIED
                        )


def decode_document(data: bytes) -> Decoded:
    """The one message of a notice; DocumentInvalid with every problem found."""
    root = parse(data)
    if root.namespace != codes.NAMESPACE or root.name != codes.ROOT:
        raise DocumentInvalid(
            [
                Problem(
                    f"line {root.line}: {root.path}",
                    f"expected the root element {codes.ROOT} in namespace {codes.NAMESPACE}",
                )
            ]
        )
    reader = _Reader()
    attributes = reader.attributes(root, ("kind", "ref", "action", "issued", "classification"))
    message = canonical.Message()

    kind = codes.KIND_CODES.get(attributes.get("kind", "").upper())
    if kind is None:
        reader.error(root, "expected a kind: one of WANTED, HANDOVER, ALERT", "kind")
    if "ref" in attributes:
        message.sender_reference = attributes["ref"]
    else:
        reader.error(root, "expected the sender's reference", "ref")
    if "issued" in attributes:
        issued = reader.time(root, attributes["issued"], "issued")
        if issued is not None:
            message.issued_at.CopyFrom(issued)
    if kind is None:
        # Without the kind neither the action nor the body can be read.
        raise DocumentInvalid(reader.problems)

    action = attributes.get("action", "").upper()
    if kind is Kind.VICTIM_HANDOVER and action == "NEW":
        message.action = canonical.ACTION_PROPOSE
        reader.warn(root, "NEW on a HANDOVER means PROPOSE; decoded as PROPOSE", "action")
    else:
        actions = codes.HANDOVER_ACTIONS if kind is Kind.VICTIM_HANDOVER else codes.NOTICE_ACTIONS
        message.action = (
            reader.code(root, action, actions, "an action", "action")
            or canonical.ACTION_UNSPECIFIED
        )

    classification = attributes.get("classification")
    if classification is None:
        default = codes.DEFAULT_CLASSIFICATION[kind]
        message.handling = codes.CLASSIFICATIONS[default]
        reader.warn(
            root,
            f"no classification; the default for this kind ({default}) was applied",
            "classification",
        )
    else:
        message.handling = (
            reader.code(
                root, classification, codes.CLASSIFICATIONS, "a classification", "classification"
            )
            or canonical.HANDLING_UNSPECIFIED
        )

    if kind is Kind.WANTED_PERSON_NOTICE:
        reader.wanted(root, message.wanted_person_notice)
    elif kind is Kind.VICTIM_HANDOVER:
        reader.handover(root, message.victim_handover)
    else:
        reader.alert(root, message.hotline_alert)

    if reader.problems:
        raise DocumentInvalid(reader.problems)
    return Decoded(message, warnings=tuple(reader.warnings))
