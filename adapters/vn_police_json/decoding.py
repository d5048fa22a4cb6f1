"""Reading one vn-police-json document into a canonical message.

The reader walks the whole document even after a problem, so one DocumentInvalid lists every
bad field with its JSON pointer; only then is the message dropped, so a half-read message
never leaves this module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from adapters.base import Decoded, DocumentInvalid, Problem
from adapters.common import bounded_json
from adapters.common.countries import VIETNAMESE_NAMES, iso_from_vietnamese
from adapters.common.limits import MESSAGE_LIMITS, check_size
from adapters.common.names import family_first_latin, is_latin_script
from adapters.common.text import nfc
from adapters.vn_police_json import codes
from adapters.vn_police_json.codes import CodeTable
from adapters.vn_police_json.values import (
    CITIZEN_ID_EXPECTED,
    DATE_EXPECTED,
    PASSPORT_EXPECTED,
    PROVINCE_EXPECTED,
    TIME_EXPECTED,
    read_call_id,
    read_citizen_id,
    read_date,
    read_passport,
    read_phone,
    read_province,
    read_time,
)
from gateway.wire import Kind, canonical

T = TypeVar("T")
V = TypeVar("V", bound=int)

PERSON_KEYS = (
    "ho_ten",
    "ten_goi_khac",
    "gioi_tinh",
    "ngay_sinh",
    "noi_sinh",
    "quoc_tich",
    "so_cccd",
    "so_ho_chieu",
    "dan_toc",
    "dac_diem",
    "anh",
)
VICTIM_KEYS = (*PERSON_KEYS, "duoi_18_tuoi", "nhu_cau", "tre_di_cung")
INVOLVED_KEYS = ("vai_tro", *PERSON_KEYS)
OFFENCE_KEYS = ("dieu_luat", "tom_tat")
WARRANT_KEYS = ("so", "co_quan", "ngay")
ESCORT_KEYS = ("ho_ten", "cap_bac", "don_vi", "dien_thoai")
CALLER_KEYS = ("ho_ten", "dien_thoai")
HEADER_KEYS = ("loai_tin", "so_hieu", "thao_tac", "thoi_diem", "do_mat")
BODY_KEYS: dict[Kind, tuple[str, ...]] = {
    Kind.WANTED_PERSON_NOTICE: (
        "doi_tuong",
        "toi_danh",
        "quyet_dinh_truy_na",
        "noi_o_cuoi",
        "tinh",
        "yeu_cau",
        "luu_y",
        "hieu_luc_den",
    ),
    Kind.VICTIM_HANDOVER: (
        "nan_nhan",
        "cua_khau",
        "thoi_gian_du_kien",
        "can_bo_ho_tong",
        "ghi_chu",
        "tai_lieu",
    ),
    Kind.HOTLINE_ALERT: (
        "ma_cuoc_goi",
        "thoi_diem_nhan",
        "kenh",
        "phan_loai",
        "muc_do",
        "dia_diem",
        "tinh",
        "noi_dung",
        "nguoi_bao_tin",
        "nguoi_lien_quan",
    ),
}
_ALL_BODY_KEYS = tuple(key for keys in BODY_KEYS.values() for key in keys)

COUNTRY_EXPECTED = "expected a country name in Vietnamese: " + ", ".join(VIETNAMESE_NAMES.values())
# Nationalities whose people write their names in another script than Latin: a plain ASCII
# ho_ten for them is a romanisation, not the name in their own script (see name_forms).
NON_LATIN_SCRIPT_NATIONALITIES = frozenset({"KH", "LA", "CN", "TH", "MM"})


class JsonObject(dict[str, object]):
    """A JSON object that remembers keys given twice (json keeps only the last value)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, object]]) -> JsonObject:
    result = JsonObject(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        repeated: list[str] = []
        for key, _ in pairs:
            if key in seen and key not in repeated:
                repeated.append(key)
            seen.add(key)
        result.duplicates = tuple(repeated)
    return result


def pointer(parent: str, token: str | int) -> str:
    """JSON pointer (RFC 6901) of a member or item of `parent`."""
    escaped = str(token).replace("~", "~0").replace("/", "~1")
    # A key may hold an unpaired surrogate escape; a Problem must stay writable as UTF-8.
    printable = escaped.encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{parent}/{printable}"


def load(data: bytes) -> object:
    """The JSON value of a document, or DocumentInvalid saying where its syntax breaks
    (DocumentTooComplex where it exceeds MESSAGE_LIMITS)."""
    check_size(data, MESSAGE_LIMITS)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentInvalid(
            [Problem("/", f"expected UTF-8 text; byte {error.start} is not UTF-8")]
        ) from None
    try:
        return bounded_json.loads(text, MESSAGE_LIMITS, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as error:
        # msg is the parser's description (`Expecting ',' delimiter`); it never quotes input.
        raise DocumentInvalid(
            [
                Problem(
                    "/",
                    f"expected well-formed JSON ({error.msg}) "
                    f"at line {error.lineno}, column {error.colno}",
                )
            ]
        ) from None


def name_forms(written: str, nationality: str) -> tuple[str, str]:
    """(name, name_latin) of a ho_ten.

    ho_ten is the name as Vietnamese police write it: in Vietnamese (Latin with diacritics)
    for Vietnamese and highland names, whose Latin form is derived; in Khmer script if the
    clerk copied it so, with no Latin form guessed; or, for a Cambodian, Lao, Chinese, Thai
    or Burmese national, often already romanised, which is then the Latin form and the name
    in their own script is unknown.
    """
    if not written:
        return "", ""
    if nationality in NON_LATIN_SCRIPT_NATIONALITIES and written.isascii():
        return "", written
    if is_latin_script(written):
        return written, family_first_latin(written)
    return written, ""


class Reader:
    """Reads values out of the document, noting every problem instead of stopping."""

    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []

    def fail(self, where: str, message: str) -> None:
        self.errors.append(Problem(where, message))

    def fields(self, value: object, where: str, known: Sequence[str]) -> JsonObject | None:
        """value as an object: unknown keys are a warning, keys given twice an error."""
        if not isinstance(value, JsonObject):
            self.fail(where, "expected an object")
            return None
        for key in value:
            if key not in known:
                self.warnings.append(
                    Problem(
                        pointer(where, key),
                        "unknown key, ignored: expected only the keys the vn-police-json "
                        "spec lists here",
                    )
                )
        for key in value.duplicates:
            self.fail(pointer(where, key), "expected each key once; this key is repeated")
        return value

    def member(
        self, obj: JsonObject, key: str, where: str, known: Sequence[str]
    ) -> JsonObject | None:
        """An optional nested object; null counts as absent."""
        value = obj.get(key)
        if value is None:
            return None
        return self.fields(value, pointer(where, key), known)

    def _string(self, value: object, at: str, expected: str) -> str:
        if not isinstance(value, str):
            self.fail(at, expected)
            return ""
        return nfc(value)

    def text(
        self,
        obj: JsonObject,
        key: str,
        where: str,
        *,
        expected: str = "expected a string",
        required: bool = False,
    ) -> str:
        """A string member, NFC; "" when absent, null or blank (blank fields are not data)."""
        at = pointer(where, key)
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(at, f"required: {expected}")
            return ""
        known_errors = len(self.errors)
        result = self._string(value, at, expected)
        if required and not result and len(self.errors) == known_errors:
            self.fail(at, f"required: {expected}")
        return result

    def parsed(
        self,
        obj: JsonObject,
        key: str,
        where: str,
        parse: Callable[[str], T | None],
        expected: str,
        *,
        required: bool = False,
    ) -> T | None:
        """A string member in one of the format's syntaxes, parsed; None if absent or bad."""
        text = self.text(obj, key, where, expected=expected, required=required)
        if not text:
            return None
        result = parse(text)
        if result is None:
            self.fail(pointer(where, key), expected)
        return result

    def code(self, obj: JsonObject, key: str, where: str, table: CodeTable[V]) -> V | None:
        return self.parsed(obj, key, where, table.read, table.expected)

    def items(
        self, obj: JsonObject, key: str, where: str, expected: str
    ) -> list[tuple[object, str]]:
        """The items of a list member with their pointers; [] when absent or null."""
        at = pointer(where, key)
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(at, expected)
            return []
        return [(item, pointer(at, index)) for index, item in enumerate(value)]

    def texts(self, obj: JsonObject, key: str, where: str) -> list[str]:
        """A list of strings, NFC, blank items left out."""
        found: list[str] = []
        for item, at in self.items(obj, key, where, "expected a list of strings"):
            if item is not None:
                text = self._string(item, at, "expected a string")
                if text:
                    found.append(text)
        return found

    def codes(self, obj: JsonObject, key: str, where: str, table: CodeTable[V]) -> list[V]:
        found: list[V] = []
        expected = f"expected a list of codes, each {table.expected.removeprefix('expected ')}"
        for item, at in self.items(obj, key, where, expected):
            value = table.read(nfc(item)) if isinstance(item, str) else None
            if value is None:
                self.fail(at, table.expected)
            else:
                found.append(value)
        return found

    def objects(
        self, obj: JsonObject, key: str, where: str, known: Sequence[str]
    ) -> Iterator[tuple[JsonObject, str]]:
        """The objects of a list member, checked one by one as the caller reads them, so that
        problems come in document order."""
        for item, at in self.items(obj, key, where, "expected a list of objects"):
            fields = self.fields(item, at, known)
            if fields is not None:
                yield fields, at

    def flag(self, obj: JsonObject, key: str, where: str) -> bool:
        value = obj.get(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.fail(pointer(where, key), "expected true or false")
            return False
        return value

    def person(self, obj: JsonObject, where: str) -> canonical.Person:
        """The person keys of obj (unknown keys are checked by the caller, who knows them)."""
        person = canonical.Person()
        nationality = self.parsed(obj, "quoc_tich", where, iso_from_vietnamese, COUNTRY_EXPECTED)
        person.nationality = nationality or ""
        person.name, person.name_latin = name_forms(
            self.text(obj, "ho_ten", where), person.nationality
        )
        person.aliases.extend(self.texts(obj, "ten_goi_khac", where))
        sex = self.parsed(obj, "gioi_tinh", where, codes.SEX.read_any_case, codes.SEX.expected)
        person.sex = sex or canonical.SEX_UNSPECIFIED
        born = self.parsed(obj, "ngay_sinh", where, read_date, DATE_EXPECTED)
        if born is not None:
            person.birth_date.CopyFrom(born)
        person.birth_place = self.text(obj, "noi_sinh", where)
        citizen_id = self.parsed(obj, "so_cccd", where, read_citizen_id, CITIZEN_ID_EXPECTED)
        if citizen_id:
            person.identity_documents.add(
                type=canonical.DOCUMENT_TYPE_VN_CITIZEN_ID, number=citizen_id, issuing_country="VN"
            )
        passport = self.parsed(obj, "so_ho_chieu", where, read_passport, PASSPORT_EXPECTED)
        if passport:
            # The format does not say who issued the passport; the holder's country usually did.
            person.identity_documents.add(
                type=canonical.DOCUMENT_TYPE_PASSPORT,
                number=passport,
                issuing_country=person.nationality,
            )
        person.ethnicity = self.text(obj, "dan_toc", where)
        person.description = self.text(obj, "dac_diem", where)
        person.attachment_ids.extend(self.texts(obj, "anh", where))
        return person


def _header(reader: Reader, root: JsonObject, message: canonical.Message) -> Kind | None:
    kind_code = reader.text(root, "loai_tin", "", expected=codes.KIND_EXPECTED, required=True)
    kind = codes.KIND_BY_CODE.get(kind_code)
    if kind_code and kind is None:
        reader.fail("/loai_tin", codes.KIND_EXPECTED)
    reader.fields(root, "", (*HEADER_KEYS, *(BODY_KEYS[kind] if kind else _ALL_BODY_KEYS)))

    message.sender_reference = reader.text(
        root, "so_hieu", "", expected="expected the sender's reference, a string", required=True
    )

    table = codes.HANDOVER_ACTION if kind is Kind.VICTIM_HANDOVER else codes.NOTICE_ACTION
    expected = table.expected
    if kind is None:  # the kind is unusable; accept any action the format knows
        expected = "expected PHAT_HANH, CAP_NHAT, HUY, DE_NGHI, CHAP_NHAN, TU_CHOI or HOAN_THANH"
    action_code = reader.text(root, "thao_tac", "", expected=expected, required=True)
    if action_code:
        action = table.read(action_code)
        if kind is None:
            action = codes.NOTICE_ACTION.read(action_code) or codes.HANDOVER_ACTION.read(
                action_code
            )
        elif kind is Kind.VICTIM_HANDOVER and action_code == codes.HANDOVER_ISSUE:
            action = canonical.ACTION_PROPOSE
            reader.warnings.append(
                Problem(
                    "/thao_tac",
                    "expected DE_NGHI to open a handover; PHAT_HANH was read as DE_NGHI (propose)",
                )
            )
        if action is None:
            reader.fail("/thao_tac", expected)
        else:
            message.action = action

    issued = reader.parsed(root, "thoi_diem", "", read_time, TIME_EXPECTED, required=True)
    if issued is not None:
        message.issued_at.CopyFrom(issued)

    known_errors = len(reader.errors)
    handling = reader.code(root, "do_mat", "", codes.HANDLING)
    if handling is not None:
        message.handling = handling
    elif len(reader.errors) == known_errors and kind is not None:  # absent, null or blank
        message.handling = codes.DEFAULT_HANDLING[kind]
        default = codes.HANDLING.write(message.handling)
        reader.warnings.append(
            Problem(
                "/do_mat",
                f"absent (expected THUONG, MAT or TOI_MAT); the default for this kind, "
                f"{default}, was applied",
            )
        )
    return kind


def _wanted(reader: Reader, root: JsonObject) -> canonical.WantedPersonNotice:
    notice = canonical.WantedPersonNotice()
    subject = reader.member(root, "doi_tuong", "", PERSON_KEYS)
    if subject is not None:
        person = reader.person(subject, "/doi_tuong")
        if person.ListFields():
            notice.subject.CopyFrom(person)
    offence = reader.member(root, "toi_danh", "", OFFENCE_KEYS)
    if offence is not None:
        notice.offence.legal_basis = reader.text(offence, "dieu_luat", "/toi_danh")
        notice.offence.summary = reader.text(offence, "tom_tat", "/toi_danh")
        if not notice.offence.ListFields():
            notice.ClearField("offence")
    warrant = reader.member(root, "quyet_dinh_truy_na", "", WARRANT_KEYS)
    if warrant is not None:
        where = "/quyet_dinh_truy_na"
        notice.warrant.number = reader.text(warrant, "so", where)
        notice.warrant.issuing_authority = reader.text(warrant, "co_quan", where)
        issued_on = reader.parsed(warrant, "ngay", where, read_date, DATE_EXPECTED)
        if issued_on is not None:
            notice.warrant.issued_on.CopyFrom(issued_on)
        if not notice.warrant.ListFields():
            notice.ClearField("warrant")
    notice.last_known_location = reader.text(root, "noi_o_cuoi", "")
    notice.last_known_province = (
        reader.parsed(root, "tinh", "", read_province, PROVINCE_EXPECTED) or ""
    )
    notice.request = (
        reader.code(root, "yeu_cau", "", codes.REQUEST) or canonical.REQUEST_UNSPECIFIED
    )
    notice.caveat = reader.text(root, "luu_y", "")
    valid_until = reader.parsed(root, "hieu_luc_den", "", read_date, DATE_EXPECTED)
    if valid_until is not None:
        notice.valid_until.CopyFrom(valid_until)
    return notice


def _handover(reader: Reader, root: JsonObject) -> canonical.VictimHandover:
    handover = canonical.VictimHandover()
    for obj, where in reader.objects(root, "nan_nhan", "", VICTIM_KEYS):
        victim = handover.victims.add()
        person = reader.person(obj, where)
        if person.ListFields():
            victim.person.CopyFrom(person)
        victim.minor = reader.flag(obj, "duoi_18_tuoi", where)
        victim.needs.extend(reader.codes(obj, "nhu_cau", where, codes.NEED))
        for child, child_at in reader.objects(obj, "tre_di_cung", where, PERSON_KEYS):
            victim.accompanying_children.append(reader.person(child, child_at))
    handover.border_gate = reader.text(root, "cua_khau", "")
    planned = reader.parsed(root, "thoi_gian_du_kien", "", read_time, TIME_EXPECTED)
    if planned is not None:
        handover.planned_at.CopyFrom(planned)
    for obj, where in reader.objects(root, "can_bo_ho_tong", "", ESCORT_KEYS):
        handover.escort.add(
            name=reader.text(obj, "ho_ten", where),
            rank=reader.text(obj, "cap_bac", where),
            unit=reader.text(obj, "don_vi", where),
            phone=read_phone(reader.text(obj, "dien_thoai", where)),
        )
    handover.note = reader.text(root, "ghi_chu", "")
    handover.attachment_ids.extend(reader.texts(root, "tai_lieu", ""))
    return handover


def _alert(reader: Reader, root: JsonObject) -> canonical.HotlineAlert:
    alert = canonical.HotlineAlert()
    alert.call_id = read_call_id(reader.text(root, "ma_cuoc_goi", ""))
    received = reader.parsed(root, "thoi_diem_nhan", "", read_time, TIME_EXPECTED)
    if received is not None:
        alert.received_at.CopyFrom(received)
    alert.channel = reader.code(root, "kenh", "", codes.CHANNEL) or canonical.CHANNEL_UNSPECIFIED
    alert.category = (
        reader.code(root, "phan_loai", "", codes.CATEGORY) or canonical.CATEGORY_UNSPECIFIED
    )
    alert.urgency = reader.code(root, "muc_do", "", codes.URGENCY) or canonical.URGENCY_UNSPECIFIED
    alert.place = reader.text(root, "dia_diem", "")
    alert.province = reader.parsed(root, "tinh", "", read_province, PROVINCE_EXPECTED) or ""
    alert.summary = reader.text(root, "noi_dung", "")
    caller = reader.member(root, "nguoi_bao_tin", "", CALLER_KEYS)
    if caller is not None:
        alert.caller.name = reader.text(caller, "ho_ten", "/nguoi_bao_tin")
        alert.caller.phone = read_phone(reader.text(caller, "dien_thoai", "/nguoi_bao_tin"))
        if not alert.caller.ListFields():
            alert.ClearField("caller")
    for obj, where in reader.objects(root, "nguoi_lien_quan", "", INVOLVED_KEYS):
        involved = alert.persons.add()
        involved.role = reader.code(obj, "vai_tro", where, codes.ROLE) or canonical.ROLE_UNSPECIFIED
        person = reader.person(obj, where)
        if person.ListFields():
            involved.person.CopyFrom(person)
    return alert


def decode_message(data: bytes) -> Decoded:
    """The document's one message, or DocumentInvalid with every problem found."""
    root = load(data)
    if not isinstance(root, JsonObject):
        raise DocumentInvalid([Problem("/", "expected a JSON object holding one message")])
    reader = Reader()
    message = canonical.Message()
    kind = _header(reader, root, message)
    if kind is Kind.WANTED_PERSON_NOTICE:
        message.wanted_person_notice.CopyFrom(_wanted(reader, root))
    elif kind is Kind.VICTIM_HANDOVER:
        message.victim_handover.CopyFrom(_handover(reader, root))
    elif kind is Kind.HOTLINE_ALERT:
        message.hotline_alert.CopyFrom(_alert(reader, root))
    if reader.errors:
        raise DocumentInvalid(reader.errors)
    return Decoded(message, warnings=tuple(reader.warnings))
