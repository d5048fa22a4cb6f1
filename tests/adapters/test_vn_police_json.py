"""vn-police-json: the partner samples, both round trips, every quirk of the spec, bad input."""

from __future__ import annotations

import calendar
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Adapter, CannotEncode, DocumentInvalid, Problem
from adapters.common.countries import VIETNAMESE_NAMES
from adapters.common.names import family_first_latin
from adapters.common.text import nfc
from adapters.vn_police_json import ADAPTER, codes
from gateway.wire import Kind, canonical

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners" / "vn-police-json" / "samples"
DATE_EXPECTED = "expected a date dd/mm/yyyy, 00 for an unknown day or month"
TIME_EXPECTED = "expected a time dd/mm/yyyy HH:MM, local time (UTC+7)"


def _sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def _doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_sample(name))
    return loaded


def _bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _decode(doc: dict[str, Any] | bytes) -> canonical.Message:
    data = doc if isinstance(doc, bytes) else _bytes(doc)
    result = ADAPTER.decode(data)
    assert result.rejected == ()
    assert len(result.messages) == 1
    return result.messages[0].message


def _warnings(doc: dict[str, Any]) -> tuple[Problem, ...]:
    return ADAPTER.decode(_bytes(doc)).messages[0].warnings


def _problems(data: dict[str, Any] | bytes) -> tuple[Problem, ...]:
    with pytest.raises(DocumentInvalid) as raised:
        ADAPTER.decode(data if isinstance(data, bytes) else _bytes(data))
    return raised.value.problems


def _utc(text: str) -> Timestamp:
    stamp = Timestamp()
    stamp.FromJsonString(text)
    return stamp


def _canonical(body: dict[str, Any]) -> canonical.Message:
    return json_format.ParseDict(body, canonical.Message())


# Words of the format's vocabulary: they may appear in "expected ..." texts by design.
_VOCABULARY = {
    *codes.KIND_BY_CODE,
    *codes.HANDOVER_ACTION.to_canonical,
    *codes.NOTICE_ACTION.to_canonical,
    *codes.HANDLING.to_canonical,
    *codes.SEX.to_canonical,
    *codes.NEED.to_canonical,
    *codes.CHANNEL.to_canonical,
    *codes.CATEGORY.to_canonical,
    *codes.URGENCY.to_canonical,
    *codes.ROLE.to_canonical,
    *codes.REQUEST.to_canonical,
    *VIETNAMESE_NAMES.values(),
}


