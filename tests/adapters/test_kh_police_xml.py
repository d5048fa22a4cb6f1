"""kh-police-xml: samples, round trips both ways, every quirk of the spec, and bad input."""

from __future__ import annotations

import unicodedata
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import CannotEncode, DocumentInvalid, Problem
from adapters.common.text import ascii_digits, nfc
from adapters.kh_police_xml import ADAPTER
from gateway.wire import Kind, canonical

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners" / "kh-police-xml" / "samples"
NS = "urn:kh:police:liaison:1"
LEFT_OUT = "kh-police-xml cannot hold this field; it was left out"
CHANGED = "kh-police-xml cannot hold this value exactly; it was changed"


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _decode(data: bytes) -> tuple[canonical.Message, tuple[Problem, ...]]:
    result = ADAPTER.decode(data)
    assert result.rejected == ()
    assert len(result.messages) == 1
    return result.messages[0].message, result.messages[0].warnings


def _stamp(year: int, month: int, day: int, hour: int, minute: int) -> Timestamp:
    """A UTC instant as a Timestamp."""
    stamp = Timestamp()
    stamp.FromDatetime(datetime(year, month, day, hour, minute, tzinfo=UTC))
    return stamp


def _doc(
    body: str,
    *,
    kind: str = "WANTED",
    action: str = "NEW",
    classification: str | None = "RESTRICTED",
    issued: str | None = "18-11-2026 10:15",
    ref: str = "RTK-1",
) -> bytes:
    """A notice whose root starts on line 2 and whose body starts on line 3."""
    attributes = f'kind="{kind}" ref="{ref}" action="{action}"'
    if issued is not None:
        attributes += f' issued="{issued}"'
    if classification is not None:
        attributes += f' classification="{classification}"'
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Notice xmlns="{NS}" {attributes}>\n'
        f"{body}\n"
        "</Notice>\n"
    )
    return text.encode("utf-8")


def _invalid(data: bytes) -> tuple[Problem, ...]:
    with pytest.raises(DocumentInvalid) as caught:
        ADAPTER.decode(data)
    return caught.value.problems


def _assert_quotes_none(problems: tuple[Problem, ...], *values: str) -> None:
    for problem in problems:
        for value in values:
            assert value not in str(problem), (value, problem)


def _message(kind: Kind, **fields: Any) -> canonical.Message:
    """A minimal valid message of kind; fields override the defaults."""
    defaults: dict[str, Any] = {
        "sender_reference": "REF-1",
        "action": canonical.ACTION_PROPOSE
        if kind is Kind.VICTIM_HANDOVER
        else canonical.ACTION_ISSUE,
        "handling": canonical.HANDLING_RESTRICTED,
    }
    message = canonical.Message(**(defaults | fields))
    getattr(message, kind.value).SetInParent()
    return message


# Adapter and samples


def test_adapter_describes_its_format() -> None:
    assert ADAPTER.format_id == "kh-police-xml"
    assert ADAPTER.media_type == "application/vnd.kh-police+xml"
    assert ADAPTER.kinds == frozenset(Kind)
    assert ADAPTER.many_per_document is False


def test_wanted_sample_decodes() -> None:
    message, warnings = _decode(_sample("wanted.xml"))
    assert warnings == ()
    assert message.case_id == ""
    assert message.in_reply_to == ""
    assert message.sender_reference == "RTK-WP-2026-031"
    assert message.action == canonical.ACTION_ISSUE
    assert message.handling == canonical.HANDLING_RESTRICTED
    # Khmer numerals, 10:15 at UTC+7.
    assert message.issued_at == _stamp(2026, 11, 18, 3, 15)
    notice = message.wanted_person_notice
    assert notice.subject == canonical.Person(
        name="សុខ ដារ៉ា",
        name_latin="SOK Dara",
        aliases=["Ah Ra"],
        sex=canonical.SEX_MALE,
        birth_date=canonical.Date(year=1990, month=11, day=5),
        nationality="KH",
        identity_documents=[
            canonical.IdentityDocument(
                type=canonical.DOCUMENT_TYPE_KH_NATIONAL_ID,
                number="010456789",
                issuing_country="KH",
            )
        ],
        description="Tattoo of a tiger on right forearm; speaks Vietnamese",
        attachment_ids=["att-c0ffee"],
    )
    assert notice.offence == canonical.Offence(
        legal_basis="KH-LSHTSE2008",
        summary="Recruited Vietnamese workers with false job offers and sold them to an "
        "online scam compound",
    )
    assert notice.warrant == canonical.Warrant(
        number="045/26",
        issuing_authority="Ratanakiri Provincial Court",
        issued_on=canonical.Date(year=2026, month=1, day=15),
    )
    assert notice.last_known_location == "Believed to cross often at Lệ Thanh gate"
    assert notice.last_known_province == "VN-30"
    assert notice.request == canonical.REQUEST_ARREST
    assert notice.caveat == "Uses several SIM cards"
    assert notice.valid_until == canonical.Date(year=2027, month=1, day=15)


def test_handover_sample_decodes() -> None:
    message, warnings = _decode(_sample("handover.xml"))
    assert warnings == ()
    assert message.sender_reference == "STG-HO-2026-007"
    assert message.action == canonical.ACTION_PROPOSE
    assert message.handling == canonical.HANDLING_VICTIM_PROTECTED
    assert message.issued_at == _stamp(2026, 11, 19, 8, 40)
    handover = message.victim_handover
    first, second = handover.victims
    assert first == canonical.Victim(
        person=canonical.Person(
            name="ង្វៀន ធី ឡាន",
            name_latin="NGUYEN Thi Lan",
            sex=canonical.SEX_FEMALE,
            birth_date=canonical.Date(year=2001),  # Khmer numerals, year alone
            nationality="VN",
        ),
        minor=False,
        needs=[canonical.NEED_MEDICAL, canonical.NEED_INTERPRETER],
    )
    assert second == canonical.Victim(
        person=canonical.Person(
            name="ចាន់ សុភា",
            name_latin="CHAN Sophea",
            sex=canonical.SEX_FEMALE,
            birth_date=canonical.Date(year=2010, month=4, day=12),
            nationality="KH",
            identity_documents=[
                canonical.IdentityDocument(
                    type=canonical.DOCUMENT_TYPE_KH_NATIONAL_ID,
                    number="010987654",  # written in Khmer numerals
                    issuing_country="KH",
                )
            ],
        ),
        minor=True,
        needs=[canonical.NEED_PSYCHOLOGICAL],
    )
    assert list(second.accompanying_children) == []  # <Children/> holds nobody
    assert handover.border_gate == "KH-OYADAV"
    assert handover.planned_at == _stamp(2026, 11, 24, 2, 0)  # ២៤-១១-២០២៦ ០៩:០០ at UTC+7
    assert list(handover.escort) == [
        canonical.EscortOfficer(
            name="KEO Vanna",
            rank="Captain",
            unit="Stung Treng Anti-Human Trafficking Office",
            phone="+855 12 345 678",
        )
    ]
    assert handover.note.startswith("Victim Nguyen Thi Lan asks")
    assert list(handover.attachment_ids) == ["att-5eed01"]


