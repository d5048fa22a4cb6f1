"""Coded values, dates, times and digits in each reader's convention."""

from __future__ import annotations

from datetime import UTC, date, datetime

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web

from gateway.console import labels, rendering
from gateway.console.context import Role
from gateway.console.i18n import (
    N_,
    digits,
    format_local_datetime,
    format_partial_date,
    load_catalogue,
)
from gateway.wire.blg.v1 import canonical_pb2, envelope_pb2
from tests.console.shell_app import fake_context


@pytest.mark.parametrize(
    ("group", "value", "vi", "km", "en"),
    [
        ("kind", "victim_handover", "Bàn giao nạn nhân", "ការប្រគល់ជនរងគ្រោះ", "Victim handover"),
        (
            "kind",
            envelope_pb2.MESSAGE_KIND_VICTIM_HANDOVER,
            "Bàn giao nạn nhân",
            "ការប្រគល់ជនរងគ្រោះ",
            "Victim handover",
        ),
        ("action", "counter_propose", "Đề nghị điều chỉnh", "បានស្នើតប", "Counter-proposed"),
        ("action", canonical_pb2.ACTION_ACCEPT, "Chấp thuận", "បានយល់ព្រម", "Accepted"),
        ("state", "awaiting_approval", "Chờ phê duyệt", "កំពុងរង់ចាំការអនុម័ត", "Awaiting approval"),
        ("state", "delivered", "Đã chuyển đến", "បានផ្ញើដល់", "Delivered"),
        ("handling", "victim_protected", "Bảo vệ nạn nhân", "ការពារជនរងគ្រោះ", "Victim protected"),
        ("handling", "HANDLING_RESTRICTED", "Hạn chế", "មានកម្រិត", "Restricted"),
        ("sex", canonical_pb2.SEX_FEMALE, "Nữ", "ស្រី", "Female"),
        ("sex", "SEX_MALE", "Nam", "ប្រុស", "Male"),
        ("need", "interpreter", "Phiên dịch", "អ្នកបកប្រែផ្ទាល់មាត់", "Interpreter"),
        ("request", canonical_pb2.REQUEST_ARREST, "Bắt giữ", "ចាប់ខ្លួន", "Arrest"),
        ("channel", "walk_in", "Trực tiếp", "ដោយផ្ទាល់", "In person"),
        (
            "category",
            "suspected_trafficking",
            "Nghi mua bán người",
            "សង្ស័យជួញដូរមនុស្ស",
            "Suspected trafficking",
        ),
        ("urgency", canonical_pb2.URGENCY_CRITICAL, "Khẩn cấp", "បន្ទាន់បំផុត", "Critical"),
        ("role", canonical_pb2.ROLE_SUSPECT, "Đối tượng nghi vấn", "ជនសង្ស័យ", "Suspect"),
        ("document_type", "passport", "Hộ chiếu", "លិខិតឆ្លងដែន", "Passport"),
        ("user_role", Role.SUPERVISOR, "Lãnh đạo", "ថ្នាក់ដឹកនាំ", "Supervisor"),
        (
            "border_gate",
            "VN-LETHANH",
            "Cửa khẩu quốc tế Lệ Thanh",
            "ច្រកទ្វារអន្តរជាតិលេថាញ់",
            "Le Thanh international border gate",
        ),
        (
            "border_gate",
            "kh-oyadav",
            "Cửa khẩu quốc tế O Yadav",
            "ច្រកទ្វារអន្តរជាតិអូរយ៉ាដាវ",
            "O Yadav international border gate",
        ),
        ("province", "KH-16", "Ratanakiri", "ខេត្តរតនគិរី", "Ratanakiri"),
        ("country", "KH", "Campuchia", "កម្ពុជា", "Cambodia"),
        # Unknown values (a partner's new code, an unset enum) are shown as they came.
        ("state", "teleported", "teleported", "teleported", "teleported"),
        ("sex", 99, "99", "99", "99"),
        ("no_such_group", "x", "x", "x", "x"),
    ],
)
def test_labels_in_each_language(group: str, value: object, vi: str, km: str, en: str) -> None:
    for language, expected in (("vi", vi), ("km", km), ("en", en)):
        with rendering.reading_in(language):
            assert rendering.label(group, value) == expected