def _leaves(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _assert_quotes_nothing(problems: tuple[Problem, ...], doc: dict[str, Any]) -> None:
    """No value of the input (names, phones, ids, dates...) appears in any problem."""
    values = {nfc(leaf) for leaf in _leaves(doc) if leaf not in _VOCABULARY and len(leaf) > 2}
    for problem in problems:
        for value in values:
            assert value not in str(problem), problem
            assert unicodedata.normalize("NFD", value) not in str(problem), problem


def test_adapter_describes_itself() -> None:
    adapter: Adapter = ADAPTER  # mypy checks the protocol here
    assert adapter.format_id == "vn-police-json"
    assert adapter.media_type == "application/vnd.vn-police+json"
    assert adapter.kinds == frozenset(Kind)
    assert adapter.many_per_document is False


# --- samples --------------------------------------------------------------------------------


def test_sample_truy_na_decodes() -> None:
    decoded = ADAPTER.decode(_sample("truy_na.json")).messages[0]
    assert decoded.warnings == ()
    message = decoded.message
    assert message.case_id == ""
    assert message.in_reply_to == ""
    assert message.sender_reference == "TN-2026-0147"
    assert message.action == canonical.ACTION_ISSUE
    assert message.handling == canonical.HANDLING_RESTRICTED
    assert message.issued_at == _utc("2026-03-14T02:30:00Z")
    notice = message.wanted_person_notice
    subject = notice.subject
    assert subject.name == "Rơ Châm Y Phăn"
    assert subject.name_latin == "RO Cham Y Phan"
    assert list(subject.aliases) == ["Phăn", "Y Phăn Rơ"]
    assert subject.sex == canonical.SEX_MALE
    assert subject.birth_date == canonical.Date(year=1988, month=3, day=12)
    assert subject.birth_place == "Xã Ia Dom, huyện Đức Cơ, Gia Lai"
    assert subject.nationality == "VN"
    assert list(subject.identity_documents) == [
        canonical.IdentityDocument(
            type=canonical.DOCUMENT_TYPE_VN_CITIZEN_ID, number="064088001234", issuing_country="VN"
        )
    ]
    assert subject.ethnicity == "Jrai"
    assert subject.description == "Cao khoảng 1m65, sẹo ở cằm trái"
    assert list(subject.attachment_ids) == ["att-7f3c2a"]
    assert notice.offence == canonical.Offence(
        legal_basis="VN-PC2015-150",
        summary="Dụ dỗ 3 phụ nữ sang Campuchia làm việc tại cơ sở lừa đảo trực tuyến",
    )
    assert notice.warrant == canonical.Warrant(
        number="05/QĐ-CSĐT",
        issuing_authority="Cơ quan CSĐT Công an tỉnh Gia Lai",
        issued_on=canonical.Date(year=2026, month=2, day=2),
    )
    assert notice.last_known_location == "Huyện O Yadav, tỉnh Ratanakiri"
    assert notice.last_known_province == "KH-16"
    assert notice.request == canonical.REQUEST_ARREST
    assert notice.caveat == "Có thể mang vũ khí"
    assert notice.valid_until == canonical.Date(year=2026, month=12, day=31)


def test_sample_ban_giao_decodes() -> None:
    decoded = ADAPTER.decode(_sample("ban_giao.json")).messages[0]
    assert decoded.warnings == ()
    message = decoded.message
    assert message.sender_reference == "BG-2026-0031"
    assert message.action == canonical.ACTION_PROPOSE
    assert message.handling == canonical.HANDLING_VICTIM_PROTECTED
    assert message.issued_at == _utc("2026-11-20T09:05:00Z")
    handover = message.victim_handover
    first, second = handover.victims
    assert first.person.name == "Siu H'Yến"
    assert first.person.name_latin == "SIU H'Yen"
    assert first.person.sex == canonical.SEX_FEMALE
    assert first.person.birth_date == canonical.Date(year=2004)
    assert first.person.nationality == "VN"
    assert first.person.ethnicity == "Jrai"
    assert [d.number for d in first.person.identity_documents] == ["064304009876"]
    assert first.minor is False
    assert list(first.needs) == [canonical.NEED_MEDICAL, canonical.NEED_PSYCHOLOGICAL]
    (child,) = first.accompanying_children
    assert child == canonical.Person(
        name="Siu Thị Mai",
        name_latin="SIU Thi Mai",
        sex=canonical.SEX_FEMALE,
        birth_date=canonical.Date(year=2023, month=6, day=5),
        nationality="VN",
    )
    assert second.person.name == "Kpă H'Ngọc"
    assert second.person.name_latin == "KPA H'Ngoc"
    assert second.person.birth_date == canonical.Date(year=2009, month=9, day=17)
    assert second.minor is True
    assert list(second.needs) == [canonical.NEED_PSYCHOLOGICAL, canonical.NEED_INTERPRETER]
    assert list(second.accompanying_children) == []
    assert handover.border_gate == "VN-LETHANH"
    assert handover.planned_at == _utc("2026-11-24T01:30:00Z")
    assert list(handover.escort) == [
        canonical.EscortOfficer(
            name="Nguyễn Văn Hùng",
            rank="Thiếu tá",
            unit="Phòng Cảnh sát hình sự",
            phone="0269 3824 111",
        )
    ]
    assert handover.note == "Nạn nhân cần phiên dịch tiếng Jrai"
    assert list(handover.attachment_ids) == ["att-91aa04"]


def test_sample_tin_bao_111_decodes() -> None:
    decoded = ADAPTER.decode(_sample("tin_bao_111.json")).messages[0]
    assert decoded.warnings == ()
    message = decoded.message
    assert message.sender_reference == "TB-2026-1102"
    assert message.action == canonical.ACTION_ISSUE
    assert message.handling == canonical.HANDLING_RESTRICTED
    assert message.issued_at == _utc("2026-11-21T15:47:00Z")
    alert = message.hotline_alert
    assert alert.call_id == "111-20261121-0457"
    assert alert.received_at == _utc("2026-11-21T15:31:00Z")
    assert alert.channel == canonical.CHANNEL_PHONE
    assert alert.category == canonical.CATEGORY_RESCUE
    assert alert.urgency == canonical.URGENCY_CRITICAL
    assert alert.place == "Một khu nhà có tường rào cao gần chợ O Yadav"
    assert alert.province == "KH-16"
    assert alert.summary.startswith("Con gái người báo tin nhắn tin cầu cứu")
    assert alert.caller == canonical.Caller(name="Rah Lan Thị Hoa", phone="0987 654 321")
    victim, suspect = alert.persons
    assert victim.role == canonical.ROLE_VICTIM
    assert victim.person == canonical.Person(
        name="Rah Lan H'Bia",
        name_latin="RAH Lan H'Bia",
        sex=canonical.SEX_FEMALE,
        birth_date=canonical.Date(year=2007),
        nationality="VN",
    )
    assert suspect.role == canonical.ROLE_SUSPECT
    assert suspect.person.name == 'Không rõ, gọi là "anh Tuấn"'
    assert suspect.person.name_latin == 'KHONG ro, goi la "anh Tuan"'
    assert suspect.person.sex == canonical.SEX_MALE
    assert not suspect.person.HasField("birth_date")


@pytest.mark.parametrize("name", ["truy_na.json", "ban_giao.json", "tin_bao_111.json"])
def test_sample_round_trips_native_canonical_native(name: str) -> None:
    encoded = ADAPTER.encode(_decode(_sample(name)))
    assert encoded.warnings == ()
    assert json.loads(encoded.data) == _doc(name)


@pytest.mark.parametrize("name", ["truy_na.json", "ban_giao.json", "tin_bao_111.json"])
def test_sample_round_trips_canonical_native_canonical(name: str) -> None:
    message = _decode(_sample(name))
    assert _decode(ADAPTER.encode(message).data) == message


def test_output_is_pretty_utf8_in_spec_key_order_and_deterministic() -> None:
    message = _decode(_sample("truy_na.json"))
    data = ADAPTER.encode(message).data
    assert data == ADAPTER.encode(message).data
    text = data.decode("utf-8")
    assert "Rơ Châm Y Phăn" in text  # ensure_ascii=False: letters, not \u escapes
    assert text.startswith('{\n  "loai_tin": "TRUY_NA",\n  "so_hieu"')
    assert text.endswith("}\n")
    assert list(json.loads(data)) == [
        "loai_tin",
        "so_hieu",
        "thao_tac",
        "thoi_diem",
        "do_mat",
        "doi_tuong",
        "toi_danh",
        "quyet_dinh_truy_na",
        "noi_o_cuoi",
        "tinh",
        "yeu_cau",
        "luu_y",
        "hieu_luc_den",
    ]
    assert list(json.loads(data)["doi_tuong"]) == [
        "ho_ten",
        "ten_goi_khac",
        "gioi_tinh",
        "ngay_sinh",
        "noi_sinh",
        "quoc_tich",
        "so_cccd",
        "dan_toc",
        "dac_diem",
        "anh",
    ]


def test_empty_optional_fields_are_left_out() -> None:
    message = _canonical(
        {
            "senderReference": "TB-1",
            "action": "ACTION_CANCEL",
            "handling": "HANDLING_NORMAL",
            "issuedAt": "2026-01-01T00:00:00Z",
            "hotlineAlert": {"persons": [{"role": "ROLE_VICTIM"}]},
        }
    )
    assert json.loads(ADAPTER.encode(message).data) == {
        "loai_tin": "TIN_BAO_111",
        "so_hieu": "TB-1",
        "thao_tac": "HUY",
        "thoi_diem": "01/01/2026 07:00",
        "do_mat": "THUONG",
        "nguoi_lien_quan": [{"vai_tro": "NAN_NHAN"}],
    }


# --- quirks of the spec ---------------------------------------------------------------------


def test_nfd_values_are_normalised_to_nfc() -> None:
    doc = _doc("truy_na.json")
    nfd = json.loads(unicodedata.normalize("NFD", json.dumps(doc, ensure_ascii=False)))
    assert nfd["doi_tuong"]["ho_ten"] != doc["doi_tuong"]["ho_ten"]  # really decomposed
    assert _decode(nfd) == _decode(doc)


def test_nfd_codes_written_by_people_are_recognised() -> None:
    doc = _doc("ban_giao.json")
    doc["nan_nhan"][0]["gioi_tinh"] = unicodedata.normalize("NFD", "Nữ")
    doc["nan_nhan"][1]["gioi_tinh"] = unicodedata.normalize("NFD", "không rõ")
    message = _decode(doc)
    assert message.victim_handover.victims[0].person.sex == canonical.SEX_FEMALE
    assert message.victim_handover.victims[1].person.sex == canonical.SEX_UNKNOWN


def test_byte_order_mark_is_accepted() -> None:
    assert _decode(b"\xef\xbb\xbf" + _sample("truy_na.json")) == _decode(_sample("truy_na.json"))


def test_khmer_numerals_in_dates_times_ids_and_phones() -> None:
    doc = _doc("ban_giao.json")
    doc["thoi_diem"] = "២០/១១/២០២៦ ១៦:០៥"
    doc["nan_nhan"][0]["ngay_sinh"] = "០០/០០/២០០៤"
    doc["nan_nhan"][0]["so_cccd"] = "០៦៤៣០៤០០៩៨៧៦"
    doc["nan_nhan"][1]["ngay_sinh"] = "17/០9/2009"  # mixed in one value
    doc["thoi_gian_du_kien"] = "២៤/១១/២០២៦ ០៨:៣០"
    doc["can_bo_ho_tong"][0]["dien_thoai"] = "០២៦៩ ៣៨២៤ ១១១"
    assert _decode(doc) == _decode(_sample("ban_giao.json"))
    alert = _doc("tin_bao_111.json")
    alert["ma_cuoc_goi"] = "111-២០២៦១១២១-០៤៥៧"
    alert["nguoi_bao_tin"]["dien_thoai"] = "០៩៨៧ ៦៥៤ ៣២១"
    alert["thoi_diem_nhan"] = "២១/១១/២០២៦ ២២:៣១"
    assert _decode(alert) == _decode(_sample("tin_bao_111.json"))
    # ... and writes them back in ASCII.
    written = ADAPTER.encode(_decode(doc)).data.decode("utf-8")
    assert not any("០" <= char <= "៩" for char in written)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/03/1988", canonical.Date(year=1988, month=3, day=12)),
        ("00/03/1988", canonical.Date(year=1988, month=3)),
        ("00/00/1988", canonical.Date(year=1988)),
        ("29/02/2024", canonical.Date(year=2024, month=2, day=29)),
    ],
)
def test_partial_birth_dates(text: str, expected: canonical.Date) -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["ngay_sinh"] = text
    message = _decode(doc)
    assert message.wanted_person_notice.subject.birth_date == expected
    assert json.loads(ADAPTER.encode(message).data)["doi_tuong"]["ngay_sinh"] == text


