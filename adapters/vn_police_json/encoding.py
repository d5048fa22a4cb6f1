"""Writing a canonical message as a vn-police-json document.

Keys are written in the order the spec lists them and empty optional fields are left out, so
the same message always gives the same bytes and a clerk reading the JSON sees the spec's
layout. A value the format cannot hold is left out or written as the closest code; the
adapter then decodes the output again and reports every difference (see __init__).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from google.protobuf.timestamp_pb2 import Timestamp

from adapters.base import CannotEncode, Problem
from adapters.common.countries import vietnamese_from_iso
from adapters.common.names import is_latin_script
from adapters.common.text import nfc
from adapters.vn_police_json import codes
from adapters.vn_police_json.values import (
    read_call_id,
    read_citizen_id,
    read_passport,
    read_phone,
    read_province,
    write_date,
    write_time,
)
from gateway.wire import Kind, canonical

Document = dict[str, object]


def _put(doc: Document, key: str, value: object) -> None:
    """Sets key unless value is empty: the format leaves out fields it has nothing for."""
    if value is None or value in ("", [], {}):
        return
    doc[key] = value


def _texts(values: Iterable[str]) -> list[str]:
    return [text for text in (nfc(value) for value in values) if text]


def _first(
    person: canonical.Person,
    kind: canonical.DocumentType.ValueType,
    read: Callable[[str], str | None],
) -> str | None:
    """The number of the person's first valid document of a kind, as the format writes it."""
    for document in person.identity_documents:
        if document.type == kind:
            number = read(document.number)
            if number is not None:
                return number
    return None


def _person(person: canonical.Person) -> Document:
    doc: Document = {}
    # One name field: the name in the person's own script, else the Latin form.
    # Vietnamese officers read Latin script: a Khmer-script name goes out in its Latin form
    # when there is one (the loss check reports the Khmer form as left out).
    native, latin = nfc(person.name), nfc(person.name_latin)
    readable = native if not latin or is_latin_script(native) else latin
    _put(doc, "ho_ten", readable or latin)
    _put(doc, "ten_goi_khac", _texts(person.aliases))
    _put(doc, "gioi_tinh", codes.SEX.write(person.sex))
    if person.HasField("birth_date"):
        _put(doc, "ngay_sinh", write_date(person.birth_date))
    _put(doc, "noi_sinh", nfc(person.birth_place))
    _put(doc, "quoc_tich", vietnamese_from_iso(person.nationality))
    # One citizen ID and one passport: the first valid of each; any other is reported lost.
    _put(doc, "so_cccd", _first(person, canonical.DOCUMENT_TYPE_VN_CITIZEN_ID, read_citizen_id))
    _put(doc, "so_ho_chieu", _first(person, canonical.DOCUMENT_TYPE_PASSPORT, read_passport))
    _put(doc, "dan_toc", nfc(person.ethnicity))
    _put(doc, "dac_diem", nfc(person.description))
    _put(doc, "anh", _texts(person.attachment_ids))
    return doc


def _time(present: bool, stamp: Timestamp) -> str | None:
    return write_time(stamp) if present else None


def _province(code: str) -> str | None:
    return code if read_province(code) is not None else None


def _wanted(notice: canonical.WantedPersonNotice, doc: Document) -> None:
    if notice.HasField("subject"):
        _put(doc, "doi_tuong", _person(notice.subject))
    offence: Document = {}
    _put(offence, "dieu_luat", nfc(notice.offence.legal_basis))
    _put(offence, "tom_tat", nfc(notice.offence.summary))
    _put(doc, "toi_danh", offence)
    warrant: Document = {}
    _put(warrant, "so", nfc(notice.warrant.number))
    _put(warrant, "co_quan", nfc(notice.warrant.issuing_authority))
    if notice.warrant.HasField("issued_on"):
        _put(warrant, "ngay", write_date(notice.warrant.issued_on))
    _put(doc, "quyet_dinh_truy_na", warrant)
    _put(doc, "noi_o_cuoi", nfc(notice.last_known_location))
    _put(doc, "tinh", _province(notice.last_known_province))
    _put(doc, "yeu_cau", codes.REQUEST.write(notice.request))
    _put(doc, "luu_y", nfc(notice.caveat))
    if notice.HasField("valid_until"):
        _put(doc, "hieu_luc_den", write_date(notice.valid_until))