def test_alert_sample_decodes() -> None:
    message, warnings = _decode(_sample("alert.xml"))
    assert warnings == ()
    assert message.sender_reference == "RTK-AL-2026-220"
    assert message.action == canonical.ACTION_ISSUE
    assert message.handling == canonical.HANDLING_RESTRICTED
    assert message.issued_at == _stamp(2026, 11, 21, 16, 2)
    alert = message.hotline_alert
    assert alert.call_id == ""
    assert not alert.HasField("caller")
    assert alert.received_at == _stamp(2026, 11, 21, 15, 50)
    assert alert.channel == canonical.CHANNEL_PHONE
    assert alert.category == canonical.CATEGORY_RESCUE
    assert alert.urgency == canonical.URGENCY_CRITICAL
    assert alert.place == "Compound near O Yadav market"
    assert alert.province == "KH-16"
    assert alert.summary.startswith("Caller reports about ten Vietnamese nationals")
    assert list(alert.persons) == [
        canonical.InvolvedPerson(
            role=canonical.ROLE_VICTIM,
            # Only a Latin form is given: the name in the person's own script stays empty.
            person=canonical.Person(
                name_latin="RAH LAN H'Bia",
                sex=canonical.SEX_FEMALE,
                birth_date=canonical.Date(year=2007),
                nationality="VN",
            ),
        )
    ]


# The spec's normalisations: digits become ASCII and an empty <Children/> means no children.
_DIGIT_ATTRIBUTES = {"issued", "at", "date", "received"}
_DIGIT_ELEMENTS = {"Born", "IdCard", "Passport", "ValidUntil"}


def _structure(element: ET.Element) -> tuple[object, ...]:
    local = element.tag.rsplit("}", 1)[-1]
    attributes = sorted(
        (key, ascii_digits(nfc(value)) if key in _DIGIT_ATTRIBUTES else nfc(value))
        for key, value in element.attrib.items()
    )
    text = nfc(element.text or "") if len(element) == 0 else ""
    if local in _DIGIT_ELEMENTS:
        text = ascii_digits(text)
    children = [
        _structure(child)
        for child in element
        if not (child.tag.endswith("}Children") and len(child) == 0)
    ]
    return (element.tag, attributes, text, children)


@pytest.mark.parametrize("name", ["wanted.xml", "handover.xml", "alert.xml"])
def test_sample_round_trips_native_canonical_native(name: str) -> None:
    message, _ = _decode(_sample(name))
    encoded = ADAPTER.encode(message)
    assert encoded.warnings == ()
    assert _structure(ET.fromstring(encoded.data)) == _structure(ET.fromstring(_sample(name)))
    assert _decode(encoded.data)[0] == message


# canonical -> native -> canonical, for everything the format can hold

_KHMER_CONSONANTS = "កខគឃងចឆជឈញដឋឌឍណតថទធនបផពភមយរលវសហឡអ"
_KHMER_SIGNS = ["", "ា", "ិ", "ី", "ុ", "ូ", "េ", "ែ", "ោ", "ំ", "ះ", "់"]
_khmer_word = st.lists(
    st.tuples(st.sampled_from(_KHMER_CONSONANTS), st.sampled_from(_KHMER_SIGNS)).map("".join),
    min_size=1,
    max_size=4,
).map("".join)
_khmer_names = st.lists(_khmer_word, min_size=1, max_size=3).map(" ".join)
_latin_names = st.from_regex(r"[A-Z]{2,8}( [A-Z][a-z']{1,8}){0,3}", fullmatch=True)
_texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Co"))
    | st.sampled_from("\n\t\r&<>\"'"),
    min_size=1,
    max_size=24,
).filter(lambda text: text == nfc(text))
_optional_texts = st.one_of(st.just(""), _texts)
_countries = st.sampled_from(["", "VN", "KH", "LA", "TH"])
_provinces = st.sampled_from(["", "KH-16", "KH-19", "VN-30", "VN-28"])
_full_dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(
    lambda day: canonical.Date(year=day.year, month=day.month, day=day.day)
)
_birth_dates = st.one_of(
    st.none(), _full_dates, st.integers(1, 9999).map(lambda year: canonical.Date(year=year))
)
_minutes = st.integers(
    int(datetime(1900, 1, 1, tzinfo=UTC).timestamp()) // 60,
    int(datetime(2100, 1, 1, tzinfo=UTC).timestamp()) // 60,
).map(lambda minute: Timestamp(seconds=minute * 60))


def _enum(*values: int) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


@st.composite
def _persons(draw: st.DrawFn) -> canonical.Person:
    person = canonical.Person(
        name=draw(st.one_of(st.just(""), _khmer_names)),
        name_latin=draw(st.one_of(st.just(""), _latin_names)),
        aliases=draw(st.lists(_texts, max_size=2)),
        sex=draw(_enum(0, 1, 2, 3)),
        nationality=draw(_countries),
        ethnicity=draw(_optional_texts),
        description=draw(_optional_texts),
        attachment_ids=draw(st.lists(_texts, max_size=2)),
    )
    born = draw(_birth_dates)
    if born is not None:
        person.birth_date.CopyFrom(born)
    documents = []
    if draw(st.booleans()):
        documents.append(
            canonical.IdentityDocument(
                type=canonical.DOCUMENT_TYPE_KH_NATIONAL_ID,
                number=draw(st.from_regex(r"[0-9]{9}", fullmatch=True)),
                issuing_country="KH",
            )
        )
    if draw(st.booleans()):
        documents.append(
            canonical.IdentityDocument(
                type=canonical.DOCUMENT_TYPE_PASSPORT,
                number=draw(st.from_regex(r"[A-Z0-9]{6,9}", fullmatch=True)),
                issuing_country=person.nationality,
            )
        )
    person.identity_documents.extend(draw(st.permutations(documents)))
    return person