@pytest.mark.parametrize(
    ("name", "code"),
    [("Việt Nam", "VN"), ("Campuchia", "KH"), ("Lào", "LA"), ("Trung Quốc", "CN")],
)
def test_country_names_map_to_iso_and_back(name: str, code: str) -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["quoc_tich"] = unicodedata.normalize("NFD", name)
    message = _decode(doc)
    assert message.wanted_person_notice.subject.nationality == code
    assert json.loads(ADAPTER.encode(message).data)["doi_tuong"]["quoc_tich"] == name


def test_unknown_country_name_is_an_error_naming_the_field() -> None:
    doc = _doc("ban_giao.json")
    doc["nan_nhan"][1]["quoc_tich"] = "Xứ Sở Thần Tiên"
    (problem,) = _problems(doc)
    assert problem.location == "/nan_nhan/1/quoc_tich"
    assert problem.message.startswith("expected a country name in Vietnamese: Việt Nam, Campuchia")
    _assert_quotes_nothing((problem,), doc)


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        ("14/03/2026 09:30", "2026-03-14T02:30:00Z"),
        ("01/01/2027 03:15", "2026-12-31T20:15:00Z"),  # crosses midnight and the year
        ("01/03/2024 06:59", "2024-02-29T23:59:00Z"),  # back into a leap day
        ("01/01/2026 07:00", "2026-01-01T00:00:00Z"),
    ],
)
def test_local_time_utc_plus_7_both_ways(local: str, utc: str) -> None:
    doc = _doc("tin_bao_111.json")
    doc["thoi_diem"] = local
    doc["thoi_diem_nhan"] = local
    message = _decode(doc)
    assert message.issued_at == _utc(utc)
    assert message.hotline_alert.received_at == _utc(utc)
    written = json.loads(ADAPTER.encode(message).data)
    assert written["thoi_diem"] == local
    assert written["thoi_diem_nhan"] == local


def test_encoding_writes_the_next_local_day_for_a_utc_evening() -> None:
    message = _decode(_sample("ban_giao.json"))
    message.victim_handover.planned_at.CopyFrom(_utc("2026-11-23T17:00:00Z"))
    written = json.loads(ADAPTER.encode(message).data)
    assert written["thoi_gian_du_kien"] == "24/11/2026 00:00"


@pytest.mark.parametrize(
    ("code", "handling"),
    [
        ("THUONG", canonical.HANDLING_NORMAL),
        ("MAT", canonical.HANDLING_RESTRICTED),
        ("TOI_MAT", canonical.HANDLING_VICTIM_PROTECTED),
    ],
)
def test_handling_markings(code: str, handling: canonical.Handling.ValueType) -> None:
    doc = _doc("truy_na.json")
    doc["do_mat"] = code
    message = _decode(doc)
    assert message.handling == handling
    assert json.loads(ADAPTER.encode(message).data)["do_mat"] == code


@pytest.mark.parametrize(
    ("name", "default", "code"),
    [
        ("ban_giao.json", canonical.HANDLING_VICTIM_PROTECTED, "TOI_MAT"),
        ("truy_na.json", canonical.HANDLING_RESTRICTED, "MAT"),
        ("tin_bao_111.json", canonical.HANDLING_RESTRICTED, "MAT"),
    ],
)
@pytest.mark.parametrize("absent", ["missing", None, ""])
def test_absent_marking_gets_the_kinds_default_with_a_warning(
    name: str, default: canonical.Handling.ValueType, code: str, absent: str | None
) -> None:
    doc = _doc(name)
    if absent == "missing":
        del doc["do_mat"]
    else:
        doc["do_mat"] = absent
    assert _decode(doc).handling == default
    (warning,) = _warnings(doc)
    assert warning.location == "/do_mat"
    assert "expected THUONG, MAT or TOI_MAT" in warning.message
    assert f"the default for this kind, {code}, was applied" in warning.message


def test_unmarked_canonical_message_is_written_with_the_kinds_default() -> None:
    message = _decode(_sample("ban_giao.json"))
    message.ClearField("handling")
    encoded = ADAPTER.encode(message)
    assert json.loads(encoded.data)["do_mat"] == "TOI_MAT"
    assert encoded.warnings == ()


@pytest.mark.parametrize(
    ("name", "code", "action"),
    [
        ("truy_na.json", "PHAT_HANH", canonical.ACTION_ISSUE),
        ("truy_na.json", "CAP_NHAT", canonical.ACTION_UPDATE),
        ("truy_na.json", "HUY", canonical.ACTION_CANCEL),
        ("tin_bao_111.json", "HUY", canonical.ACTION_CANCEL),
        ("ban_giao.json", "DE_NGHI", canonical.ACTION_PROPOSE),
        ("ban_giao.json", "CHAP_NHAN", canonical.ACTION_ACCEPT),
        ("ban_giao.json", "TU_CHOI", canonical.ACTION_REJECT),
        ("ban_giao.json", "HOAN_THANH", canonical.ACTION_COMPLETE),
        ("ban_giao.json", "CAP_NHAT", canonical.ACTION_UPDATE),
        ("ban_giao.json", "HUY", canonical.ACTION_CANCEL),
    ],
)
def test_actions_both_ways(name: str, code: str, action: canonical.Action.ValueType) -> None:
    doc = _doc(name)
    doc["thao_tac"] = code
    message = _decode(doc)
    assert message.action == action
    assert json.loads(ADAPTER.encode(message).data)["thao_tac"] == code