def _victim(victim: canonical.Victim) -> Document:
    doc = _person(victim.person)
    # Always written, as partners do: false is a statement (an adult), not an empty field.
    doc["duoi_18_tuoi"] = victim.minor
    _put(doc, "nhu_cau", [code for code in map(codes.NEED.write, victim.needs) if code])
    _put(doc, "tre_di_cung", [_person(child) for child in victim.accompanying_children])
    return doc


def _handover(handover: canonical.VictimHandover, doc: Document) -> None:
    _put(doc, "nan_nhan", [_victim(victim) for victim in handover.victims])
    _put(doc, "cua_khau", nfc(handover.border_gate))
    _put(doc, "thoi_gian_du_kien", _time(handover.HasField("planned_at"), handover.planned_at))
    escort: list[object] = []
    for officer in handover.escort:
        written: Document = {}
        _put(written, "ho_ten", nfc(officer.name))
        _put(written, "cap_bac", nfc(officer.rank))
        _put(written, "don_vi", nfc(officer.unit))
        _put(written, "dien_thoai", read_phone(nfc(officer.phone)))
        escort.append(written)
    _put(doc, "can_bo_ho_tong", escort)
    _put(doc, "ghi_chu", nfc(handover.note))
    _put(doc, "tai_lieu", _texts(handover.attachment_ids))


def _alert(alert: canonical.HotlineAlert, doc: Document) -> None:
    _put(doc, "ma_cuoc_goi", read_call_id(nfc(alert.call_id)))
    _put(doc, "thoi_diem_nhan", _time(alert.HasField("received_at"), alert.received_at))
    _put(doc, "kenh", codes.CHANNEL.write(alert.channel))
    _put(doc, "phan_loai", codes.CATEGORY.write(alert.category))
    _put(doc, "muc_do", codes.URGENCY.write(alert.urgency))
    _put(doc, "dia_diem", nfc(alert.place))
    _put(doc, "tinh", _province(alert.province))
    _put(doc, "noi_dung", nfc(alert.summary))
    caller: Document = {}
    _put(caller, "ho_ten", nfc(alert.caller.name))
    _put(caller, "dien_thoai", read_phone(nfc(alert.caller.phone)))
    _put(doc, "nguoi_bao_tin", caller)
    persons: list[object] = []
    for involved in alert.persons:
        written: Document = {}
        _put(written, "vai_tro", codes.ROLE.write(involved.role))
        written.update(_person(involved.person))
        persons.append(written)
    _put(doc, "nguoi_lien_quan", persons)


def encode_document(message: canonical.Message) -> bytes:
    """The message as a document; CannotEncode when a field the format requires is missing."""
    body = message.WhichOneof("body")
    if body is None:
        raise CannotEncode(
            Problem(
                "body",
                "expected a wanted_person_notice, victim_handover or hotline_alert: "
                "vn-police-json carries these three kinds",
            )
        )
    kind = Kind(body)
    reference = nfc(message.sender_reference)
    if not reference:
        raise CannotEncode(
            Problem("sender_reference", "expected the sender's reference: so_hieu is required")
        )
    table = codes.HANDOVER_ACTION if kind is Kind.VICTIM_HANDOVER else codes.NOTICE_ACTION
    action = table.write(message.action)
    if action is None:
        raise CannotEncode(Problem("action", "expected an action: thao_tac is required"))
    issued = _time(message.HasField("issued_at"), message.issued_at)
    if issued is None:
        raise CannotEncode(
            Problem(
                "issued_at",
                "expected when the message was written, years 1 to 9999 in local time: "
                "thoi_diem is required",
            )
        )
    # An unmarked message gets its kind's default, written out so the partner sees it.
    handling = codes.HANDLING.write(message.handling) or codes.HANDLING.write(
        codes.DEFAULT_HANDLING[kind]
    )

    doc: Document = {
        "loai_tin": codes.CODE_BY_KIND[kind],
        "so_hieu": reference,
        "thao_tac": action,
        "thoi_diem": issued,
        "do_mat": handling,
    }
    if kind is Kind.WANTED_PERSON_NOTICE:
        _wanted(message.wanted_person_notice, doc)
    elif kind is Kind.VICTIM_HANDOVER:
        _handover(message.victim_handover, doc)
    else:
        _alert(message.hotline_alert, doc)
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