@st.composite
def _wanted(draw: st.DrawFn, notice: canonical.WantedPersonNotice) -> None:
    notice.SetInParent()
    if draw(st.booleans()):
        notice.subject.CopyFrom(draw(_persons()))
    if draw(st.booleans()):
        notice.offence.SetInParent()
        notice.offence.legal_basis = draw(_optional_texts)
        notice.offence.summary = draw(_optional_texts)
    if draw(st.booleans()):
        notice.warrant.SetInParent()
        notice.warrant.number = draw(_optional_texts)
        notice.warrant.issuing_authority = draw(_optional_texts)
        if draw(st.booleans()):
            notice.warrant.issued_on.CopyFrom(draw(_full_dates))
    notice.last_known_location = draw(_optional_texts)
    notice.last_known_province = draw(_provinces)
    notice.request = draw(_enum(0, 1, 2, 3))
    notice.caveat = draw(_optional_texts)
    if draw(st.booleans()):
        notice.valid_until.CopyFrom(draw(_full_dates))


@st.composite
def _handover(draw: st.DrawFn, handover: canonical.VictimHandover) -> None:
    handover.SetInParent()
    for _ in range(draw(st.integers(0, 3))):
        victim = handover.victims.add(
            minor=draw(st.booleans()), needs=draw(st.lists(_enum(1, 2, 3, 4), max_size=4))
        )
        victim.person.CopyFrom(draw(_persons()))
        victim.accompanying_children.extend(draw(st.lists(_persons(), max_size=2)))
    handover.border_gate = draw(st.sampled_from(["", "KH-OYADAV", "VN-LETHANH"]))
    if draw(st.booleans()):
        handover.planned_at.CopyFrom(draw(_minutes))
    for _ in range(draw(st.integers(0, 2))):
        handover.escort.add(
            name=draw(_optional_texts),
            rank=draw(_optional_texts),
            unit=draw(_optional_texts),
            phone=draw(_optional_texts),
        )
    handover.note = draw(_optional_texts)
    handover.attachment_ids.extend(draw(st.lists(_texts, max_size=3)))


@st.composite
def _alert(draw: st.DrawFn, alert: canonical.HotlineAlert) -> None:
    alert.SetInParent()
    if draw(st.booleans()):
        alert.received_at.CopyFrom(draw(_minutes))
    alert.channel = draw(
        _enum(
            canonical.CHANNEL_UNSPECIFIED,
            canonical.CHANNEL_PHONE,
            canonical.CHANNEL_MESSAGING,
            canonical.CHANNEL_WALK_IN,
        )
    )
    alert.category = draw(_enum(0, 1, 2, 3, 4))
    alert.urgency = draw(_enum(0, 1, 2, 3))
    alert.place = draw(_optional_texts)
    alert.province = draw(_provinces)
    alert.summary = draw(_optional_texts)
    for _ in range(draw(st.integers(0, 3))):
        involved = alert.persons.add(role=draw(_enum(0, 1, 2)))
        involved.person.CopyFrom(draw(_persons()))


_HANDOVER_ACTIONS = (
    canonical.ACTION_PROPOSE,
    canonical.ACTION_ACCEPT,
    canonical.ACTION_REJECT,
    canonical.ACTION_COMPLETE,
    canonical.ACTION_UPDATE,
    canonical.ACTION_CANCEL,
)
_NOTICE_ACTIONS = (canonical.ACTION_ISSUE, canonical.ACTION_UPDATE, canonical.ACTION_CANCEL)


@st.composite
def _messages(draw: st.DrawFn) -> canonical.Message:
    kind = draw(st.sampled_from(list(Kind)))
    message = canonical.Message(
        sender_reference=draw(_texts),
        action=draw(
            _enum(*(_HANDOVER_ACTIONS if kind is Kind.VICTIM_HANDOVER else _NOTICE_ACTIONS))
        ),
        handling=draw(_enum(1, 2, 3)),
    )
    if draw(st.booleans()):
        message.issued_at.CopyFrom(draw(_minutes))
    if kind is Kind.WANTED_PERSON_NOTICE:
        draw(_wanted(message.wanted_person_notice))
    elif kind is Kind.VICTIM_HANDOVER:
        draw(_handover(message.victim_handover))
    else:
        draw(_alert(message.hotline_alert))
    return message


@settings(max_examples=300, deadline=None)
@given(_messages())
def test_canonical_round_trip_is_lossless_for_what_the_format_holds(
    message: canonical.Message,
) -> None:
    encoded = ADAPTER.encode(message)
    assert encoded.warnings == ()
    assert ADAPTER.encode(message).data == encoded.data  # deterministic
    decoded, warnings = _decode(encoded.data)
    assert warnings == ()
    assert decoded == message


@st.composite
def _wild(draw: st.DrawFn, cls: type[Message], depth: int = 0) -> Message:
    """Any message of cls: every field maybe set, to any value its type allows (unknown enum
    numbers, impossible dates, control characters, blank text, out-of-range instants)."""
    message = cls()
    for field in message.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        if field.type == field.TYPE_MESSAGE:
            if depth > 4:
                continue
            # A throwaway instance tells the field's class without descriptor plumbing.
            scratch = getattr(cls(), field.name)
            sub = type(scratch.add()) if field.is_repeated else type(scratch)
            if field.is_repeated:
                for item in draw(st.lists(_wild(sub, depth + 1), max_size=2)):
                    getattr(message, field.name).add().CopyFrom(item)
            else:
                getattr(message, field.name).CopyFrom(draw(_wild(sub, depth + 1)))
            continue
        if field.type == field.TYPE_STRING:
            value: st.SearchStrategy[Any] = st.text(st.characters(codec="utf-8"), max_size=10)
        elif field.type == field.TYPE_BOOL:
            value = st.booleans()
        elif field.type == field.TYPE_ENUM:
            value = st.integers(0, 12)
        elif field.type == field.TYPE_UINT32:
            value = st.integers(0, 2**32 - 1)
        elif field.type == field.TYPE_INT32:
            value = st.integers(-1, 1_000_000_000)
        else:
            value = st.integers(-(2**40), 2**40)
        if field.is_repeated:
            getattr(message, field.name).extend(draw(st.lists(value, max_size=2)))
        else:
            setattr(message, field.name, draw(value))
    return message