def test_phat_hanh_on_a_handover_is_read_as_a_proposal_with_a_warning() -> None:
    doc = _doc("ban_giao.json")
    doc["thao_tac"] = "PHAT_HANH"
    assert _decode(doc).action == canonical.ACTION_PROPOSE
    (warning,) = _warnings(doc)
    assert warning.location == "/thao_tac"
    assert warning.message.startswith("expected DE_NGHI to open a handover")


def test_handover_actions_are_refused_on_a_notice() -> None:
    doc = _doc("truy_na.json")
    doc["thao_tac"] = "DE_NGHI"
    assert _problems(doc) == (Problem("/thao_tac", "expected PHAT_HANH, CAP_NHAT or HUY"),)


@pytest.mark.parametrize(
    ("code", "channel"),
    [
        ("DIEN_THOAI", canonical.CHANNEL_PHONE),
        ("ZALO", canonical.CHANNEL_ZALO),
        ("FACEBOOK", canonical.CHANNEL_FACEBOOK),
        ("TRUC_TIEP", canonical.CHANNEL_WALK_IN),
    ],
)
def test_channels(code: str, channel: canonical.Channel.ValueType) -> None:
    doc = _doc("tin_bao_111.json")
    doc["kenh"] = code
    message = _decode(doc)
    assert message.hotline_alert.channel == channel
    assert json.loads(ADAPTER.encode(message).data)["kenh"] == code


@pytest.mark.parametrize(
    ("field", "code", "value"),
    [
        ("phan_loai", "NGHI_MUA_BAN_NGUOI", canonical.CATEGORY_SUSPECTED_TRAFFICKING),
        ("phan_loai", "MAT_TICH", canonical.CATEGORY_MISSING),
        ("phan_loai", "CUNG_CAP_THONG_TIN", canonical.CATEGORY_INFORMATION),
        ("muc_do", "CAO", canonical.URGENCY_HIGH),
        ("muc_do", "BINH_THUONG", canonical.URGENCY_NORMAL),
    ],
)
def test_alert_codes(field: str, code: str, value: int) -> None:
    doc = _doc("tin_bao_111.json")
    doc[field] = code
    alert = _decode(doc).hotline_alert
    assert (alert.category if field == "phan_loai" else alert.urgency) == value
    assert json.loads(ADAPTER.encode(_decode(doc)).data)[field] == code


@pytest.mark.parametrize(
    ("code", "asked"),
    [("XAC_MINH_NOI_O", canonical.REQUEST_LOCATE), ("THONG_BAO", canonical.REQUEST_INFORM)],
)
def test_requests(code: str, asked: canonical.Request.ValueType) -> None:
    doc = _doc("truy_na.json")
    doc["yeu_cau"] = code
    message = _decode(doc)
    assert message.wanted_person_notice.request == asked
    assert json.loads(ADAPTER.encode(message).data)["yeu_cau"] == code


def test_needs_all_four() -> None:
    doc = _doc("ban_giao.json")
    doc["nan_nhan"][0]["nhu_cau"] = ["PHAP_LY", "Y_TE", "PHIEN_DICH", "TAM_LY"]
    assert list(_decode(doc).victim_handover.victims[0].needs) == [
        canonical.NEED_LEGAL,
        canonical.NEED_MEDICAL,
        canonical.NEED_INTERPRETER,
        canonical.NEED_PSYCHOLOGICAL,
    ]


def test_caller_and_involved_person_roles() -> None:
    doc = _doc("tin_bao_111.json")
    del doc["nguoi_bao_tin"]["ho_ten"]  # anonymous caller: phone only
    doc["nguoi_lien_quan"][1]["vai_tro"] = "NAN_NHAN"
    alert = _decode(doc).hotline_alert
    assert alert.caller == canonical.Caller(phone="0987 654 321")
    assert [p.role for p in alert.persons] == [canonical.ROLE_VICTIM, canonical.ROLE_VICTIM]
    del doc["nguoi_bao_tin"]
    assert not _decode(doc).hotline_alert.HasField("caller")


def test_passport_is_issued_by_the_holders_country() -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["so_ho_chieu"] = "c1234567"
    documents = list(_decode(doc).wanted_person_notice.subject.identity_documents)
    assert documents[1] == canonical.IdentityDocument(
        type=canonical.DOCUMENT_TYPE_PASSPORT, number="C1234567", issuing_country="VN"
    )
    del doc["doi_tuong"]["quoc_tich"]
    documents = list(_decode(doc).wanted_person_notice.subject.identity_documents)
    assert documents[1].issuing_country == ""


def test_citizen_id_written_in_groups_is_read_as_its_digits() -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["so_cccd"] = "064 088 001 234"
    subject = _decode(doc).wanted_person_notice.subject
    assert subject.identity_documents[0].number == "064088001234"


def test_romanised_name_of_a_cambodian_is_the_latin_form_only() -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["ho_ten"] = "SOK Dara"
    doc["doi_tuong"]["quoc_tich"] = "Campuchia"
    subject = _decode(doc).wanted_person_notice.subject
    assert subject.name == ""
    assert subject.name_latin == "SOK Dara"
    assert json.loads(ADAPTER.encode(_decode(doc)).data)["doi_tuong"]["ho_ten"] == "SOK Dara"


def test_vietnamese_name_of_a_cambodian_national_stays_the_name() -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["ho_ten"] = "Nguyễn Thị Lan"
    doc["doi_tuong"]["quoc_tich"] = "Campuchia"
    subject = _decode(doc).wanted_person_notice.subject
    assert (subject.name, subject.name_latin) == ("Nguyễn Thị Lan", "NGUYEN Thi Lan")


def test_khmer_script_name_gets_no_guessed_latin_form() -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["ho_ten"] = "សុខ ដារា"
    doc["doi_tuong"]["quoc_tich"] = "Campuchia"
    subject = _decode(doc).wanted_person_notice.subject
    assert (subject.name, subject.name_latin) == ("សុខ ដារា", "")


def test_null_and_blank_values_count_as_absent() -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["dac_diem"] = None
    doc["doi_tuong"]["noi_sinh"] = "   "
    doc["doi_tuong"]["ten_goi_khac"] = ["Phăn", "", None]
    doc["luu_y"] = ""
    doc["tinh"] = None
    notice = _decode(doc).wanted_person_notice
    assert notice.subject.description == ""
    assert notice.subject.birth_place == ""
    assert list(notice.subject.aliases) == ["Phăn"]
    assert notice.caveat == ""
    assert notice.last_known_province == ""


