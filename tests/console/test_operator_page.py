"""The operator page through the real console app, a real store and real sign-in.

Dead and rejected messages are made the way the sender makes them (claimed, then given up
after an invalid receipt, or refused by the peer), from a victim handover that names its
victim: the page must list the message and never show the name.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
import trustme

from gateway.console import Role
from gateway.console.operator_status import KEYS_WARNING_DAYS
from gateway.demo.routes import VN_JSON, DemoRoute, load_sample
from gateway.store import EmbeddedPostgres, IncomingEnvelope, Store
from gateway.wire import uuid7
from tests.console.conftest import NODE, ConsoleHarness, running_console
from tests.federation.harness import Federation, local_client, without_attachment_ids

PEER = "kh-ratanakiri-police"
VICTIM = "Rơ Mah Thị Hlinh"
VICTIM_LATIN = "Ro Mah Thi Hlinh"
HANDOVER = DemoRoute("vn-gialai-blo", "ban_giao.json", VN_JSON, (PEER,))
LOCAL_CLIENT = "case-system"


class Page(HTMLParser):
    """The elements of a page (tag and attributes) and its text, for checks by attribute."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    def find(self, tag: str, css_class: str) -> list[dict[str, str]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and css_class in attrs.get("class", "").split()
        ]

    def reason(self) -> str | None:
        mains = [attrs for name, attrs in self.elements if name == "main"]
        return mains[0].get("data-reason") if mains else None


async def _requeue(
    console: ConsoleHarness, message_id: object, token: str | None
) -> tuple[int, str | None]:
    """A refused requeue posted (token as its CSRF field, if any): status and data-reason."""
    response = await console.client.post(
        f"/console/operator/requeue/{message_id}",
        data={} if token is None else {"csrf_token": token},
        allow_redirects=False,
    )
    return response.status, Page(await response.text()).reason()


async def _queued_handover(console: ConsoleHarness) -> uuid.UUID:
    """A victim handover naming VICTIM, queued for PEER; returns its message id."""
    (message,) = load_sample(HANDOVER)
    # Its scan is not uploaded here: an attachment must be (attachment_unknown otherwise).
    without_attachment_ids(message)
    victim = message.victim_handover.victims[0].person
    victim.name, victim.name_latin = VICTIM, VICTIM_LATIN
    (queued,) = await console.ctx.dispatcher.submit(message, [PEER], actor="test")
    return queued.message_id


async def _dead_handover(console: ConsoleHarness) -> uuid.UUID:
    message_id = await _queued_handover(console)
    claimed = await console.store.claim(PEER, 10, "test-sender")
    assert [item.message_id for item in claimed] == [message_id]
    dead = await console.store.release_invalid([message_id], "invalid_receipt", give_up_after=1)
    assert dead == [message_id]
    return message_id


async def _rejected_handover(console: ConsoleHarness) -> uuid.UUID:
    message_id = await _queued_handover(console)
    await console.store.claim(PEER, 10, "test-sender")
    await console.store.reject_unreceipted(PEER, [message_id], "policy")
    return message_id


async def _state(store: Store, message_id: uuid.UUID) -> str:
    found = await store.get_outbox(message_id)
    assert found is not None
    return found[0].state


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
async def test_operators_see_peers_and_stuck_messages_never_their_content(
    console: ConsoleHarness, role: Role
) -> None:
    dead = await _dead_handover(console)
    rejected = await _rejected_handover(console)
    await console.sign_in(role)
    response = await console.client.get("/console/operator")
    assert response.status == 200
    html = await response.text()
    page = Page(html)

    peers = {attrs["data-peer"]: attrs for attrs in page.find("tr", "peer")}
    assert set(peers) == {peer.id for peer in console.ctx.peers}
    # Nothing was ever delivered or refused at the transport level: no verdict yet.
    assert peers[PEER]["data-reachability"] == "unknown"
    stuck = {attrs["data-message-id"]: attrs["data-state"] for attrs in page.find("tr", "stuck")}
    assert stuck == {str(dead): "dead", str(rejected): "rejected"}
    # Each links to its case, whose page shows an operator the metadata only.
    cases = {attrs["href"] for attrs in page.find("a", "case-link")}
    for message_id in (dead, rejected):
        found = await console.store.get_outbox(message_id)
        assert found is not None
        assert f"/console/cases/{found[0].case_id}" in cases
    forms = {attrs.get("action") for name, attrs in page.elements if name == "form"}
    assert {f"/console/operator/requeue/{dead}", f"/console/operator/requeue/{rejected}"} <= forms

    # Metadata only: the victim's name is nowhere, in either script, nor on the linked case.
    case_page = await console.client.get(sorted(cases)[0])
    assert case_page.status == 200
    html += await case_page.text()
    for name in (VICTIM, VICTIM_LATIN):
        assert name not in html
    (sample,) = load_sample(HANDOVER)
    for victim in sample.victim_handover.victims:
        assert victim.person.name not in html