@settings(max_examples=300, deadline=None)
@given(_wild(canonical.Message))
def test_any_canonical_message_encodes_to_a_decodable_notice_or_is_refused(
    message: Message,
) -> None:
    assert isinstance(message, canonical.Message)
    refusal: CannotEncode | None = None
    try:
        ADAPTER.encode(message)
    except CannotEncode as caught:
        refusal = caught
    if refusal is not None:
        assert refusal.problem.location in {"body", "sender_reference", "action"}
    # With what the root needs supplied, anything else is written, and readable.
    repaired = canonical.Message()
    repaired.CopyFrom(message)
    repaired.sender_reference = "REF-1"
    if repaired.action not in canonical.Action.values() or repaired.action == 0:
        repaired.action = canonical.ACTION_UPDATE
    if repaired.WhichOneof("body") is None:
        repaired.hotline_alert.SetInParent()
    encoded = ADAPTER.encode(repaired)
    _decode(encoded.data)
    assert ADAPTER.encode(repaired).data == encoded.data
    if repaired.hotline_alert.caller.phone.strip():
        assert any(w.location == "hotline_alert.caller.phone" for w in encoded.warnings)


def _damage(sample: str, position: int, inserted: str, removed: int) -> bytes:
    return (sample[:position] + inserted + sample[position + removed :]).encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["wanted.xml", "handover.xml", "alert.xml"]),
    st.data(),
)
def test_damaged_samples_are_refused_with_a_location_or_decoded(
    name: str, data: st.DataObject
) -> None:
    sample = _sample(name).decode("utf-8")
    position = data.draw(st.integers(0, len(sample)))
    inserted = data.draw(st.text("0123456789០១២៩-:/ ABZaz<>&\"'=\n", max_size=6))
    damaged = _damage(sample, position, inserted, data.draw(st.integers(0, 8)))
    invalid: DocumentInvalid | None = None
    try:
        result = ADAPTER.decode(damaged)
    except DocumentInvalid as caught:
        invalid = caught
    if invalid is not None:
        assert invalid.problems
        assert all(problem.location.startswith("line ") for problem in invalid.problems)
        assert all(problem.message.startswith("expected ") for problem in invalid.problems)
        return
    ADAPTER.encode(result.messages[0].message)  # what was read can be written back


def test_byte_order_mark_and_crlf_line_ends_are_accepted() -> None:
    data = b"\xef\xbb\xbf" + _sample("wanted.xml").replace(b"\n", b"\r\n")
    message, _ = _decode(data)
    assert message == _decode(_sample("wanted.xml"))[0]
    bad = b"\xef\xbb\xbf" + _doc("<Request>\r\nNOW</Request>").replace(b"\n", b"\r\n")
    assert _invalid(bad)[0].location == "line 3: /Notice/Request"


def test_fields_the_format_cannot_hold_are_reported_with_their_path() -> None:
    message = _message(Kind.WANTED_PERSON_NOTICE, case_id="0190b5a2-0000-7000-8000-000000000000")
    message.in_reply_to = "0190b5a2-0000-7000-8000-000000000001"
    message.issued_at.CopyFrom(Timestamp(seconds=1_795_000_000 + 17, nanos=5))
    subject = message.wanted_person_notice.subject
    subject.name_latin = "SOK Dara"
    subject.birth_place = "Banlung"
    subject.birth_date.CopyFrom(canonical.Date(year=1988, month=3))
    subject.identity_documents.add(
        type=canonical.DOCUMENT_TYPE_VN_CITIZEN_ID, number="064088001234", issuing_country="VN"
    )
    encoded = ADAPTER.encode(message)
    assert set(encoded.warnings) == {
        Problem("issued_at.seconds", CHANGED),
        Problem("issued_at.nanos", LEFT_OUT),
        Problem("wanted_person_notice.subject.birth_place", LEFT_OUT),
        Problem("wanted_person_notice.subject.birth_date.month", LEFT_OUT),
        Problem("wanted_person_notice.subject.identity_documents[0].type", LEFT_OUT),
        Problem("wanted_person_notice.subject.identity_documents[0].number", LEFT_OUT),
        Problem("wanted_person_notice.subject.identity_documents[0].issuing_country", LEFT_OUT),
    }
    # case_id and in_reply_to travel in the envelope: never reported, never written.
    assert b"0190b5a2" not in encoded.data
    assert b"<Born>1988</Born>" in encoded.data


def test_counter_proposal_is_written_as_update_and_reported() -> None:
    message = _message(Kind.VICTIM_HANDOVER)
    message.action = canonical.ACTION_COUNTER_PROPOSE
    encoded = ADAPTER.encode(message)
    assert b'action="UPDATE"' in encoded.data
    assert encoded.warnings == (Problem("action", CHANGED),)


@pytest.mark.parametrize("channel", [canonical.CHANNEL_ZALO, canonical.CHANNEL_FACEBOOK])
def test_zalo_and_facebook_are_written_as_messaging_and_reported(
    channel: canonical.Channel.ValueType,
) -> None:
    message = _message(Kind.HOTLINE_ALERT)
    message.hotline_alert.channel = channel
    encoded = ADAPTER.encode(message)
    assert b'channel="MESSAGING"' in encoded.data
    assert encoded.warnings == (Problem("hotline_alert.channel", CHANGED),)


def test_caller_and_call_id_are_never_written() -> None:
    message = _message(Kind.HOTLINE_ALERT)
    alert = message.hotline_alert
    alert.call_id = "111-20261121-0457"
    alert.caller.name = "Rah Lan Thị Hoa"
    alert.caller.phone = "0987 654 321"
    alert.summary = "Daughter held near the market"
    encoded = ADAPTER.encode(message)
    for forbidden in [
        "Rah Lan Thị Hoa",
        "Thị Hoa",
        "Thi Hoa",
        "RAH Lan",
        "0987 654 321",
        "0987654321",
        "654",
        "111-20261121-0457",
        "Caller",
    ]:
        assert forbidden.encode("utf-8") not in encoded.data, forbidden
    assert set(encoded.warnings) == {
        Problem("hotline_alert.call_id", LEFT_OUT),
        Problem("hotline_alert.caller.name", LEFT_OUT),
        Problem("hotline_alert.caller.phone", LEFT_OUT),
    }
    # The warnings name the fields, never their values.
    _assert_quotes_none(encoded.warnings, "Hoa", "0987", "0457")