def test_unknown_keys_are_warnings_naming_them() -> None:
    doc = _doc("ban_giao.json")
    doc["phien_ban"] = "2"
    doc["nan_nhan"][0]["tre_di_cung"][0]["nhu_cau"] = ["Y_TE"]  # a victim's key, not a child's
    doc["nan_nhan"][1]["so/dien~thoai"] = "0900 000 000"
    doc["doi_tuong"] = {}  # a key of another kind
    message = _decode(doc)
    assert message == _decode(_sample("ban_giao.json"))
    assert [w.location for w in _warnings(doc)] == [
        "/phien_ban",
        "/doi_tuong",
        "/nan_nhan/0/tre_di_cung/0/nhu_cau",
        "/nan_nhan/1/so~1dien~0thoai",
    ]
    assert all(w.message.startswith("unknown key, ignored") for w in _warnings(doc))
    _assert_quotes_nothing(_warnings(doc), doc)


def test_every_body_field_is_optional() -> None:
    doc = {"loai_tin": "BAN_GIAO_NAN_NHAN", "so_hieu": "BG-9", "thao_tac": "HUY"}
    doc |= {"thoi_diem": "01/02/2026 10:00", "do_mat": "TOI_MAT"}
    message = _decode(doc)
    assert message.WhichOneof("body") == "victim_handover"
    assert message.victim_handover == canonical.VictimHandover()
    assert json.loads(ADAPTER.encode(message).data) == doc


# --- canonical -> native -> canonical ----------------------------------------------------------

_VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
)
_KHMER = "".join(chr(code) for code in range(0x1780, 0x17A3))
_NON_LATIN = ["KH", "LA", "CN", "TH", "MM"]


def _stable(text: str) -> bool:
    return nfc(text) == text


free_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=24).map(nfc)
free_text = free_text.filter(_stable)
some_text = free_text.filter(bool)
ascii_digit_text = some_text.filter(lambda s: not any("០" <= c <= "៩" for c in s))
vietnamese_name = (
    st.text(st.sampled_from(_VIETNAMESE + _VIETNAMESE.upper() + " '-"), min_size=1, max_size=24)
    .map(nfc)
    .filter(lambda s: bool(s) and _stable(s))
)
romanised_name = st.from_regex(r"[A-Z]{2,8}( [A-Z][a-z]{1,8}){0,2}", fullmatch=True)
khmer_name = st.text(st.sampled_from(_KHMER + " "), min_size=1, max_size=12).map(nfc).filter(bool)
provinces = st.one_of(st.just(""), st.from_regex(r"[A-Z]{2}-[A-Z0-9]{1,3}", fullmatch=True))

# Whole minutes whose UTC+7 wall-clock time is within years 1..9999.
_FIRST_MINUTE = -62135596800 // 60 + 7 * 60
_LAST_MINUTE = (253402300799 - 7 * 3600) // 60
timestamps = st.integers(_FIRST_MINUTE, _LAST_MINUTE).map(lambda m: Timestamp(seconds=m * 60))


@st.composite
def dates(draw: st.DrawFn) -> canonical.Date:
    year = draw(st.integers(1, 9999))
    month = draw(st.integers(0, 12))
    day = draw(st.integers(0, calendar.monthrange(year, month)[1])) if month else 0
    return canonical.Date(year=year, month=month, day=day)


@st.composite
def persons(draw: st.DrawFn) -> canonical.Person:
    person = canonical.Person()
    form = draw(st.sampled_from(["vietnamese", "romanised", "khmer", "none"]))
    if form == "vietnamese":
        person.nationality = draw(st.sampled_from(["", "VN"]))
        person.name = draw(vietnamese_name)
        person.name_latin = family_first_latin(person.name)
    elif form == "romanised":
        person.nationality = draw(st.sampled_from(_NON_LATIN))
        person.name_latin = draw(romanised_name)
    else:
        person.nationality = draw(st.sampled_from(["", "VN", *_NON_LATIN]))
        person.name = draw(khmer_name) if form == "khmer" else ""
    person.aliases.extend(draw(st.lists(some_text, max_size=2)))
    person.sex = draw(st.sampled_from(list(canonical.Sex.values())))
    if draw(st.booleans()):
        person.birth_date.CopyFrom(draw(dates()))
    person.birth_place = draw(free_text)
    if draw(st.booleans()):
        person.identity_documents.add(
            type=canonical.DOCUMENT_TYPE_VN_CITIZEN_ID,
            number=draw(st.from_regex(r"[0-9]{12}", fullmatch=True)),
            issuing_country="VN",
        )
    if draw(st.booleans()):
        person.identity_documents.add(
            type=canonical.DOCUMENT_TYPE_PASSPORT,
            number=draw(st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True)),
            issuing_country=person.nationality,
        )
    person.ethnicity = draw(free_text)
    person.description = draw(free_text)
    person.attachment_ids.extend(draw(st.lists(some_text, max_size=2)))
    return person


@st.composite
def wanted_notices(draw: st.DrawFn) -> canonical.WantedPersonNotice:
    notice = canonical.WantedPersonNotice()
    subject = draw(persons())
    if subject.ListFields():
        notice.subject.CopyFrom(subject)
    offence = canonical.Offence(legal_basis=draw(free_text), summary=draw(free_text))
    if offence.ListFields():
        notice.offence.CopyFrom(offence)
    warrant = canonical.Warrant(number=draw(free_text), issuing_authority=draw(free_text))
    if draw(st.booleans()):
        warrant.issued_on.CopyFrom(draw(dates()))
    if warrant.ListFields():
        notice.warrant.CopyFrom(warrant)
    notice.last_known_location = draw(free_text)
    notice.last_known_province = draw(provinces)
    notice.request = draw(st.sampled_from(list(canonical.Request.values())))
    notice.caveat = draw(free_text)
    if draw(st.booleans()):
        notice.valid_until.CopyFrom(draw(dates()))
    return notice


@st.composite
def victims(draw: st.DrawFn) -> canonical.Victim:
    victim = canonical.Victim(minor=draw(st.booleans()))
    person = draw(persons())
    if person.ListFields():
        victim.person.CopyFrom(person)
    needs = [value for value in canonical.Need.values() if value]
    victim.needs.extend(draw(st.lists(st.sampled_from(needs), max_size=4)))
    victim.accompanying_children.extend(draw(st.lists(persons(), max_size=2)))
    return victim


@st.composite
def handovers(draw: st.DrawFn) -> canonical.VictimHandover:
    handover = canonical.VictimHandover()
    handover.victims.extend(draw(st.lists(victims(), max_size=3)))
    handover.border_gate = draw(st.sampled_from(["", "VN-LETHANH", "KH-OYADAV", "VN-BOY"]))
    if draw(st.booleans()):
        handover.planned_at.CopyFrom(draw(timestamps))
    for _ in range(draw(st.integers(0, 2))):
        handover.escort.add(
            name=draw(free_text),
            rank=draw(free_text),
            unit=draw(free_text),
            phone=draw(st.one_of(st.just(""), ascii_digit_text)),
        )
    handover.note = draw(free_text)
    handover.attachment_ids.extend(draw(st.lists(some_text, max_size=2)))
    return handover