def test_every_label_is_translated_and_distinct_per_group() -> None:
    """Two values of a group that read the same would be indistinguishable on a page."""
    for language in ("vi", "km"):
        catalogue = load_catalogue(language)
        for group, values in labels.LABELS.items():
            shown = [catalogue.get(msgid).string for msgid in values.values()]  # type: ignore[union-attr]
            assert all(shown), (language, group)
            assert len(set(shown)) == len(shown), (language, group, shown)


def test_every_canonical_enum_value_has_a_label() -> None:
    enums = {
        "action": canonical_pb2.Action,
        "handling": canonical_pb2.Handling,
        "sex": canonical_pb2.Sex,
        "need": canonical_pb2.Need,
        "request": canonical_pb2.Request,
        "channel": canonical_pb2.Channel,
        "category": canonical_pb2.Category,
        "urgency": canonical_pb2.Urgency,
        "role": canonical_pb2.Role,
        "document_type": canonical_pb2.DocumentType,
        "kind": envelope_pb2.MessageKind,
    }
    for group, enum_type in enums.items():
        for name, number in enum_type.items():
            if not name.endswith("_UNSPECIFIED"):
                assert labels.msgid(group, number) is not None, name


MOMENT = datetime(2026, 3, 5, 14, 7, tzinfo=UTC)
NEW_YEAR = datetime(2026, 12, 31, 18, 30, tzinfo=UTC)  # already 2027 at UTC+7


@pytest.mark.parametrize(
    ("moment", "language", "expected"),
    [
        (MOMENT, "vi", "05/03/2026 21:07"),
        (MOMENT, "km", "០៥/០៣/២០២៦ ២១:០៧"),
        (MOMENT, "en", "5 Mar 2026, 21:07"),
        (NEW_YEAR, "vi", "01/01/2027 01:30"),
        (NEW_YEAR, "km", "០១/០១/២០២៧ ០១:៣០"),
        (NEW_YEAR, "en", "1 Jan 2027, 01:30"),
    ],
)
def test_times_are_local_in_the_readers_convention(
    moment: datetime, language: str, expected: str
) -> None:
    assert format_local_datetime(moment, language) == expected


@pytest.mark.parametrize(
    ("year", "month", "day", "vi", "km", "en"),
    [
        (2011, 7, 9, "09/07/2011", "០៩/០៧/២០១១", "9 Jul 2011"),
        (2011, 7, 0, "07/2011", "០៧/២០១១", "Jul 2011"),
        (2011, 0, 0, "2011", "២០១១", "2011"),
        (0, 0, 0, "", "", ""),
        # An impossible date from a partner is shown as sent, not hidden or crashed on.
        (2011, 2, 30, "30/02/2011", "៣០/០២/២០១១", "30/02/2011"),
    ],
)
def test_partial_dates(year: int, month: int, day: int, vi: str, km: str, en: str) -> None:
    canonical = canonical_pb2.Date(year=year, month=month, day=day)
    for language, expected in (("vi", vi), ("km", km), ("en", en)):
        assert format_partial_date(canonical, language) == expected


def test_a_python_date_and_none() -> None:
    assert format_partial_date(date(2026, 11, 30), "vi") == "30/11/2026"
    assert format_partial_date(None, "km") == ""


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        (1234567890, "km", "១២៣៤៥៦៧៨៩០"),
        ("case 42", "km", "case ៤២"),
        (1234567890, "vi", "1234567890"),
        (7, "en", "7"),
    ],
)
def test_digits(value: object, language: str, expected: str) -> None:
    assert digits(value, language) == expected


def test_n_marks_without_translating() -> None:
    assert N_("Victim handover") == "Victim handover"