def test_vietnamese_name_is_written_in_latin_only_never_in_name_kh() -> None:
    message = _message(Kind.VICTIM_HANDOVER)
    victim = message.victim_handover.victims.add(minor=True)
    victim.person.name = "Kpă H'Ngọc"
    child = victim.accompanying_children.add(name="Siu Thị Mai", name_latin="SIU Thi Mai")
    encoded = ADAPTER.encode(message)
    text = encoded.data.decode("utf-8")
    assert "<NameKh>" not in text
    assert "Ngọc" not in text
    assert "Thị" not in text
    assert "<NameLatin>KPA H'Ngoc</NameLatin>" in text  # derived, family name first
    assert "<NameLatin>SIU Thi Mai</NameLatin>" in text  # given by the message
    assert set(encoded.warnings) == {
        Problem("victim_handover.victims[0].person.name", LEFT_OUT),
        Problem("victim_handover.victims[0].accompanying_children[0].name", LEFT_OUT),
    }
    decoded, _ = _decode(encoded.data)
    assert decoded.victim_handover.victims[0].person.name == ""
    assert decoded.victim_handover.victims[0].person.name_latin == "KPA H'Ngoc"
    assert (
        child.name_latin == decoded.victim_handover.victims[0].accompanying_children[0].name_latin
    )


def test_khmer_name_without_latin_form_is_not_romanised() -> None:
    message = _message(Kind.WANTED_PERSON_NOTICE)
    message.wanted_person_notice.subject.name = "សុខ ដារ៉ា"
    encoded = ADAPTER.encode(message)
    assert "<NameKh>សុខ ដារ៉ា</NameKh>" in encoded.data.decode("utf-8")
    assert b"NameLatin" not in encoded.data
    assert encoded.warnings == ()


def test_unspecified_handling_is_written_as_the_kinds_default() -> None:
    handover = _message(Kind.VICTIM_HANDOVER, handling=canonical.HANDLING_UNSPECIFIED)
    alert = _message(Kind.HOTLINE_ALERT, handling=canonical.HANDLING_UNSPECIFIED)
    assert b'classification="PROTECTED"' in ADAPTER.encode(handover).data
    assert b'classification="RESTRICTED"' in ADAPTER.encode(alert).data
    assert ADAPTER.encode(handover).warnings == ()


def test_output_is_pretty_deterministic_xml_with_declaration() -> None:
    message = _message(Kind.VICTIM_HANDOVER)
    message.issued_at.CopyFrom(_stamp(2026, 11, 19, 8, 40))
    message.victim_handover.border_gate = "KH-OYADAV"
    message.victim_handover.planned_at.CopyFrom(_stamp(2026, 11, 24, 2, 0))
    officer = message.victim_handover.escort.add(phone="+855 12", unit="U", rank="R", name="N")
    assert officer.name == "N"
    data = ADAPTER.encode(message).data
    assert (
        data
        == (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Notice xmlns="{NS}" kind="HANDOVER" ref="REF-1" action="PROPOSE" '
            'issued="19-11-2026 15:40" classification="RESTRICTED">\n'
            '  <Crossing gate="KH-OYADAV" at="24-11-2026 09:00"/>\n'
            "  <Escort>\n"
            '    <Officer name="N" rank="R" unit="U" phone="+855 12"/>\n'
            "  </Escort>\n"
            "</Notice>\n"
        ).encode()
    )


def test_special_characters_are_escaped_and_survive() -> None:
    message = _message(Kind.HOTLINE_ALERT, sender_reference='A&B "1" <2>')
    message.hotline_alert.summary = "a < b & c > d\r\nline \"two\"\t'x' ]]>"
    message.hotline_alert.place = "first\nsecond\tthird\rfourth"
    message.hotline_alert.province = "KH-16"
    encoded = ADAPTER.encode(message)
    assert b'ref="A&amp;B &quot;1&quot; &lt;2&gt;"' in encoded.data
    assert b"province=" in encoded.data
    assert encoded.warnings == ()
    assert _decode(encoded.data)[0] == message


def test_characters_xml_cannot_hold_are_removed_and_reported() -> None:
    message = _message(Kind.WANTED_PERSON_NOTICE)
    message.wanted_person_notice.caveat = "armed\x00\x1b"
    encoded = ADAPTER.encode(message)
    assert b"<Caveat>armed</Caveat>" in encoded.data
    assert encoded.warnings == (Problem("wanted_person_notice.caveat", CHANGED),)


def test_message_without_body_reference_or_action_cannot_be_encoded() -> None:
    with pytest.raises(CannotEncode) as no_body:
        ADAPTER.encode(canonical.Message(sender_reference="R", action=canonical.ACTION_ISSUE))
    assert no_body.value.problem.location == "body"
    with pytest.raises(CannotEncode) as no_reference:
        ADAPTER.encode(_message(Kind.WANTED_PERSON_NOTICE, sender_reference=""))
    assert no_reference.value.problem.location == "sender_reference"
    unspecified = _message(Kind.HOTLINE_ALERT)
    unspecified.action = canonical.ACTION_UNSPECIFIED
    with pytest.raises(CannotEncode) as no_action:
        ADAPTER.encode(unspecified)
    assert no_action.value.problem.location == "action"


def test_passport_and_id_card_keep_their_order_and_the_passport_its_nationality() -> None:
    body = """<Subject><Person>
<Nationality>KH</Nationality>
<Passport>N0១234567</Passport>
<IdCard>០១0456789</IdCard>
</Person></Subject>"""
    message, _ = _decode(_doc(body))
    assert list(message.wanted_person_notice.subject.identity_documents) == [
        canonical.IdentityDocument(
            type=canonical.DOCUMENT_TYPE_PASSPORT, number="N01234567", issuing_country="KH"
        ),
        canonical.IdentityDocument(
            type=canonical.DOCUMENT_TYPE_KH_NATIONAL_ID, number="010456789", issuing_country="KH"
        ),
    ]
    no_nationality, _ = _decode(_doc("<Subject><Person><Passport>X1</Passport></Person></Subject>"))
    assert no_nationality.wanted_person_notice.subject.identity_documents[0].issuing_country == ""


# Quirks of the spec


def test_nfd_text_is_normalised_to_nfc() -> None:
    location = unicodedata.normalize("NFD", "Lệ Thanh, Đức Cơ")
    court = unicodedata.normalize("NFD", "Tòa án nhân dân")
    body = (
        f'<Warrant court="{court}"/>\n'
        f'<LastSeen province="VN-30">{location}</LastSeen>\n'
        f"<Subject><Person><NameLatin>{unicodedata.normalize('NFD', 'Nguyễn')}</NameLatin>"
        "</Person></Subject>"
    )
    assert location != "Lệ Thanh, Đức Cơ"
    message, _ = _decode(_doc(body))
    notice = message.wanted_person_notice
    assert notice.last_known_location == "Lệ Thanh, Đức Cơ"
    assert notice.warrant.issuing_authority == "Tòa án nhân dân"
    assert notice.subject.name_latin == "Nguyễn"


