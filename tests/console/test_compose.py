"""Compose and answer pages over real HTTP, a real node config and real PostgreSQL (the
`console` fixture): what is written, sent and audited, and what a form with errors shows."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import aiohttp
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from gateway.console import ConsoleUser, Role, build_console
from gateway.console.form_fields import LOCAL_ZONE
from gateway.crypto import reopen_stored, seal
from gateway.store import IncomingEnvelope
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.console.conftest import NODE, PEER, ConsoleHarness, csrf_token_in

VICTIM = "Rơ Châm H'Nhung"
CHILD = "ស៊ុខ ដារា"
_FIELD_ERROR = re.compile(r'<p class="field-error" data-field="([^"]+)"[^>]*>([^<]*)</p>')
_CASE_PATH = re.compile(r"^/console/cases/([0-9a-f-]{36})$")


def local(instant: datetime) -> str:
    return instant.astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M")


def handover_fields(now: datetime) -> list[tuple[str, str]]:
    """A complete proposal: two victims, one a minor with an accompanying child."""
    return [
        ("to", PEER),
        ("border_gate", "VN-LETHANH"),
        ("planned_at", local(now + timedelta(days=2))),
        ("note", ""),
        ("victims-0-name", VICTIM),
        ("victims-0-name_latin", ""),
        ("victims-0-sex", "female"),
        ("victims-0-birth_date", "2010"),
        ("victims-0-minor", "on"),
        ("victims-0-needs", "medical"),
        ("victims-0-child-0-name", CHILD),
        ("victims-0-child-0-name_latin", "SOK Dara"),
        ("victims-1-name", "Nguyễn Thị Lan"),
        ("victims-1-sex", "female"),
        ("victims-2-name", ""),
        ("escort-0-name", "Trần Văn Bình"),
        ("escort-0-phone", "0905 123 456"),
    ]


def field_errors(page: str) -> dict[str, str]:
    return dict(_FIELD_ERROR.findall(page))


def data_reason(page: str) -> str | None:
    found = re.search(r'<main[^>]*data-reason="([^"]+)"', page)
    return found.group(1) if found else None


async def post_form(
    console: ConsoleHarness,
    path: str,
    fields: list[tuple[str, str]],
    *,
    form_path: str | None = None,
    client: aiohttp.ClientSession | None = None,
) -> ClientResponse:
    """Post fields with the CSRF token of the session (read from form_path, or the console
    home page), not following the redirect."""
    if client is None:
        token = await console.csrf(form_path or "/console/cases")
        return await console.client.post(
            path, data=[*fields, ("csrf_token", token)], allow_redirects=False
        )
    page = await client.get(console.client.make_url(form_path or "/console/cases"))
    token = csrf_token_in(await page.text())
    return await client.post(
        console.client.make_url(path),
        data=[*fields, ("csrf_token", token)],
        allow_redirects=False,
    )


async def session_for(console: ConsoleHarness, role: Role) -> aiohttp.ClientSession:
    """A second browser: a user of role signed in through the real form, with its own cookies
    (the harness's client keeps the first user's session)."""
    name, password = await console.add_user(role)
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await session.get(console.client.make_url("/console/sign-in"))
    token = csrf_token_in(await page.text())
    answer = await session.post(
        console.client.make_url("/console/sign-in"),
        data={"name": name, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    return session


async def switch_user(console: ConsoleHarness, role: Role) -> ConsoleUser:
    """Sign the harness's browser out, and a new user of role in."""
    signed_out = await post_form(console, "/console/sign-out", [])
    assert signed_out.status == 303
    return await console.sign_in(role)


async def compose_handover(console: ConsoleHarness) -> uuid.UUID:
    """Post a complete proposal as the signed-in user; the new case's id."""
    answer = await post_form(
        console,
        "/console/compose/handover",
        handover_fields(console.clock.now),
        form_path="/console/compose/handover",
    )
    assert answer.status == 303, await answer.text()
    found = _CASE_PATH.match(answer.headers["Location"])
    assert found is not None
    return uuid.UUID(found.group(1))


async def test_a_handover_waits_as_a_draft_on_its_new_case(console: ConsoleHarness) -> None:
    officer = await console.sign_in(Role.OFFICER)
    page = await console.client.get("/console/compose/handover?victims=4")
    text = await page.text()
    assert page.status == 200
    assert 'name="victims-3-name"' in text
    assert 'name="victims-0-child-1-name"' in text
    assert 'id="submit"' in text

    case_id = await compose_handover(console)

    [draft] = await console.store.drafts_for_case(case_id)
    assert (draft.state, draft.composed_by, draft.recipients) == (
        "awaiting_approval",
        officer.id,
        (PEER,),
    )
    assert draft.composed_by_name == officer.name
    assert await console.store.list_outbox() == []
    audit = [(e.actor, e.action, e.subject) for e in await console.store.list_audit()]
    assert (officer.actor, "console.handover_composed", f"draft:{draft.id}") in audit


