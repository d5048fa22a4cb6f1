"""Console forms to canonical messages and back: the handover and its answers (pure functions;
the Dispatcher's checks with a real keyring and route policy, no database). Notices and alerts:
test_forms_notices.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from multidict import MultiDict

from adapters.common.localtime import from_timestamp
from gateway.console.form_fields import LOCAL_ZONE
from gateway.console.forms import (
    MSG_ONWARD,
    Composed,
    answer_from_form,
    checked,
    handover_from_form,
    handover_to_form,
    new_reference,
    refusal_error,
)
from gateway.console.notice_forms import alert_from_form, notice_from_form
from gateway.crypto import Keyring, OwnKeyPair
from gateway.federation.outgoing import Dispatcher, SubmissionRefused
from gateway.policy import PeerRoute, RoutePolicy
from gateway.wire import canonical
from tests.console.form_support import ALERT, NOTICE, NOW, PEER, POLICE, form_with
from tests.federation.harness import KEY_VALIDITY

CASE = uuid.UUID("3f2b9c1e-7d4e-4c1a-9b1e-0a2b3c4d5e6f")

HANDOVER: list[tuple[str, str]] = [
    ("to", PEER),
    ("border_gate", "VN-LETHANH"),
    ("planned_at", "2026-12-02T09:30"),
    ("note", "Hai nạn nhân\nđi xe cứu thương"),
    ("victims-0-name", "Rơ Châm H'Nhung"),
    ("victims-0-name_latin", ""),
    ("victims-0-sex", "female"),
    ("victims-0-birth_date", "2009-03-14"),
    ("victims-0-minor", "on"),
    ("victims-0-needs", "medical"),
    ("victims-0-needs", "interpreter"),
    ("victims-0-child-0-name", "ស៊ុខ ដារា"),
    ("victims-0-child-0-name_latin", "SOK Dara"),
    ("victims-0-child-0-sex", "male"),
    ("victims-0-child-0-birth_date", "២០២៤"),  # Khmer digits, year only
    ("victims-0-child-1-name", ""),
    ("victims-1-name", "Nguyễn Thị Lan"),
    ("victims-1-name_latin", "NGUYEN Thi Lan"),
    ("victims-1-sex", "female"),
    ("victims-1-birth_date", "1998"),
    ("victims-2-name", ""),
    ("victims-2-name_latin", ""),
    ("escort-0-name", "Trần Văn Bình"),
    ("escort-0-rank", "Thiếu tá"),
    ("escort-0-unit", "Đồn Biên phòng Lệ Thanh"),
    ("escort-0-phone", "+84 269 3823 456"),
    ("escort-1-name", ""),
]


def _handover(form: MultiDict[str]) -> Composed:
    return handover_from_form(form, now=NOW, case_id=CASE, reference="BLO-20261130-AB12")


@pytest.fixture
def dispatcher() -> Dispatcher:
    peers = {
        PEER: ["victim_handover", "wanted_person_notice"],
        POLICE: ["wanted_person_notice", "hotline_alert", "victim_handover"],
    }
    own = OwnKeyPair.generate("k1", KEY_VALIDITY)
    peer_keys = {p: [OwnKeyPair.generate("p1", KEY_VALIDITY).public()] for p in peers}
    return Dispatcher(
        keyring=Keyring("vn-gialai-blo", [own], peer_keys),
        # check() never touches the store.
        store=None,  # type: ignore[arg-type]
        sendable_kinds={p: frozenset(kinds) for p, kinds in peers.items()},
        policy=RoutePolicy({PEER: PeerRoute("KH"), POLICE: PeerRoute("VN")}),
        message_ttl=timedelta(days=3),
        clock=lambda: NOW,
    )


def test_a_full_handover_form_becomes_a_victim_protected_proposal(dispatcher: Dispatcher) -> None:
    composed = checked(_handover(form_with(HANDOVER)), dispatcher)
    assert composed.errors == {}
    assert composed.recipients == (PEER,)
    message = composed.message
    assert message.action == canonical.ACTION_PROPOSE
    assert message.handling == canonical.HANDLING_VICTIM_PROTECTED
    assert message.case_id == str(CASE)
    assert message.sender_reference == "BLO-20261130-AB12"
    handover = message.victim_handover
    assert handover.border_gate == "VN-LETHANH"
    # 09:30 at UTC+7 is 02:30 UTC.
    assert from_timestamp(handover.planned_at) == datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    assert [v.person.name for v in handover.victims] == ["Rơ Châm H'Nhung", "Nguyễn Thị Lan"]
    first = handover.victims[0]
    assert first.person.name_latin == "RO Cham H'Nhung"  # made from a Latin-script name
    assert first.minor
    assert list(first.needs) == [canonical.NEED_MEDICAL, canonical.NEED_INTERPRETER]
    assert first.person.birth_date == canonical.Date(year=2009, month=3, day=14)
    [child] = first.accompanying_children
    assert (child.name, child.name_latin, child.sex) == ("ស៊ុខ ដារា", "SOK Dara", canonical.SEX_MALE)
    assert child.birth_date == canonical.Date(year=2024)
    [escort] = handover.escort
    assert (escort.rank, escort.phone) == ("Thiếu tá", "+84 269 3823 456")


def test_the_form_refilled_from_the_message_gives_the_same_message() -> None:
    first = _handover(form_with(HANDOVER))
    again = _handover(handover_to_form(first.message, first.recipients))
    assert again.errors == {}
    assert again.message == first.message


BAD_HANDOVERS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("no recipient", {"to": None}, {"to": "Choose the agency to send to"}),
    ("no gate", {"border_gate": ""}, {"border_gate": "Choose the border gate"}),
    (
        "unknown gate",
        {"border_gate": "VN-XX"},
        {"border_gate": "Choose one of the values in the list"},
    ),
    (
        "no time",
        {"planned_at": ""},
        {"planned_at": "Enter the planned date and time of the handover (local time, UTC+7)"},
    ),
    ("past time", {"planned_at": "2026-11-30T15:59"}, {"planned_at": "Enter a time in the future"}),
    (
        "time in year 0202",
        {"planned_at": "0202-12-02T09:30"},
        {"planned_at": "Enter the date and time (local time, UTC+7)"},
    ),
    (
        "bad time",
        {"planned_at": "next tuesday"},
        {"planned_at": "Enter the date and time (local time, UTC+7)"},
    ),
    (
        "victim without a name",
        {"victims__0__name": ""},
        {"victims-0-name": "Enter the name as written in the person's own script"},
    ),
    (
        "Khmer name without its Latin form",
        {"victims__0__child__0__name_latin": ""},
        {
            "victims-0-child-0-name_latin": (
                "Enter the Latin form of the name, family name first (for example SOK Dara)"
            )
        },
    ),
    (
        "Latin form in Khmer script",
        {"victims__1__name_latin": "ស៊ុខ"},
        {"victims-1-name_latin": "Enter the Latin form in Latin letters only"},
    ),
    (
        "impossible birth date",
        {"victims__1__birth_date": "1998-02-30"},
        {"victims-1-birth_date": "Enter the birth date as yyyy-mm-dd, or the year alone as yyyy"},
    ),
    (
        "birth date in the future",
        {"victims__1__birth_date": "2030"},
        {"victims-1-birth_date": "Enter a date that is not in the future"},
    ),
    (
        "unknown sex",
        {"victims__1__sex": "x"},
        {"victims-1-sex": "Choose one of the values in the list"},
    ),
    (
        "unknown need",
        {"victims__1__needs": "food"},
        {"victims-1-needs": "Choose one of the values in the list"},
    ),
    (
        "control character in a name",
        {"victims__1__name": "Lan\x00"},
        {"victims-1-name": "Enter plain text, without control characters"},
    ),
    (
        "name too long",
        {"victims__1__name": "A" * 201},
        {"victims-1-name": "This text is too long: shorten it"},
    ),
    (
        "escort without a name",
        {"escort__0__name": ""},
        {"escort-0-name": "Enter the escorting officer's name"},
    ),
    (
        "escort phone of letters",
        {"escort__0__phone": "call me"},
        {"escort-0-phone": "Enter a phone number: digits, spaces and an optional leading +"},
    ),
]


@pytest.mark.parametrize(
    ("changes", "errors"), [c[1:] for c in BAD_HANDOVERS], ids=[c[0] for c in BAD_HANDOVERS]
)
def test_each_bad_field_is_named_with_what_was_expected(
    changes: dict[str, Any], errors: dict[str, str], dispatcher: Dispatcher
) -> None:
    composed = checked(_handover(form_with(HANDOVER, **changes)), dispatcher)
    assert composed.errors == errors


def test_a_form_with_no_victim_says_so() -> None:
    form = MultiDict([(k, v) for k, v in HANDOVER if not k.startswith("victims-")])
    assert _handover(form).errors == {"victims": "Enter at least one victim"}


def test_an_only_minor_flag_is_a_victim_without_a_name() -> None:
    form = form_with(HANDOVER, victims__2__minor="on")
    assert _handover(form).errors == {
        "victims-2-name": "Enter the name as written in the person's own script"
    }


def test_errors_never_quote_what_was_typed() -> None:
    form = form_with(HANDOVER, victims__1__name="Lan\x07secret", victims__1__birth_date="secret")
    errors = _handover(form).errors
    assert errors
    assert all("secret" not in message for message in errors.values())


def test_the_dispatchers_refusals_are_shown_beside_the_recipient(dispatcher: Dispatcher) -> None:
    assert checked(_handover(form_with(HANDOVER, to="kh-unknown")), dispatcher).errors == {
        "to": "Choose an agency from the list"
    }
    notice = notice_from_form(form_with(NOTICE, to=PEER), now=NOW, reference="R")
    alert = alert_from_form(form_with(ALERT, to=PEER), now=NOW, reference="R")
    assert checked(notice, dispatcher).errors == {}
    assert checked(alert, dispatcher).errors == {
        "to": "This agency does not receive this kind of message"
    }


@pytest.mark.parametrize(
    ("refused", "expected"),
    [
        (SubmissionRefused("no_route", "to", "x"), ("to", "Choose the agency to send to")),
        (
            SubmissionRefused("invalid_field", "sender_reference", "x"),
            (
                "sender_reference",
                "Enter the reference in visible characters, at most 128, on one line",
            ),
        ),
        (
            SubmissionRefused("invalid_field", "hotline_alert.call_id", "x"),
            ("call_id", "Enter the reference in visible characters, at most 128, on one line"),
        ),
        (
            SubmissionRefused("invalid_field", "in_reply_to", "x"),
            ("form", "The case or the answered message is not valid: open the case again"),
        ),
        (
            SubmissionRefused("message_too_large", "body", "x"),
            ("form", "The message is too large to send: shorten the texts or name fewer people"),
        ),
    ],
)
def test_refusals_map_to_form_fields(refused: SubmissionRefused, expected: tuple[str, str]) -> None:
    assert refusal_error(refused) == expected


def test_a_reference_is_made_in_local_time() -> None:
    late = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # already 1 December at UTC+7
    assert new_reference(late, "00FF") == "BLO-20261201-00FF"
    assert new_reference(late) != new_reference(late)


# --- answers --------------------------------------------------------------------------------

ANSWERED = uuid.UUID("0193f0c2-7d4e-7c1a-9b1e-0a2b3c4d5e6f")


def _answer(**fields: str) -> Composed:
    proposal = _handover(form_with(HANDOVER)).message
    return answer_from_form(
        MultiDict(fields),
        now=NOW,
        answered=proposal,
        answered_id=ANSWERED,
        case_id=CASE,
        sender=PEER,
        reference="BLO-20261130-CD34",
    )


def test_an_acceptance_keeps_the_proposed_gate_and_time_and_names_no_victim() -> None:
    composed = _answer(action="accept")
    assert composed.errors == {}
    message = composed.message
    assert (message.action, message.in_reply_to, message.case_id) == (
        canonical.ACTION_ACCEPT,
        str(ANSWERED),
        str(CASE),
    )
    assert composed.recipients == (PEER,)
    handover = message.victim_handover
    assert handover.border_gate == "VN-LETHANH"
    assert from_timestamp(handover.planned_at) == datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
    assert not handover.victims


def test_a_counter_proposal_carries_the_new_time() -> None:
    composed = _answer(action="counter_propose", planned_at="2026-12-03T14:00")
    assert composed.errors == {}
    planned = from_timestamp(composed.message.victim_handover.planned_at)
    assert planned.astimezone(LOCAL_ZONE).hour == 14


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"action": "maybe"}, {"action": "Choose what to answer"}),
        (
            {"action": "counter_propose"},
            {"planned_at": "Enter the planned date and time of the handover (local time, UTC+7)"},
        ),
        (
            {"action": "counter_propose", "planned_at": "2026-11-29T10:00"},
            {"planned_at": "Enter a time in the future"},
        ),
        (
            {"action": "reject", "reason": "  "},
            {"reason": "Enter the reason for rejecting the handover"},
        ),
    ],
)
def test_bad_answers(fields: dict[str, str], errors: dict[str, str]) -> None:
    assert _answer(**fields).errors == errors


def test_a_rejection_carries_its_reason() -> None:
    composed = _answer(action="reject", reason="Chưa đủ hồ sơ")
    assert composed.errors == {}
    assert composed.message.victim_handover.note == "Chưa đủ hồ sơ"


def test_an_onward_refusal_is_shown_beside_the_recipients() -> None:
    """The Dispatcher's onward_not_allowed (issue 11) names the `to` field: the officer sees,
    in their language, why that agency cannot have this case."""
    refused = SubmissionRefused("onward_not_allowed", "to", "kh-stungtreng-police may not ...")
    assert refusal_error(refused) == ("to", MSG_ONWARD)