def test_khmer_and_ascii_digits_mixed_in_one_document_and_one_value() -> None:
    body = """<Subject><Person>
<Born>1២-0៤-២០10</Born>
<IdCard>០១០456789</IdCard>
</Person></Subject>
<Warrant date="០២-02-២០២៦"/>
<ValidUntil>៣១-១២-2026</ValidUntil>"""
    message, _ = _decode(_doc(body, issued="២០-11-២០២៦ ០៩:៣០"))
    notice = message.wanted_person_notice
    assert message.issued_at == _stamp(2026, 11, 20, 2, 30)
    assert notice.subject.birth_date == canonical.Date(year=2010, month=4, day=12)
    assert notice.subject.identity_documents[0].number == "010456789"
    assert notice.warrant.issued_on == canonical.Date(year=2026, month=2, day=2)
    assert notice.valid_until == canonical.Date(year=2026, month=12, day=31)
    written = ADAPTER.encode(message).data.decode("utf-8")
    assert not any("០" <= char <= "៩" for char in written)
    assert 'issued="20-11-2026 09:30"' in written


@pytest.mark.parametrize("born", ["1988", "១៩៨៨"])
def test_birth_year_alone_is_a_partial_date(born: str) -> None:
    message, _ = _decode(_doc(f"<Subject><Person><Born>{born}</Born></Person></Subject>"))
    assert message.wanted_person_notice.subject.birth_date == canonical.Date(year=1988)
    assert b"<Born>1988</Born>" in ADAPTER.encode(message).data


def test_local_time_crossing_midnight_is_the_previous_day_in_utc() -> None:
    body = '<Victims/><Crossing gate="KH-OYADAV" at="01-01-2027 03:00"/>'
    message, _ = _decode(_doc(body, kind="HANDOVER", action="PROPOSE", issued="01-01-2027 06:59"))
    assert message.victim_handover.planned_at == _stamp(2026, 12, 31, 20, 0)
    assert message.issued_at == _stamp(2026, 12, 31, 23, 59)


def test_utc_crossing_midnight_is_written_as_the_next_day_locally() -> None:
    message = _message(Kind.HOTLINE_ALERT)
    message.issued_at.CopyFrom(_stamp(2026, 12, 31, 18, 30))
    message.hotline_alert.received_at.CopyFrom(_stamp(2026, 12, 31, 17, 0))
    data = ADAPTER.encode(message).data
    assert b'issued="01-01-2027 01:30"' in data
    assert b'received="01-01-2027 00:00"' in data


@pytest.mark.parametrize(
    ("kind", "action", "expected"),
    [
        ("WANTED", "NEW", canonical.ACTION_ISSUE),
        ("WANTED", "UPDATE", canonical.ACTION_UPDATE),
        ("ALERT", "CANCEL", canonical.ACTION_CANCEL),
        ("HANDOVER", "PROPOSE", canonical.ACTION_PROPOSE),
        ("HANDOVER", "ACCEPT", canonical.ACTION_ACCEPT),
        ("HANDOVER", "REJECT", canonical.ACTION_REJECT),
        ("HANDOVER", "COMPLETE", canonical.ACTION_COMPLETE),
        ("HANDOVER", "UPDATE", canonical.ACTION_UPDATE),
        ("HANDOVER", "CANCEL", canonical.ACTION_CANCEL),
    ],
)
def test_actions_map_to_canonical(kind: str, action: str, expected: int) -> None:
    message, warnings = _decode(_doc("", kind=kind, action=action))
    assert message.action == expected
    assert warnings == ()


def test_new_on_a_handover_means_propose_with_a_warning() -> None:
    message, warnings = _decode(_doc("", kind="HANDOVER", action="NEW", classification="PROTECTED"))
    assert message.action == canonical.ACTION_PROPOSE
    assert warnings == (
        Problem("line 2: /Notice/@action", "NEW on a HANDOVER means PROPOSE; decoded as PROPOSE"),
    )
    assert b'action="PROPOSE"' in ADAPTER.encode(message).data


@pytest.mark.parametrize(
    ("kind", "handling", "default"),
    [
        ("HANDOVER", canonical.HANDLING_VICTIM_PROTECTED, "PROTECTED"),
        ("WANTED", canonical.HANDLING_RESTRICTED, "RESTRICTED"),
        ("ALERT", canonical.HANDLING_RESTRICTED, "RESTRICTED"),
    ],
)
def test_missing_classification_gets_the_kinds_default_with_a_warning(
    kind: str, handling: int, default: str
) -> None:
    action = "PROPOSE" if kind == "HANDOVER" else "NEW"
    message, warnings = _decode(_doc("", kind=kind, action=action, classification=None))
    assert message.handling == handling
    assert warnings == (
        Problem(
            "line 2: /Notice/@classification",
            f"no classification; the default for this kind ({default}) was applied",
        ),
    )


@pytest.mark.parametrize(
    ("code", "handling"),
    [
        ("NORMAL", canonical.HANDLING_NORMAL),
        ("RESTRICTED", canonical.HANDLING_RESTRICTED),
        ("PROTECTED", canonical.HANDLING_VICTIM_PROTECTED),
    ],
)
def test_classifications_map_to_handling(code: str, handling: int) -> None:
    assert _decode(_doc("", classification=code))[0].handling == handling


def test_needs_are_space_separated_and_children_are_persons() -> None:
    body = """<Victims>
<Person minor="false">
<NameLatin>SIU H'Yen</NameLatin>
<Needs>  MEDICAL
   LEGAL PSYCHOLOGICAL INTERPRETER </Needs>
<Children>
<Person><NameLatin>SIU Thi Mai</NameLatin><Born>05-06-2023</Born></Person>
<Person><NameKh>ចាន់ ដារ៉ា</NameKh><Sex>M</Sex></Person>
</Children>
</Person>
</Victims>"""
    message, warnings = _decode(_doc(body, kind="HANDOVER", action="PROPOSE"))
    assert warnings == ()
    victim = message.victim_handover.victims[0]
    assert list(victim.needs) == [
        canonical.NEED_MEDICAL,
        canonical.NEED_LEGAL,
        canonical.NEED_PSYCHOLOGICAL,
        canonical.NEED_INTERPRETER,
    ]
    assert list(victim.accompanying_children) == [
        canonical.Person(
            name_latin="SIU Thi Mai", birth_date=canonical.Date(year=2023, month=6, day=5)
        ),
        canonical.Person(name="ចាន់ ដារ៉ា", sex=canonical.SEX_MALE),
    ]
    assert b"<Needs>MEDICAL LEGAL PSYCHOLOGICAL INTERPRETER</Needs>" in ADAPTER.encode(message).data


