"""Wanted-person notices and hotline alerts: console forms to canonical messages and back
(pure functions, no database)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from multidict import MultiDict

from gateway.console.notice_forms import (
    alert_from_form,
    alert_to_form,
    notice_from_form,
    notice_to_form,
)
from gateway.wire import canonical
from tests.console.form_support import ALERT, NOTICE, NOW, POLICE, form_with


@pytest.mark.parametrize(
    ("build", "unbuild", "base"),
    [(notice_from_form, notice_to_form, NOTICE), (alert_from_form, alert_to_form, ALERT)],
    ids=["notice", "alert"],
)
def test_notices_and_alerts_round_trip(
    build: Any, unbuild: Any, base: list[tuple[str, str]]
) -> None:
    first = build(form_with(base), now=NOW, reference="BLO-X")
    assert first.errors == {}
    again = build(unbuild(first.message, first.recipients), now=NOW, reference="BLO-Y")
    assert again.errors == {}
    assert again.message == first.message


def test_a_notice_keeps_the_typed_reference_and_an_alert_gets_one() -> None:
    notice = notice_from_form(form_with(NOTICE), now=NOW, reference="BLO-X").message
    alert = alert_from_form(form_with(ALERT), now=NOW, reference="BLO-X").message
    assert notice.sender_reference == "125/TB-PC02"
    assert notice.wanted_person_notice.subject.identity_documents[0].number == "064085001234"
    assert alert.sender_reference == "BLO-X"
    assert alert.hotline_alert.caller.phone == "0905 123 456"
    assert alert.handling == canonical.HANDLING_VICTIM_PROTECTED


BAD_NOTICES: list[tuple[str, Any, dict[str, Any], dict[str, str]]] = [
    (
        "notice without action",
        notice_from_form,
        {"action": ""},
        {"action": "Choose issue, update or cancel"},
    ),
    (
        "notice update without reference",
        notice_from_form,
        {"action": "update", "sender_reference": ""},
        {"sender_reference": "Enter the reference of the notice this message changes"},
    ),
    (
        "notice without subject",
        notice_from_form,
        {
            "subject__name": "",
            "subject__name_latin": "",
            "subject__sex": "",
            "subject__birth_date": "",
        },
        {"subject-name": "Enter the name as written in the person's own script"},
    ),
    (
        "notice with a short citizen id",
        notice_from_form,
        {"subject__document_number": "12345"},
        {
            "subject-document_number": (
                "Enter the document number: 12 digits for a Vietnamese citizen ID, 9 for a "
                "Cambodian ID, otherwise 4 to 20 letters and digits"
            )
        },
    ),
    (
        "notice expired",
        notice_from_form,
        {"valid_until": "2026-11-01"},
        {"valid_until": "Enter a date that is not in the past"},
    ),
    (
        "notice without request",
        notice_from_form,
        {"request": ""},
        {"request": "Choose what the receiving agency is asked to do"},
    ),
    (
        "alert received in the future",
        alert_from_form,
        {"received_at": "2026-12-30T10:00"},
        {"received_at": "Enter a time that is not in the future"},
    ),
    (
        "alert without summary",
        alert_from_form,
        {"summary": ""},
        {"summary": "Enter what the caller said"},
    ),
    (
        "alert person without role",
        alert_from_form,
        {"persons__0__role": ""},
        {"persons-0-role": "Choose victim or suspect"},
    ),
]


@pytest.mark.parametrize(
    ("build", "changes", "errors"), [c[1:] for c in BAD_NOTICES], ids=[c[0] for c in BAD_NOTICES]
)
def test_bad_notices_and_alerts(
    build: Any, changes: dict[str, Any], errors: dict[str, str]
) -> None:
    base = NOTICE if build is notice_from_form else ALERT
    assert build(form_with(base, **changes), now=NOW, reference="BLO-X").errors == errors


def test_a_cancellation_needs_only_which_notice() -> None:
    form = MultiDict([("to", POLICE), ("action", "cancel"), ("sender_reference", "125/TB-PC02")])
    composed = notice_from_form(form, now=NOW, reference="BLO-X")
    assert composed.errors == {}
    assert composed.message.action == canonical.ACTION_CANCEL
    case = str(uuid.uuid4())
    by_case = notice_from_form(
        MultiDict([("to", POLICE), ("action", "cancel"), ("case_id", case)]), now=NOW, reference="B"
    )
    assert (by_case.errors, by_case.message.case_id) == ({}, case)