@st.composite
def alerts(draw: st.DrawFn) -> canonical.HotlineAlert:
    alert = canonical.HotlineAlert()
    alert.call_id = draw(st.one_of(st.just(""), ascii_digit_text))
    if draw(st.booleans()):
        alert.received_at.CopyFrom(draw(timestamps))
    channels = [v for v in canonical.Channel.values() if v != canonical.CHANNEL_MESSAGING]
    alert.channel = draw(st.sampled_from(channels))
    alert.category = draw(st.sampled_from(list(canonical.Category.values())))
    alert.urgency = draw(st.sampled_from(list(canonical.Urgency.values())))
    alert.place = draw(free_text)
    alert.province = draw(provinces)
    alert.summary = draw(free_text)
    caller = canonical.Caller(
        name=draw(free_text), phone=draw(st.one_of(st.just(""), ascii_digit_text))
    )
    if caller.ListFields():
        alert.caller.CopyFrom(caller)
    for _ in range(draw(st.integers(0, 3))):
        involved = alert.persons.add(role=draw(st.sampled_from(list(canonical.Role.values()))))
        person = draw(persons())
        if person.ListFields():
            involved.person.CopyFrom(person)
    return alert


_NOTICE_ACTIONS = [canonical.ACTION_ISSUE, canonical.ACTION_UPDATE, canonical.ACTION_CANCEL]
_HANDOVER_ACTIONS = [
    canonical.ACTION_PROPOSE,
    canonical.ACTION_ACCEPT,
    canonical.ACTION_REJECT,
    canonical.ACTION_COMPLETE,
    canonical.ACTION_UPDATE,
    canonical.ACTION_CANCEL,
]
_MARKINGS = [
    canonical.HANDLING_NORMAL,
    canonical.HANDLING_RESTRICTED,
    canonical.HANDLING_VICTIM_PROTECTED,
]


@st.composite
def messages(draw: st.DrawFn) -> canonical.Message:
    message = canonical.Message(
        sender_reference=draw(some_text),
        handling=draw(st.sampled_from(_MARKINGS)),
        issued_at=draw(timestamps),
    )
    kind = draw(st.sampled_from(list(Kind)))
    if kind is Kind.WANTED_PERSON_NOTICE:
        message.action = draw(st.sampled_from(_NOTICE_ACTIONS))
        message.wanted_person_notice.CopyFrom(draw(wanted_notices()))
    elif kind is Kind.VICTIM_HANDOVER:
        message.action = draw(st.sampled_from(_HANDOVER_ACTIONS))
        message.victim_handover.CopyFrom(draw(handovers()))
    else:
        message.action = draw(st.sampled_from(_NOTICE_ACTIONS))
        message.hotline_alert.CopyFrom(draw(alerts()))
    return message


@settings(max_examples=300, deadline=None)
@given(messages())
def test_canonical_native_canonical_is_lossless_for_what_the_format_holds(
    message: canonical.Message,
) -> None:
    encoded = ADAPTER.encode(message)
    assert encoded.warnings == ()
    decoded = ADAPTER.decode(encoded.data).messages[0]
    assert decoded.warnings == ()
    assert decoded.message == message
    assert ADAPTER.encode(decoded.message).data == encoded.data


# --- what the format cannot hold --------------------------------------------------------------


def _lost(message: canonical.Message) -> dict[str, str]:
    return {w.location: w.message for w in ADAPTER.encode(message).warnings}


LEFT_OUT = "vn-police-json cannot hold this field; it was left out"
CHANGED = "vn-police-json cannot hold this value exactly; it was changed"


def test_fields_the_format_cannot_hold_are_reported_with_their_path() -> None:
    message = _decode(_sample("tin_bao_111.json"))
    alert = message.hotline_alert
    alert.channel = canonical.CHANNEL_MESSAGING
    alert.received_at.seconds += 59
    alert.persons[0].person.identity_documents.add(
        type=canonical.DOCUMENT_TYPE_KH_NATIONAL_ID, number="123456789", issuing_country="KH"
    )
    alert.persons[1].person.nationality = "US"
    encoded = ADAPTER.encode(message)
    assert json.loads(encoded.data)["kenh"] == "ZALO"  # the closest code
    assert _lost(message) == {
        "hotline_alert.channel": CHANGED,
        "hotline_alert.received_at.seconds": CHANGED,
        "hotline_alert.persons[0].person.identity_documents[0].type": LEFT_OUT,
        "hotline_alert.persons[0].person.identity_documents[0].number": LEFT_OUT,
        "hotline_alert.persons[0].person.identity_documents[0].issuing_country": LEFT_OUT,
        "hotline_alert.persons[1].person.nationality": LEFT_OUT,
    }


def test_counter_proposal_is_written_as_an_update_and_reported() -> None:
    message = _decode(_sample("ban_giao.json"))
    message.action = canonical.ACTION_COUNTER_PROPOSE
    assert json.loads(ADAPTER.encode(message).data)["thao_tac"] == "CAP_NHAT"
    assert _lost(message) == {"action": CHANGED}


def test_a_latin_form_other_than_the_derived_one_is_reported() -> None:
    message = _decode(_sample("truy_na.json"))
    message.wanted_person_notice.subject.name_latin = "Ro Cham Y Phan"
    assert _lost(message) == {"wanted_person_notice.subject.name_latin": CHANGED}
    # A Khmer-script name goes out in its Latin form, readable by Vietnamese officers; the
    # Khmer form is what gets reported.
    message.wanted_person_notice.subject.name = "សុខ ដារា"
    message.wanted_person_notice.subject.name_latin = "SOK Dara"
    assert _lost(message) == {"wanted_person_notice.subject.name": CHANGED}
    assert json.loads(ADAPTER.encode(message).data)["doi_tuong"]["ho_ten"] == "SOK Dara"


def test_second_passport_and_invalid_values_are_reported_not_written() -> None:
    message = _decode(_sample("truy_na.json"))
    subject = message.wanted_person_notice.subject
    subject.identity_documents[0].number = "12345"  # not a 12-digit CCCD: never written
    for number in ("B1", "B2"):
        subject.identity_documents.add(
            type=canonical.DOCUMENT_TYPE_PASSPORT, number=number, issuing_country="VN"
        )
    message.wanted_person_notice.last_known_province = "Ratanakiri"
    message.wanted_person_notice.valid_until.month = 13
    written = json.loads(ADAPTER.encode(message).data)
    assert "so_cccd" not in written["doi_tuong"]
    assert written["doi_tuong"]["so_ho_chieu"] == "B1"
    assert "tinh" not in written
    assert "hieu_luc_den" not in written
    lost = _lost(message)
    assert lost["wanted_person_notice.last_known_province"] == LEFT_OUT
    assert lost["wanted_person_notice.valid_until.month"] == LEFT_OUT
    assert lost["wanted_person_notice.subject.identity_documents[2].number"] == LEFT_OUT
    assert lost["wanted_person_notice.subject.identity_documents[0].number"] == CHANGED