def test_alert_persons_have_roles_and_channels_map() -> None:
    body = """<Alert channel="MESSAGING" category="MISSING" urgency="HIGH">
<Persons>
<Person role="VICTIM"><NameLatin>KSOR Y Bhin</NameLatin></Person>
<Person role="SUSPECT"><Description>called Tuan</Description></Person>
</Persons>
</Alert>"""
    message, _ = _decode(_doc(body, kind="ALERT"))
    alert = message.hotline_alert
    assert alert.channel == canonical.CHANNEL_MESSAGING
    assert alert.category == canonical.CATEGORY_MISSING
    assert alert.urgency == canonical.URGENCY_HIGH
    assert [person.role for person in alert.persons] == [
        canonical.ROLE_VICTIM,
        canonical.ROLE_SUSPECT,
    ]
    assert alert.persons[1].person.description == "called Tuan"


@pytest.mark.parametrize("name", ["Cambodia", "Campuchia", "Việt Nam"])
def test_country_names_become_iso_codes_with_a_warning(name: str) -> None:
    message, warnings = _decode(
        _doc(f"<Subject><Person><Nationality>{name}</Nationality></Person></Subject>")
    )
    assert message.wanted_person_notice.subject.nationality in {"KH", "VN"}
    assert warnings == (
        Problem(
            "line 3: /Notice/Subject/Person/Nationality",
            "expected an ISO 3166-1 alpha-2 code; the country name was converted",
        ),
    )


def test_name_kh_in_latin_script_is_kept_and_warned_about() -> None:
    body = "<Subject><Person><NameKh>Nguyễn Văn Hùng</NameKh></Person></Subject>"
    message, warnings = _decode(_doc(body))
    assert message.wanted_person_notice.subject.name == "Nguyễn Văn Hùng"
    assert message.wanted_person_notice.subject.name_latin == "NGUYEN Van Hung"
    assert [warning.location for warning in warnings] == ["line 3: /Notice/Subject/Person/NameKh"]
    assert "Hùng" not in str(warnings[0])


def test_unknown_elements_and_attributes_are_warned_about_and_ignored() -> None:
    body = """<Alert urgency="HIGH" colour="red">
<Caller><Name>Somebody</Name><Phone>012</Phone></Caller>
<Summary>text</Summary>
</Alert>
<Extra xmlns="urn:other"/>"""
    message, warnings = _decode(_doc(body, kind="ALERT"))
    assert not message.hotline_alert.HasField("caller")
    assert message.hotline_alert.summary == "text"
    assert warnings == (
        Problem("line 7: /Notice/Extra", f"element outside namespace {NS}, ignored"),
        Problem("line 3: /Notice/Alert/@colour", "unknown attribute, ignored"),
        Problem("line 4: /Notice/Alert/Caller", "unknown element here, ignored"),
    )


def test_issued_is_optional_and_a_sparse_cancel_decodes() -> None:
    message, warnings = _decode(_doc("", kind="HANDOVER", action="CANCEL", issued=None))
    assert warnings == ()
    assert not message.HasField("issued_at")
    assert message.WhichOneof("body") == "victim_handover"
    assert ADAPTER.encode(message).warnings == ()


# Bad input


def test_bad_birth_date_is_located_with_index_and_line() -> None:
    body = """<Victims>
<Person minor="false"><NameLatin>TRAN An</NameLatin></Person>
<Person minor="true">
<NameLatin>SECRETNAME Lan</NameLatin>
<Born>31-02-2010</Born>
</Person>
</Victims>"""
    problems = _invalid(_doc(body, kind="HANDOVER", action="PROPOSE"))
    assert problems == (
        Problem(
            "line 7: /Notice/Victims/Person[2]/Born",
            "expected a date dd-mm-yyyy or a birth year yyyy (ASCII or Khmer digits)",
        ),
    )
    _assert_quotes_none(problems, "31-02-2010", "SECRETNAME")


def test_every_problem_is_reported_at_once_without_values() -> None:
    body = """<Victims>
<Person>
<NameLatin>HIDDEN Victim</NameLatin>
<Sex>X9</Sex>
<IdCard>12345</IdCard>
<Passport>AB-12</Passport>
<Nationality>Atlantis</Nationality>
<Needs>MEDICAL FOOD7</Needs>
<Photo/>
</Person>
</Victims>
<Crossing gate="KH-OYADAV" at="24-11-2026 9:00"/>"""
    problems = _invalid(_doc(body, kind="HANDOVER", action="GIVE", issued="2026-11-24"))
    assert problems == (
        Problem(
            "line 2: /Notice/@issued",
            "expected a time dd-mm-yyyy HH:MM, local time UTC+7 (ASCII or Khmer digits)",
        ),
        Problem(
            "line 2: /Notice/@action",
            "expected an action: one of PROPOSE, ACCEPT, REJECT, COMPLETE, UPDATE, CANCEL",
        ),
        Problem("line 6: /Notice/Victims/Person/Sex", "expected a sex: one of M, F, U"),
        Problem(
            "line 9: /Notice/Victims/Person/Nationality",
            "expected an ISO 3166-1 alpha-2 country code (VN, KH, LA)",
        ),
        Problem(
            "line 7: /Notice/Victims/Person/IdCard",
            "expected a Cambodian ID card number of 9 digits (ASCII or Khmer digits)",
        ),
        Problem(
            "line 8: /Notice/Victims/Person/Passport",
            "expected a passport number of ASCII letters and digits",
        ),
        Problem("line 11: /Notice/Victims/Person/Photo/@ref", "expected an attachment id"),
        Problem("line 4: /Notice/Victims/Person/@minor", 'expected minor="true" or minor="false"'),
        Problem(
            "line 10: /Notice/Victims/Person/Needs",
            "expected needs separated by spaces, each: one of MEDICAL, PSYCHOLOGICAL, LEGAL, "
            "INTERPRETER",
        ),
        Problem(
            "line 14: /Notice/Crossing/@at",
            "expected a time dd-mm-yyyy HH:MM, local time UTC+7 (ASCII or Khmer digits)",
        ),
    )
    _assert_quotes_none(
        problems, "HIDDEN", "X9", "12345", "AB-12", "Atlantis", "FOOD7", "9:00", "GIVE", "2026-11"
    )


