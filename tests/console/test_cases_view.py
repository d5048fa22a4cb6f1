"""What a case page shows of each message: coded values, who may read it, answered times."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.console.case_view import enum_value, may_read, message_views, open_many
from gateway.console.context import ConsoleUser, Role
from gateway.store.cases import CaseMessage, Direction
from gateway.wire import canonical, uuid7
from tests.crypto.support import make_pair, seal_simple

T = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
OFFICER = ConsoleUser(1, "lan", Role.OFFICER, "vi")
SUPERVISOR = ConsoleUser(2, "hung", Role.SUPERVISOR, "vi")
OPERATOR = ConsoleUser(3, "ops", Role.OPERATOR, "en")
ADMIN = ConsoleUser(4, "root", Role.ADMIN, "en")


@pytest.mark.parametrize(
    ("group", "number", "value"),
    [
        ("sex", canonical.SEX_FEMALE, "female"),
        ("action", canonical.ACTION_COUNTER_PROPOSE, "counter_propose"),
        ("handling", canonical.HANDLING_VICTIM_PROTECTED, "victim_protected"),
        ("document_type", canonical.DOCUMENT_TYPE_VN_CITIZEN_ID, "vn_citizen_id"),
        ("need", canonical.NEED_INTERPRETER, "interpreter"),
        ("role", canonical.ROLE_SUSPECT, "suspect"),
        ("urgency", 0, ""),
        ("channel", 99, ""),
    ],
)
def test_enum_values_are_label_values(group: str, number: int, value: str) -> None:
    assert enum_value(group, number) == value


def _alert(*roles: canonical.Role.ValueType) -> canonical.Message:
    return canonical.Message(
        hotline_alert=canonical.HotlineAlert(
            persons=[canonical.InvolvedPerson(role=role) for role in roles]
        )
    )


HANDOVER = canonical.Message(victim_handover=canonical.VictimHandover(border_gate="VN-LETHANH"))
NOTICE = canonical.Message(wanted_person_notice=canonical.WantedPersonNotice())


@pytest.mark.parametrize(
    ("handling", "message", "readers"),
    [
        ("normal", NOTICE, {OFFICER, SUPERVISOR, OPERATOR, ADMIN}),
        ("restricted", NOTICE, {OFFICER, SUPERVISOR}),
        ("victim_protected", HANDOVER, {OFFICER, SUPERVISOR}),
        # Marked normal by its sender, but it names victims: still not for operators.
        ("normal", HANDOVER, {OFFICER, SUPERVISOR}),
        ("normal", _alert(canonical.ROLE_SUSPECT, canonical.ROLE_VICTIM), {OFFICER, SUPERVISOR}),
        ("normal", _alert(canonical.ROLE_SUSPECT), {OFFICER, SUPERVISOR, OPERATOR, ADMIN}),
        ("normal", None, set()),
    ],
)
def test_who_may_read(
    handling: str, message: canonical.Message | None, readers: set[ConsoleUser]
) -> None:
    for user in (OFFICER, SUPERVISOR, OPERATOR, ADMIN):
        assert may_read(user, handling, message) == (user in readers), user.role


def _row(direction: Direction, minutes: int, message_id: uuid.UUID | None = None) -> CaseMessage:
    at = T + timedelta(minutes=minutes)
    return CaseMessage(
        direction=direction,
        row_id=minutes,
        message_id=message_id or uuid7(),
        peer="kh-ratanakiri-police",
        kind="victim_handover",
        handling="victim_protected" if direction == "out" else None,
        state="delivered" if direction == "out" else "received",
        queued_at=at - timedelta(seconds=5),
        receipt_at=at + timedelta(seconds=1) if direction == "out" else None,
        received_at=at if direction == "in" else None,
        envelope=b"",
    )


def _answer(
    action: canonical.Action.ValueType, in_reply_to: uuid.UUID | None = None
) -> canonical.Message:
    return canonical.Message(
        action=action,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        in_reply_to=str(in_reply_to or ""),
        victim_handover=canonical.VictimHandover(),
    )


def test_answered_is_the_first_later_reply_and_operators_get_metadata_only() -> None:
    proposal, counter, acceptance = _row("out", 0), _row("in", 10), _row("out", 20)
    rows = [proposal, counter, acceptance, _row("in", 30)]
    opened = [
        _answer(canonical.ACTION_PROPOSE),
        _answer(canonical.ACTION_COUNTER_PROPOSE, proposal.message_id),
        _answer(canonical.ACTION_ACCEPT, counter.message_id),
        # A second answer to the proposal does not move its answered time.
        _answer(canonical.ACTION_REJECT, proposal.message_id),
    ]
    views = message_views(OFFICER, rows, opened)
    assert [v.action for v in views] == ["propose", "counter_propose", "accept", "reject"]
    assert views[0].answered_at == counter.received_at
    assert views[1].answered_at == acceptance.queued_at
    assert views[2].answered_at is None
    assert all(v.content is not None and not v.withheld for v in views)
    assert views[1].handling == "victim_protected"  # from the opened message

    hidden = message_views(OPERATOR, rows, opened)
    assert [v.action for v in hidden] == ["propose", "counter_propose", "accept", "reject"]
    assert all(v.content is None and v.withheld for v in hidden)
    assert hidden[0].answered_at == counter.received_at


def test_a_message_that_does_not_open_is_unreadable_and_treated_as_protected() -> None:
    [view] = message_views(OFFICER, [_row("in", 0)], [None])
    assert (view.unreadable, view.withheld, view.content) == (True, False, None)
    assert (view.handling, view.action) == ("victim_protected", "")


async def test_open_many_opens_sent_and_received_copies_off_the_loop() -> None:
    pair = make_pair()
    message = canonical.Message(sender_reference="TN-01").SerializeToString()
    sent = seal_simple(pair.police, message=message)
    opened = await open_many(
        pair.police, [("out", sent.data), ("in", sent.data), ("out", b"garbage")]
    )
    assert opened[0] is not None
    assert opened[0].sender_reference == "TN-01"
    # Our own copy is not an incoming envelope: it does not open as one.
    assert opened[1:] == [None, None]
    [received] = await open_many(pair.ratanakiri, [("in", sent.data)])
    assert received is not None
    assert received.sender_reference == "TN-01"
