"""Cases over a real PostgreSQL: sent and received rows grouped by case_id, newest first."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gateway.console import Role
from gateway.console.accounts import add_user
from gateway.store import DeliveryOutcome, IncomingEnvelope, OutgoingEnvelope, Store
from gateway.store.drafts import NewDraft
from gateway.wire import uuid7

RTK, STG = "kh-ratanakiri-police", "kh-stungtreng-police"


async def _send(store: Store, case: uuid.UUID, kind: str, *peers: str) -> list[uuid.UUID]:
    items = []
    for peer in peers:
        data = f"sealed for {peer} {uuid.uuid4()}".encode()
        items.append(
            OutgoingEnvelope(
                message_id=uuid7(),
                recipient=peer,
                case_id=case,
                kind=kind,
                handling="victim_protected" if kind == "victim_handover" else "restricted",
                envelope=data,
                envelope_sha256=hashlib.sha256(data).digest(),
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
    await store.enqueue(items, [])
    return [item.message_id for item in items]


async def _receive(
    store: Store, case: uuid.UUID, kind: str, sender: str, at: datetime | None = None
) -> uuid.UUID:
    message_id = uuid7()
    data = f"sealed from {sender} {message_id}".encode()
    received_at = at or datetime.now(UTC)
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender=sender,
                message_id=message_id,
                case_id=case,
                kind=kind,
                envelope=data,
                envelope_sha256=hashlib.sha256(data).digest(),
                receipt=b"receipt",
                created_at=received_at - timedelta(seconds=3),
                received_at=received_at,
            )
        ]
    )
    return message_id


async def _deliver(store: Store, peer: str, receipt_at: datetime) -> None:
    claimed = await store.claim(peer, 100, "test")
    await store.finish(
        peer,
        [DeliveryOutcome(c.message_id, b"receipt", True, "", receipt_at) for c in claimed],
    )


async def test_sent_and_received_rows_of_a_case_are_one_case(store: Store) -> None:
    handover = uuid.uuid4()
    await _send(store, handover, "victim_handover", RTK, STG)
    await _receive(store, handover, "victim_handover", RTK)
    page = await store.list_cases()
    assert page.total == 1
    [case] = page.cases
    assert case.case_id == handover
    assert (case.sent, case.received) == (2, 1)
    assert case.peers == (RTK, STG)
    assert case.kinds == ("victim_handover",)
    assert (case.latest_state, case.latest_direction) == ("received", "in")
    assert case.opened_at <= case.last_activity_at


async def test_newest_activity_first_and_paged(store: Store) -> None:
    old, middle, new = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _send(store, old, "wanted_person_notice", RTK)
    await _send(store, middle, "hotline_alert", RTK)
    await _send(store, new, "victim_handover", STG)
    # A reply brings the oldest case to the top.
    await _receive(store, old, "wanted_person_notice", RTK)
    page = await store.list_cases()
    assert [c.case_id for c in page.cases] == [old, new, middle]
    second = await store.list_cases(limit=2, offset=2)
    assert ([c.case_id for c in second.cases], second.total) == ([middle], 3)
    assert (await store.list_cases(limit=10_000)).total == 3  # the bound is the store's


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"kind": "hotline_alert"}, ["alert"]),
        ({"peer": STG}, ["handover"]),
        ({"peer": RTK}, ["notice", "alert"]),
        ({"state": "received"}, ["notice"]),
        ({"state": "delivered"}, ["alert"]),
        ({"state": "queued"}, ["handover"]),
        ({"kind": "victim_handover", "peer": RTK}, []),
    ],
)
async def test_filters(store: Store, filters: dict[str, str], expected: list[str]) -> None:
    cases = {name: uuid.uuid4() for name in ("notice", "alert", "handover")}
    await _send(store, cases["alert"], "hotline_alert", RTK)
    await _deliver(store, RTK, datetime.now(UTC))
    await _send(store, cases["handover"], "victim_handover", STG)
    await _receive(store, cases["notice"], "wanted_person_notice", RTK)
    page = await store.list_cases(**filters)  # type: ignore[arg-type]
    names = {case_id: name for name, case_id in cases.items()}
    assert [names[c.case_id] for c in page.cases] == expected
    assert page.total == len(expected)


async def test_thread_in_time_order_with_receipt_and_arrival_times(store: Store) -> None:
    handover, other = uuid.uuid4(), uuid.uuid4()
    [proposal] = await _send(store, handover, "victim_handover", RTK)
    await _send(store, other, "victim_handover", RTK)
    receipt_at = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    await _deliver(store, RTK, receipt_at)
    answer = await _receive(store, handover, "victim_handover", RTK)
    [acceptance] = await _send(store, handover, "victim_handover", RTK)

    thread = await store.case_thread(handover)
    assert [m.message_id for m in thread] == [proposal, answer, acceptance]
    assert [m.direction for m in thread] == ["out", "in", "out"]
    assert [m.state for m in thread] == ["delivered", "received", "queued"]
    assert thread[0].receipt_at == receipt_at
    assert thread[0].handling == "victim_protected"
    assert thread[1].received_at is not None
    assert thread[1].handling is None
    assert thread[1].peer == RTK
    assert thread[2].receipt_at is None
    assert (thread[1].envelope or b"").startswith(b"sealed from")
    assert [m.message_id for m in await store.case_thread(handover, limit=2)] == [proposal, answer]
    envelopes = await store.case_envelopes([("out", thread[0].row_id), ("in", thread[1].row_id)])
    assert envelopes == {
        ("out", thread[0].row_id): thread[0].envelope,
        ("in", thread[1].row_id): thread[1].envelope,
    }


async def test_case_of_a_sent_or_received_message(store: Store) -> None:
    sent_case, received_case = uuid.uuid4(), uuid.uuid4()
    [sent] = await _send(store, sent_case, "victim_handover", RTK)
    received = await _receive(store, received_case, "victim_handover", RTK)
    assert await store.case_of_message(sent) == sent_case
    assert await store.case_of_message(received) == received_case
    assert await store.case_of_message(uuid7()) is None
    assert await store.case_thread(uuid.uuid4()) == []


async def test_drafts_not_sent_yet_are_part_of_their_case(store: Store) -> None:
    composer = await add_user(
        store, name="lan", password="a long enough password", role=Role.OFFICER, language="vi"
    )
    drafted, sent = uuid.uuid4(), uuid.uuid4()
    await _send(store, sent, "victim_handover", RTK)
    draft_id = await store.create_draft(
        NewDraft(
            case_id=drafted,
            kind="victim_handover",
            recipients=(RTK, STG),
            composed_by=composer,
            composed_at=datetime.now(UTC),
            key_id="k1",
            sealed_message=b"sealed to our own key",
        ),
        actor=f"user:{composer}",
    )
    page = await store.list_cases()
    assert [c.case_id for c in page.cases] == [drafted, sent]
    draft_case = page.cases[0]
    assert (draft_case.sent, draft_case.received, draft_case.drafts) == (0, 0, 1)
    assert draft_case.peers == (RTK, STG)
    assert (draft_case.latest_state, draft_case.latest_direction) == ("awaiting_approval", "draft")
    assert await store.case_envelopes([("draft", draft_case.latest_row)]) == {}
    awaiting = await store.list_cases(state="awaiting_approval")
    assert [c.case_id for c in awaiting.cases] == [drafted]

    await store.withdraw_draft(
        draft_id, user_id=composer, actor=f"user:{composer}", any_composer=False
    )
    [withdrawn] = (await store.list_cases(state="withdrawn")).cases
    assert withdrawn.case_id == drafted