@pytest.mark.parametrize(
    ("body", "location", "message"),
    [
        (
            '<LastSeen province="Gia Lai">x</LastSeen>',
            "line 3: /Notice/LastSeen/@province",
            "expected an ISO 3166-2 province code (KH-16, VN-30)",
        ),
        (
            "<ValidUntil>2027</ValidUntil>",
            "line 3: /Notice/ValidUntil",
            "expected a date dd-mm-yyyy (ASCII or Khmer digits)",
        ),
        (
            '<Warrant date="15/01/2026"/>',
            "line 3: /Notice/Warrant/@date",
            "expected a date dd-mm-yyyy (ASCII or Khmer digits)",
        ),
        (
            "<Request>SHOOT</Request>",
            "line 3: /Notice/Request",
            "expected a request: one of ARREST, LOCATE, INFORM",
        ),
        (
            "<Subject><Person><Born>1990</Born>\n<Born>1991</Born></Person></Subject>",
            "line 4: /Notice/Subject/Person/Born[2]",
            "expected at most one Born here",
        ),
        (
            "<Caveat>armed <b>really</b></Caveat>",
            "line 3: /Notice/Caveat",
            "expected text only, no child elements",
        ),
    ],
)
def test_bad_wanted_fields_are_located(body: str, location: str, message: str) -> None:
    assert _invalid(_doc(body)) == (Problem(location, message),)


def test_action_of_another_kind_is_refused() -> None:
    assert _invalid(_doc("", kind="WANTED", action="PROPOSE")) == (
        Problem("line 2: /Notice/@action", "expected an action: one of NEW, UPDATE, CANCEL"),
    )


def test_missing_kind_and_reference_are_refused() -> None:
    data = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Notice xmlns="{NS}" kind="MEMO" action="NEW">\n'
        "</Notice>\n"
    ).encode()
    assert _invalid(data) == (
        Problem("line 2: /Notice/@kind", "expected a kind: one of WANTED, HANDOVER, ALERT"),
        Problem("line 2: /Notice/@ref", "expected the sender's reference"),
    )


@pytest.mark.parametrize(
    "root",
    [
        "<Notice kind='WANTED' ref='R' action='NEW'/>",
        "<Notice xmlns='urn:kh:police:liaison:2' kind='WANTED' ref='R' action='NEW'/>",
        "<k:Notice xmlns:k='urn:other' kind='WANTED' ref='R' action='NEW'/>",
    ],
)
def test_root_outside_the_namespace_is_refused(root: str) -> None:
    problems = _invalid(f'<?xml version="1.0" encoding="UTF-8"?>\n{root}\n'.encode())
    assert problems == (
        Problem(
            "line 2: /Notice",
            "expected the root element Notice in namespace urn:kh:police:liaison:1",
        ),
    )


def test_unknown_root_is_refused_naming_it() -> None:
    problems = _invalid(f'<Message xmlns="{NS}"/>'.encode())
    assert problems == (
        Problem(
            "line 1: /Message",
            "expected the root element Notice in namespace urn:kh:police:liaison:1",
        ),
    )


def test_not_utf8_is_refused_with_its_line() -> None:
    data = _doc("<Caveat>ok</Caveat>").replace(b"ok", "Lê".encode("cp1258"))
    assert _invalid(data) == (Problem("line 3", "expected UTF-8 text"),)


def test_other_declared_encoding_is_refused() -> None:
    data = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<Notice/>'
    assert _invalid(data) == (
        Problem("line 1: /", "expected UTF-8 (the XML declaration names another encoding)"),
    )


def test_malformed_xml_is_located_at_the_open_element() -> None:
    data = _doc("<Subject>\n<Person>\n<NameLatin>SECRET</Person>\n</Subject>")
    problems = _invalid(data)
    assert problems == (
        Problem(
            "line 5: /Notice/Subject/Person/NameLatin",
            "expected well-formed XML (mismatched tag)",
        ),
    )
    _assert_quotes_none(problems, "SECRET")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml at all",
        b"<Notice",
        _doc("<Caveat>&undefined;</Caveat>"),
    ],
)
def test_unparseable_documents_are_refused(data: bytes) -> None:
    problems = _invalid(data)
    assert len(problems) == 1
    assert problems[0].location.startswith("line ")
    assert problems[0].message.startswith("expected well-formed XML (")


_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE Notice [
<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<Notice xmlns="urn:kh:police:liaison:1" kind="WANTED" ref="R" action="NEW">
<Caveat>&c;</Caveat></Notice>
"""
_EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE Notice SYSTEM "file:///etc/passwd">
<Notice xmlns="urn:kh:police:liaison:1" kind="WANTED" ref="R" action="NEW"/>
"""
_ENTITY_ONLY = b"""<!DOCTYPE Notice [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<Notice xmlns="urn:kh:police:liaison:1" kind="WANTED" ref="R" action="NEW">&secret;</Notice>
"""


@pytest.mark.parametrize("data", [_BOMB, _EXTERNAL, _ENTITY_ONLY])
def test_doctype_and_entities_are_refused(data: bytes) -> None:
    problems = _invalid(data)
    assert len(problems) == 1
    assert problems[0].location.endswith(": /")
    assert problems[0].message == "expected no DOCTYPE or entity declarations (refused for safety)"


def test_excessive_nesting_is_refused() -> None:
    data = _doc("<Extra>" * 100 + "</Extra>" * 100)
    problems = _invalid(data)
    assert problems[0].message == "expected elements nested at most 64 deep"


def test_missing_attachment_reference_is_refused() -> None:
    body = '<Document ref="att-1"/>\n<Document/>'
    assert _invalid(_doc(body, kind="HANDOVER", action="PROPOSE")) == (
        Problem("line 4: /Notice/Document[2]/@ref", "expected an attachment id"),
    )


def test_bad_alert_codes_are_refused() -> None:
    body = (
        '<Alert channel="PIGEON" category="GOSSIP" urgency="LOW" received="yesterday">\n'
        '<Persons><Person role="WITNESS"/></Persons>\n'
        "</Alert>"
    )
    problems = _invalid(_doc(body, kind="ALERT"))
    assert [problem.location for problem in problems] == [
        "line 3: /Notice/Alert/@received",
        "line 3: /Notice/Alert/@channel",
        "line 3: /Notice/Alert/@category",
        "line 3: /Notice/Alert/@urgency",
        "line 4: /Notice/Alert/Persons/Person/@role",
    ]
    assert problems[1].message == "expected a channel: one of PHONE, MESSAGING, WALK_IN"
    _assert_quotes_none(problems, "PIGEON", "GOSSIP", "LOW", "yesterday", "WITNESS")