def test_case_id_and_in_reply_to_are_carried_by_the_envelope_not_reported() -> None:
    message = _decode(_sample("truy_na.json"))
    message.case_id = "0190f3a4-7b1c-7def-8123-456789abcdef"
    message.in_reply_to = "0190f3a4-7b1c-7def-8123-456789abcdf0"
    assert ADAPTER.encode(message).warnings == ()


@pytest.mark.parametrize(
    ("change", "location"),
    [
        (lambda m: m.ClearField("body"), "body"),
        (lambda m: m.ClearField("action"), "action"),
        (lambda m: m.ClearField("issued_at"), "issued_at"),
        (lambda m: setattr(m, "sender_reference", "  "), "sender_reference"),
    ],
)
def test_messages_missing_what_the_format_requires_cannot_be_encoded(
    change: Any, location: str
) -> None:
    message = _decode(_sample("truy_na.json"))
    change(message)
    with pytest.raises(CannotEncode) as raised:
        ADAPTER.encode(message)
    assert raised.value.problem.location == location
    assert raised.value.problem.message.startswith("expected ")


# --- bad input ---------------------------------------------------------------------------------


def test_not_utf8() -> None:
    data = _sample("truy_na.json").replace("Rơ".encode(), b"R\xe1")
    offset = data.index(b"R\xe1") + 1
    assert _problems(data) == (Problem("/", f"expected UTF-8 text; byte {offset} is not UTF-8"),)


def test_not_json() -> None:
    (problem,) = _problems('{"loai_tin": "TRUY_NA",\n "so_hieu": Hùng}'.encode())
    assert problem.location == "/"
    assert problem.message == "expected well-formed JSON (Expecting value) at line 2, column 13"
    assert "Hùng" not in str(problem)


@pytest.mark.parametrize("data", [b"[]", b'"TRUY_NA"', b"null"])
def test_not_an_object(data: bytes) -> None:
    assert _problems(data) == (Problem("/", "expected a JSON object holding one message"),)


def test_deeply_nested_json_is_refused() -> None:
    (problem,) = _problems(b"[" * 100_000 + b"]" * 100_000)
    assert problem.location == "/"


def test_missing_header_fields_are_all_reported() -> None:
    assert _problems(b"{}") == (
        Problem("/loai_tin", "required: expected TRUY_NA, BAN_GIAO_NAN_NHAN or TIN_BAO_111"),
        Problem("/so_hieu", "required: expected the sender's reference, a string"),
        Problem(
            "/thao_tac",
            "required: expected PHAT_HANH, CAP_NHAT, HUY, "
            "DE_NGHI, CHAP_NHAN, TU_CHOI or HOAN_THANH",
        ),
        Problem("/thoi_diem", f"required: {TIME_EXPECTED}"),
    )


def test_unknown_kind() -> None:
    doc = _doc("truy_na.json")
    doc["loai_tin"] = "LENH_BAT"
    assert _problems(doc) == (
        Problem("/loai_tin", "expected TRUY_NA, BAN_GIAO_NAN_NHAN or TIN_BAO_111"),
    )


def test_every_bad_field_of_a_handover_is_reported_at_its_pointer() -> None:
    doc = _doc("ban_giao.json")
    doc["thoi_diem"] = "20/11/2026 4:05 PM"
    doc["nan_nhan"][0]["so_cccd"] = "06430400987"  # 11 digits
    doc["nan_nhan"][0]["nhu_cau"] = ["Y_TE", "AN_O"]
    doc["nan_nhan"][0]["tre_di_cung"][0]["ngay_sinh"] = "05/00/2023"  # a day without its month
    doc["nan_nhan"][1]["ngay_sinh"] = "31/02/2009"
    doc["nan_nhan"][1]["duoi_18_tuoi"] = "có"
    doc["nan_nhan"][1]["gioi_tinh"] = "F"
    doc["thoi_gian_du_kien"] = "24/11/2026"
    doc["can_bo_ho_tong"][0]["dien_thoai"] = 2693824111
    doc["tai_lieu"] = "att-91aa04"
    problems = _problems(doc)
    assert problems == (
        Problem("/thoi_diem", TIME_EXPECTED),
        Problem("/nan_nhan/0/so_cccd", "expected a citizen ID number (CCCD) of 12 digits"),
        Problem("/nan_nhan/0/nhu_cau/1", "expected Y_TE, TAM_LY, PHAP_LY or PHIEN_DICH"),
        Problem("/nan_nhan/0/tre_di_cung/0/ngay_sinh", DATE_EXPECTED),
        Problem("/nan_nhan/1/gioi_tinh", "expected Nam, Nữ or Không rõ"),
        Problem("/nan_nhan/1/ngay_sinh", DATE_EXPECTED),
        Problem("/nan_nhan/1/duoi_18_tuoi", "expected true or false"),
        Problem("/thoi_gian_du_kien", TIME_EXPECTED),
        Problem("/can_bo_ho_tong/0/dien_thoai", "expected a string"),
        Problem("/tai_lieu", "expected a list of strings"),
    )
    _assert_quotes_nothing(problems, doc)
    _assert_quotes_nothing(problems, _doc("ban_giao.json"))


def test_bad_fields_of_a_wanted_notice() -> None:
    doc = _doc("truy_na.json")
    doc["doi_tuong"]["so_ho_chieu"] = "C 123-456"
    doc["doi_tuong"]["ten_goi_khac"] = "Phăn"
    doc["quyet_dinh_truy_na"]["ngay"] = "2026-02-02"
    doc["tinh"] = "Ratanakiri"
    doc["yeu_cau"] = "BAT_NGAY"
    doc["hieu_luc_den"] = "00/00/0000"
    doc["toi_danh"] = "Điều 150"
    problems = _problems(doc)
    assert problems == (
        Problem("/doi_tuong/ten_goi_khac", "expected a list of strings"),
        Problem(
            "/doi_tuong/so_ho_chieu",
            "expected a passport number of 1 to 20 letters A-Z and digits",
        ),
        Problem("/toi_danh", "expected an object"),
        Problem("/quyet_dinh_truy_na/ngay", DATE_EXPECTED),
        Problem("/tinh", "expected an ISO 3166-2 province code such as VN-30 or KH-16"),
        Problem("/yeu_cau", "expected BAT_GIU_BAN_GIAO, XAC_MINH_NOI_O or THONG_BAO"),
        Problem("/hieu_luc_den", DATE_EXPECTED),
    )
    _assert_quotes_nothing(problems, doc)