async def test_a_handover_with_errors_shows_each_beside_its_field_and_writes_nothing(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OFFICER, language="vi")
    now = console.clock.now
    fields = [
        (name, value)
        for name, value in handover_fields(now)
        if name not in {"victims-0-name", "to"}
    ]
    changed = {"planned_at": local(now - timedelta(hours=1)), "escort-0-phone": "không có"}
    fields = [(name, changed.get(name, value)) for name, value in fields]
    audit_before = len(await console.store.list_audit())

    answer = await post_form(
        console, "/console/compose/handover", fields, form_path="/console/compose/handover"
    )

    page = await answer.text()
    assert answer.status == 400
    assert field_errors(page) == {
        "to": "Chọn cơ quan nhận",
        "planned_at": "Nhập một thời điểm trong tương lai",
        "victims-0-name": "Nhập họ tên theo chữ viết của chính người đó",
        "escort-0-phone": "Nhập số điện thoại: chữ số, dấu cách và có thể có dấu + ở đầu",
    }
    # Each error sits right before its own input, and the form keeps what was typed.
    for name in ("planned_at", "victims-0-name"):
        assert re.search(
            rf'data-field="{name}"[^>]*>[^<]*</p>\s*<input[^>]*name="{name}"[^>]*aria-invalid="true"',
            page,
        ), name
    assert 'value="Nguyễn Thị Lan"' in page
    assert await console.store.list_outbox() == []
    assert await console.store.drafts_awaiting() == []
    assert len(await console.store.list_audit()) == audit_before


async def test_operators_cannot_compose(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OPERATOR)
    page = await console.client.get("/console/compose/handover")
    assert page.status == 403
    assert data_reason(await page.text()) == "forbidden"


async def test_a_notice_is_sent_at_once_and_opens_its_case(console: ConsoleHarness) -> None:
    officer = await console.sign_in(Role.OFFICER)
    answer = await post_form(
        console,
        "/console/compose/notice",
        [
            ("to", PEER),
            ("action", "issue"),
            ("subject-name", "Lê Văn Tám"),
            ("request", "arrest"),
            ("offence-legal_basis", "VN-PC2015-150"),
        ],
        form_path="/console/compose/notice",
    )
    assert answer.status == 303, await answer.text()
    [row] = await console.store.list_outbox()
    assert answer.headers["Location"] == f"/console/cases/{row.case_id}"
    assert (row.recipient, row.kind, row.handling) == (PEER, "wanted_person_notice", "restricted")
    sent = _opened_by_peer(console, await _envelope(console, row.message_id))
    assert sent.wanted_person_notice.subject.name_latin == "LE Van Tam"
    assert sent.sender_reference.startswith("BLO-")
    actions = [(e.actor, e.action) for e in await console.store.list_audit()]
    assert (officer.actor, "outbox.queued") in actions
    assert (officer.actor, "console.message_sent") in actions


async def test_an_alerts_caller_never_reaches_a_cambodian_peer(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER)
    page = await console.client.get("/console/compose/alert")
    assert 'class="notice caller-stays"' in await page.text()
    answer = await post_form(
        console,
        "/console/compose/alert",
        [
            ("to", PEER),
            ("action", "issue"),
            ("received_at", local(console.clock.now - timedelta(minutes=30))),
            ("category", "suspected_trafficking"),
            ("urgency", "high"),
            ("summary", "Hai thiếu nữ bị đưa qua biên giới"),
            ("caller-name", "Nguyễn Văn A"),
            ("caller-phone", "0905 000 111"),
        ],
        form_path="/console/compose/alert",
    )
    assert answer.status == 303, await answer.text()
    [row] = await console.store.list_outbox()
    sent = _opened_by_peer(console, await _envelope(console, row.message_id))
    assert sent.hotline_alert.summary == "Hai thiếu nữ bị đưa qua biên giới"
    assert not sent.hotline_alert.HasField("caller")


# --- answers --------------------------------------------------------------------------------