def _console_template(source: str) -> jinja2.Template:
    """source compiled in the console's Jinja environment (its globals, filters, macros)."""
    app = web.Application()
    rendering.setup(app, fake_context())
    return aiohttp_jinja2.get_env(app).from_string(source)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("vi", "Nữ|05/03/2026 21:07|07/2011|42|Vụ việc|Chấp thuận"),
        ("km", "ស្រី|០៥/០៣/២០២៦ ២១:០៧|០៧/២០១១|៤២|សំណុំរឿង|បានយល់ព្រម"),
        ("en", "Female|5 Mar 2026, 21:07|Jul 2011|42|Cases|Accepted"),
    ],
)
def test_the_template_globals_and_filters(language: str, expected: str) -> None:
    template = _console_template(
        "{{ label('sex', sex) }}|{{ moment|datetime }}|{{ born|date }}|{{ 42|digits }}"
        "|{{ _('Cases') }}|{{ label('action', 'accept') }}"
    )
    born = canonical_pb2.Date(year=2011, month=7)
    with rendering.reading_in(language):
        shown = template.render(sex=canonical_pb2.SEX_FEMALE, moment=MOMENT, born=born)
    assert shown == expected


def test_peer_names_follow_the_reader() -> None:
    template = _console_template(
        "{{ peer_name('kh-ratanakiri-police') }}|{{ peer_name('la-unknown') }}"
    )
    with rendering.reading_in("km"):
        assert template.render() == "ស្នងការដ្ឋាននគរបាលខេត្តរតនគិរី|la-unknown"
    with rendering.reading_in("en"):
        # No English name configured: the peer's id rather than a blank.
        assert template.render() == "kh-ratanakiri-police|la-unknown"


@pytest.mark.parametrize(
    ("language", "message"),
    [("vi", "Không được phép"), ("km", "មិនត្រូវបានអនុញ្ញាត"), ("en", "Not allowed")],
)
def test_the_macros_work_when_imported_without_context(language: str, message: str) -> None:
    template = _console_template(
        '{% from "_macros.html" import csrf_field, field_error %}'
        '{{ csrf_field() }}{{ field_error(errors, "to") }}{{ field_error(errors, "note") }}'
    )
    with rendering.reading_in(language, csrf_token="t<o>ken"):
        shown = template.render(errors={"to": "Not allowed"})
    assert shown == (
        '<input type="hidden" name="csrf_token" value="t&lt;o&gt;ken">'
        f'<p class="field-error" data-field="to" id="error-to">{message}</p>'
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("km", "កំហុស ៤០៣ លេខកូដ csrf_failed|១២ cases|៣ items|1 <b>|two parcels|12.2% at 007"),
        ("vi", "Lỗi 403, mã csrf_failed|12 cases|3 items|1 <b>|two parcels|12.2% at 007"),
        ("en", "Error 403, code csrf_failed|12 cases|3 items|1 <b>|two parcels|12.2% at 007"),
    ],
)
def test_numbers_inside_sentences_take_the_readers_digits(language: str, expected: str) -> None:
    template = _console_template(
        '{{ _("Error %(status)s, code %(reason)s", status=403, reason="csrf_failed") }}'
        '|{{ _("%(n)d cases", n=12) }}|{{ ngettext("%(num)d item", "%(num)d items", 3) }}'
        "|{% trans %}1 <b>{% endtrans %}"
        '|{{ ngettext("%(num)s parcel", "%(num)s parcels", 2, num="two") }}'
        '|{{ _("%(share).1f%% at %(gate)03d", share=12.25, gate=7) }}'
    )
    with rendering.reading_in(language):
        shown = template.render()
    # Digits written in a msgid stay as they are: only numbers passed in are the reader's.
    assert shown == expected


def test_values_in_sentences_are_escaped_and_the_catalogue_text_is_not() -> None:
    template = _console_template('{{ _("<i>%(name)s</i>", name="<script>") }}')
    with rendering.reading_in("km"):
        assert template.render() == "<i>&lt;script&gt;</i>"