async def test_an_operator_requeues_a_dead_message_and_it_is_audited(
    console: ConsoleHarness,
) -> None:
    dead = await _dead_handover(console)
    user = await console.sign_in(Role.OPERATOR)
    token = await console.csrf("/console/operator")
    response = await console.client.post(
        f"/console/operator/requeue/{dead}", data={"csrf_token": token}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/console/operator?requeued=1"
    assert await _state(console.store, dead) == "queued"

    entries = [
        entry for entry in await console.store.list_audit(limit=50) if entry.subject == str(dead)
    ]
    actions = {entry.action: entry.actor for entry in entries}
    assert actions["console.requeued"] == f"user:{user.id}"
    assert actions["outbox.requeued"] == f"user:{user.id}"

    # The page after the redirect says so, and the message is no longer listed as stuck.
    page = Page(await (await console.client.get(response.headers["Location"])).text())
    assert page.find("p", "notice")
    assert page.find("tr", "stuck") == []


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SUPERVISOR])
async def test_officers_and_supervisors_are_refused_the_page_and_the_requeue(
    console: ConsoleHarness, role: Role
) -> None:
    dead = await _dead_handover(console)
    await console.sign_in(role)
    response = await console.client.get("/console/operator")
    assert response.status == 403
    assert Page(await response.text()).reason() == "forbidden"

    token = await console.csrf("/console/operator")
    assert await _requeue(console, dead, token) == (403, "forbidden")
    assert await _state(console.store, dead) == "dead"


async def test_a_requeue_without_its_csrf_token_changes_nothing(console: ConsoleHarness) -> None:
    dead = await _dead_handover(console)
    await console.sign_in(Role.OPERATOR)
    assert await _requeue(console, dead, None) == (403, "csrf_failed")
    assert await _state(console.store, dead) == "dead"


async def test_only_dead_or_rejected_messages_can_be_requeued(console: ConsoleHarness) -> None:
    queued = await _queued_handover(console)
    await console.sign_in(Role.OPERATOR)
    token = await console.csrf("/console/operator")
    assert await _requeue(console, queued, token) == (409, "not_requeueable")
    assert await _state(console.store, queued) == "queued"

    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        assert await _requeue(console, missing, token) == (404, "not_found")


async def test_signed_out_visitors_are_sent_to_sign_in(console: ConsoleHarness) -> None:
    response = await console.client.get("/console/operator", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/console/sign-in")


@pytest.fixture
async def console_with_local_client(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleHarness]:
    """The `console` fixture's node, with a local client that takes incoming messages."""
    federation = Federation(tmp_path, postgres, ca)
    _token, client = local_client(LOCAL_CLIENT, ["vn-police-json"])
    client["delivery"] = {"type": "drop_folder", "path": "inbox"}
    federation.sections[NODE] = {"local_clients": [client]}
    async with running_console(federation) as harness:
        assert harness.ctx.local_clients == (LOCAL_CLIENT,)
        yield harness


async def test_the_local_backlog_counts_waiting_and_held_deliveries(
    console_with_local_client: ConsoleHarness,
) -> None:
    console = console_with_local_client
    now = datetime.now(UTC)
    await console.store.store_incoming(
        [
            IncomingEnvelope(
                sender=PEER,
                message_id=uuid7(),
                case_id=uuid.uuid4(),
                kind="victim_handover",
                envelope=f"sealed {n}".encode(),
                envelope_sha256=hashlib.sha256(f"sealed {n}".encode()).digest(),
                receipt=b"receipt",
                created_at=now,
                received_at=now,
                local_recipients=(LOCAL_CLIENT,),
            )
            for n in range(3)
        ]
    )
    first, *_ = await console.store.next_local_deliveries(LOCAL_CLIENT, 10)
    assert await console.store.hold_local(first, LOCAL_CLIENT, "cannot_encode:planned_at")

    await console.sign_in(Role.OPERATOR)
    page = Page(await (await console.client.get("/console/operator")).text())
    assert page.find("table", "local-clients")
    (row,) = page.find("tr", "local-client")
    assert row["data-client"] == LOCAL_CLIENT
    counts = {
        css: attrs["data-count"] for css in ("backlog", "held") for attrs in page.find("td", css)
    }
    assert counts == {"backlog": "2", "held": "1"}


@pytest.mark.parametrize(("later", "warned"), [(timedelta(0), False), (timedelta(days=1), True)])
async def test_keys_close_to_their_end_are_flagged(
    console: ConsoleHarness, later: timedelta, warned: bool
) -> None:
    valid_until = console.ctx.own_keys_valid_until
    assert valid_until is not None
    # The console's clock moved to `later` past a point KEYS_WARNING_DAYS before the end.
    console.clock.now = valid_until - timedelta(days=KEYS_WARNING_DAYS) + later
    await console.sign_in(Role.OPERATOR)
    page = Page(await (await console.client.get("/console/operator")).text())
    assert bool(page.find("p", "error")) == warned
    own = next(attrs for attrs in page.find("span", "keys") if "data-days" in attrs)
    assert int(own["data-days"]) == (valid_until - console.clock.now).days