async def receive_proposal(console: ConsoleHarness) -> tuple[uuid.UUID, uuid.UUID]:
    """A proposal from the peer, sealed by the peer's keys and stored in the inbox as the
    federation endpoint stores it: (case id, message id)."""
    now = console.clock.now
    case_id, message_id = uuid.uuid4(), uuid7()
    message = canonical.Message(
        case_id=str(case_id),
        sender_reference="KH-HO-7",
        action=canonical.ACTION_PROPOSE,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
    )
    handover = message.victim_handover
    handover.border_gate = "KH-OYADAV"
    handover.planned_at.FromDatetime((now + timedelta(days=3)).replace(tzinfo=None))
    handover.victims.add().person.name = CHILD
    sealed = seal(
        console.federation.keyring(PEER),
        recipient=NODE,
        kind=Kind.VICTIM_HANDOVER,
        case_id=case_id,
        message_id=message_id,
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=now,
        expires_at=now + timedelta(days=3),
    )
    await console.store.store_incoming(
        [
            IncomingEnvelope(
                sender=PEER,
                message_id=message_id,
                case_id=case_id,
                kind=Kind.VICTIM_HANDOVER.value,
                envelope=sealed.data,
                envelope_sha256=sealed.sha256,
                receipt=b"receipt",  # stored for replays only; not read here
                created_at=now,
                received_at=now,
            )
        ]
    )
    return case_id, message_id


async def _envelope(console: ConsoleHarness, message_id: uuid.UUID) -> bytes:
    found = await console.store.get_outbox(message_id)
    assert found is not None
    assert found[1] is not None
    return found[1]


def _opened_by_peer(console: ConsoleHarness, data: bytes) -> canonical.Message:
    opened = reopen_stored(console.federation.keyring(PEER), data)
    return canonical.Message.FromString(opened.payload.message)


async def test_an_answer_replies_to_the_latest_incoming_message_in_its_case(
    console: ConsoleHarness,
) -> None:
    officer = await console.sign_in(Role.OFFICER)
    case_id, answered = await receive_proposal(console)
    later = (console.clock.now + timedelta(days=4)).replace(second=0)

    answer = await post_form(
        console,
        f"/console/cases/{case_id}/answer",
        [("action", "counter_propose"), ("planned_at", local(later)), ("reason", "")],
    )

    assert answer.status == 303, await answer.text()
    assert answer.headers["Location"] == f"/console/cases/{case_id}"
    [row] = await console.store.list_outbox()
    assert (row.recipient, row.case_id) == (PEER, case_id)
    sent = _opened_by_peer(console, await _envelope(console, row.message_id))
    assert (sent.action, sent.in_reply_to, sent.case_id) == (
        canonical.ACTION_COUNTER_PROPOSE,
        str(answered),
        str(case_id),
    )
    assert sent.victim_handover.border_gate == "KH-OYADAV"
    assert sent.victim_handover.planned_at.ToDatetime() == later.replace(tzinfo=None)
    assert not sent.victim_handover.victims
    details = [e.detail for e in await console.store.list_audit() if e.actor == officer.actor]
    assert {"in_reply_to": str(answered)}.items() <= details[-1].items()


async def test_a_bad_answer_comes_back_with_its_errors_and_sends_nothing(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OFFICER)
    case_id, _ = await receive_proposal(console)
    for fields, errors in (
        (
            [("action", "counter_propose"), ("planned_at", "")],
            {"planned_at": "Enter the planned date and time of the handover (local time, UTC+7)"},
        ),
        (
            [("action", "reject"), ("reason", "")],
            {"reason": "Enter the reason for rejecting the handover"},
        ),
    ):
        answer = await post_form(console, f"/console/cases/{case_id}/answer", fields)
        page = await answer.text()
        assert answer.status == 400
        assert field_errors(page) == errors
        assert f'action="/console/cases/{case_id}/answer"' in page
    assert await console.store.list_outbox() == []


async def test_only_senders_answer_and_only_cases_with_an_incoming_handover(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OFFICER)
    missing = await post_form(
        console, f"/console/cases/{uuid.uuid4()}/answer", [("action", "accept")]
    )
    assert missing.status == 404
    case_id, _ = await receive_proposal(console)
    await switch_user(console, Role.OPERATOR)
    refused = await post_form(console, f"/console/cases/{case_id}/answer", [("action", "accept")])
    assert refused.status == 403
    assert await console.store.list_outbox() == []


async def test_a_cambodian_node_has_no_hotline_alert_form(console: ConsoleHarness) -> None:
    name, password = await console.add_user(Role.OFFICER)
    app = web.Application()
    app.add_subapp("/console/", build_console(replace(console.ctx, node_country="KH")))
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/console/sign-in")
        token = csrf_token_in(await page.text())
        signed_in = await client.post(
            "/console/sign-in",
            data={"name": name, "password": password, "csrf_token": token},
            allow_redirects=False,
        )
        assert signed_in.status == 303
        handover = await client.get("/console/compose/handover")
        assert handover.status == 200
        assert "/console/compose/alert" not in await handover.text()
        alert = await client.get("/console/compose/alert")
        assert alert.status == 404
        refused = await client.post(
            "/console/compose/alert",
            data={"csrf_token": csrf_token_in(await handover.text()), "summary": "x"},
            allow_redirects=False,
        )
        assert refused.status == 404
    assert await console.store.list_outbox() == []