def test_bad_fields_of_a_hotline_alert() -> None:
    doc = _doc("tin_bao_111.json")
    doc["kenh"] = "Điện thoại"
    doc["thoi_diem_nhan"] = "32/11/2026 22:31"
    doc["nguoi_bao_tin"] = ["Rah Lan Thị Hoa", "0987 654 321"]
    doc["nguoi_lien_quan"][0]["vai_tro"] = "NAN NHAN"
    doc["nguoi_lien_quan"][1] = "anh Tuấn"
    problems = _problems(doc)
    assert problems == (
        Problem("/thoi_diem_nhan", TIME_EXPECTED),
        Problem("/kenh", "expected DIEN_THOAI, ZALO, FACEBOOK or TRUC_TIEP"),
        Problem("/nguoi_bao_tin", "expected an object"),
        Problem("/nguoi_lien_quan/0/vai_tro", "expected NAN_NHAN or NGHI_PHAM"),
        Problem("/nguoi_lien_quan/1", "expected an object"),
    )
    _assert_quotes_nothing(problems, doc)


def test_a_key_given_twice_is_an_error() -> None:
    data = _sample("truy_na.json").replace(
        b'"so_cccd": "064088001234",', b'"so_cccd": "064088001234", "so_cccd": "064088009999",'
    )
    assert _problems(data) == (
        Problem("/doi_tuong/so_cccd", "expected each key once; this key is repeated"),
    )


def test_half_a_surrogate_pair_is_refused() -> None:
    data = _sample("truy_na.json").replace('"Phăn"'.encode(), b'"Ph\\ud800n"')
    assert _problems(data) == (
        Problem(
            "/doi_tuong/ten_goi_khac/0",
            "expected text in valid Unicode; an escape names half a character",
        ),
    )


def test_time_before_year_one_in_utc_is_refused() -> None:
    doc = _doc("truy_na.json")
    doc["thoi_diem"] = "01/01/0001 06:59"
    assert _problems(doc) == (Problem("/thoi_diem", TIME_EXPECTED),)


# --- robustness: any input gives a message or problems, any message a document or a refusal ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _slots(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) of a parsed document, depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _slots(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _slots(item)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["truy_na.json", "ban_giao.json", "tin_bao_111.json"]),
    st.lists(st.tuples(st.integers(0, 2**16), json_values), min_size=1, max_size=4),
)
def test_any_value_anywhere_gives_a_message_or_located_problems(
    name: str, changes: list[tuple[int, Any]]
) -> None:
    doc = _doc(name)
    for choice, value in changes:
        slots = list(_slots(doc))
        container, key = slots[choice % len(slots)]
        container[key] = value
    problems: tuple[Problem, ...] = ()
    try:
        result = ADAPTER.decode(_bytes(doc))
    except DocumentInvalid as error:
        problems = error.problems
    else:
        assert len(result.messages) == 1
        ADAPTER.encode(result.messages[0].message)
    assert all(p.location.startswith("/") and "expected" in p.message for p in problems)


wild_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
wild_int = st.integers(0, 2**32 - 1)
wild_enum = st.integers(-3, 12)


def _enum(draw: st.DrawFn) -> Any:
    """Any enum number, known or not: proto3 enums are open."""
    return draw(wild_enum)


@st.composite
def wild_persons(draw: st.DrawFn) -> canonical.Person:
    person = canonical.Person(
        name=draw(wild_text),
        name_latin=draw(wild_text),
        aliases=draw(st.lists(wild_text, max_size=2)),
        sex=_enum(draw),
        birth_place=draw(wild_text),
        nationality=draw(st.one_of(wild_text, st.sampled_from(["VN", "KH", "US", "vn"]))),
        ethnicity=draw(wild_text),
        description=draw(wild_text),
        attachment_ids=draw(st.lists(wild_text, max_size=2)),
    )
    if draw(st.booleans()):
        person.birth_date.CopyFrom(
            canonical.Date(year=draw(wild_int), month=draw(wild_int), day=draw(wild_int))
        )
    for _ in range(draw(st.integers(0, 3))):
        person.identity_documents.add(
            type=_enum(draw),
            number=draw(st.one_of(wild_text, st.from_regex(r"[0-9 ]{12,14}", fullmatch=True))),
            issuing_country=draw(wild_text),
        )
    return person


wild_stamps = st.builds(
    Timestamp, seconds=st.integers(-(2**40), 2**40), nanos=st.integers(0, 999_999_999)
)


@st.composite
def wild_messages(draw: st.DrawFn) -> canonical.Message:
    message = canonical.Message(
        case_id=draw(wild_text),
        sender_reference=draw(wild_text),
        action=_enum(draw),
        handling=_enum(draw),
        in_reply_to=draw(wild_text),
    )
    if draw(st.booleans()):
        message.issued_at.CopyFrom(draw(wild_stamps))
    kind = draw(st.sampled_from([*Kind, None]))
    if kind is Kind.WANTED_PERSON_NOTICE:
        notice = message.wanted_person_notice
        notice.subject.CopyFrom(draw(wild_persons()))
        notice.last_known_province = draw(wild_text)
        notice.request = _enum(draw)
        notice.valid_until.year = draw(wild_int)
        notice.warrant.issued_on.month = draw(wild_int)
    elif kind is Kind.VICTIM_HANDOVER:
        handover = message.victim_handover
        for _ in range(draw(st.integers(0, 2))):
            victim = handover.victims.add(minor=draw(st.booleans()))
            victim.person.CopyFrom(draw(wild_persons()))
            victim.needs.extend(_enum(draw) for _ in range(draw(st.integers(0, 3))))
            victim.accompanying_children.append(draw(wild_persons()))
        handover.planned_at.CopyFrom(draw(wild_stamps))
        handover.escort.add(name=draw(wild_text), phone=draw(wild_text))
    elif kind is Kind.HOTLINE_ALERT:
        alert = message.hotline_alert
        alert.call_id = draw(wild_text)
        alert.received_at.CopyFrom(draw(wild_stamps))
        alert.channel = _enum(draw)
        alert.category = _enum(draw)
        alert.urgency = _enum(draw)
        alert.province = draw(wild_text)
        alert.caller.phone = draw(wild_text)
        alert.persons.add(role=_enum(draw)).person.CopyFrom(draw(wild_persons()))
    return message


@settings(max_examples=300, deadline=None)
@given(wild_messages())
def test_any_canonical_message_is_written_or_refused_and_losses_name_real_fields(
    message: canonical.Message,
) -> None:
    try:
        encoded = ADAPTER.encode(message)
    except CannotEncode as refusal:
        refused = refusal.problem.location
    else:
        refused = ""
    if refused:
        assert refused in {"body", "sender_reference", "action", "issued_at"}
        return
    decoded = ADAPTER.decode(encoded.data).messages[0].message
    assert decoded.case_id == ""
    for warning in encoded.warnings:
        assert warning.location.split(".")[0].split("[")[0] in {
            field.name for field, _ in message.ListFields()
        }
        assert not warning.location.startswith(("case_id", "in_reply_to"))
