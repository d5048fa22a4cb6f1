"""Four eyes at the store: sealed drafts, approval atomic with queueing, the database's own
checks (real PostgreSQL, real keys and Dispatcher; the HTTP pages are tested separately)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from multidict import MultiDict
from nacl.public import PublicKey, SealedBox

from gateway.console.accounts import add_user
from gateway.console.context import ConsoleContext, ConsoleSettings, ConsoleUser, Role
from gateway.console.forms import handover_from_form
from gateway.console.four_eyes import approve_draft, compose_draft, read_draft
from gateway.crypto import Keyring, OwnKeyPair, reopen_stored
from gateway.crypto.drafts import DraftUnreadable, SealedDraft, open_draft, seal_draft
from gateway.federation.outgoing import Dispatcher
from gateway.policy import PeerRoute, RoutePolicy
from gateway.store import Store
from gateway.store.drafts import DraftNotAwaiting, NotDraftComposer, OwnDraft
from gateway.wire import canonical
from tests.federation.harness import KEY_VALIDITY

PEER = "kh-ratanakiri-police"
VICTIM = "Rơ Châm H'Nhung"


@dataclass(frozen=True)
class Users:
    officer: ConsoleUser
    other_officer: ConsoleUser
    supervisor: ConsoleUser
    second_supervisor: ConsoleUser


@pytest.fixture
async def users(store: Store) -> Users:
    made = []
    for name, role in (
        ("lan", Role.OFFICER),
        ("hoa", Role.OFFICER),
        ("binh", Role.SUPERVISOR),
        ("tam", Role.SUPERVISOR),
    ):
        user_id = await add_user(
            store, name=name, password=secrets.token_urlsafe(16), role=role, language="vi"
        )
        made.append(ConsoleUser(user_id, name, role, "vi"))
    return Users(*made)


@pytest.fixture
def peer_keys() -> OwnKeyPair:
    return OwnKeyPair.generate("p1", KEY_VALIDITY)


@pytest.fixture
def ctx(store: Store, peer_keys: OwnKeyPair) -> ConsoleContext:
    keyring = Keyring(
        "vn-gialai-blo", [OwnKeyPair.generate("k1", KEY_VALIDITY)], {PEER: [peer_keys.public()]}
    )
    now = datetime.now(UTC)
    dispatcher = Dispatcher(
        keyring=keyring,
        store=store,
        sendable_kinds={PEER: frozenset({"victim_handover"})},
        policy=RoutePolicy({PEER: PeerRoute("KH")}),
        message_ttl=timedelta(days=3),
        clock=lambda: datetime.now(UTC),
    )
    return ConsoleContext(
        node_id="vn-gialai-blo",
        node_country="VN",
        node_names={},
        settings=ConsoleSettings(),
        store=store,
        keyring=keyring,
        dispatcher=dispatcher,
        peers=(),
        own_keys_valid_until=now + timedelta(days=365),
        local_clients=(),
        clock=lambda: datetime.now(UTC),
    )


def _proposal() -> canonical.Message:
    now = datetime.now(UTC)
    planned = (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    form = MultiDict(
        [
            ("to", PEER),
            ("border_gate", "VN-LETHANH"),
            ("planned_at", planned),
            ("victims-0-name", VICTIM),
            ("victims-0-minor", "on"),
        ]
    )
    composed = handover_from_form(form, now=now, case_id=uuid.uuid4(), reference="BLO-1")
    assert composed.errors == {}
    return composed.message


async def _outbox_count(store: Store) -> int:
    return len(await store.list_outbox())


async def test_an_approved_draft_is_queued_once_sealed_for_the_peer(
    ctx: ConsoleContext, store: Store, peer_keys: OwnKeyPair, users: Users
) -> None:
    proposal = _proposal()
    draft_id = await compose_draft(ctx, proposal, [PEER], users.officer)
    assert await _outbox_count(store) == 0
    [awaiting] = await store.drafts_awaiting()
    assert (awaiting.id, awaiting.state, awaiting.composed_by_name) == (
        draft_id,
        "awaiting_approval",
        "lan",
    )
    opened = await read_draft(ctx, draft_id)
    assert opened is not None
    assert opened.message == proposal

    queued = await approve_draft(ctx, opened, users.supervisor)

    [row] = await store.list_outbox()
    assert [q.message_id for q in queued] == [row.message_id]
    assert (row.recipient, row.kind, row.handling) == (PEER, "victim_handover", "victim_protected")
    assert str(row.case_id) == proposal.case_id
    _, data, _ = await store.get_outbox(row.message_id) or (None, b"", None)
    assert data is not None
    peer_ring = Keyring(PEER, [peer_keys], {"vn-gialai-blo": ctx.keyring.own_public_keys()})
    sent = canonical.Message.FromString(reopen_stored(peer_ring, data).payload.message)
    assert sent.victim_handover.victims[0].person.name == VICTIM
    [approved] = await store.drafts_for_case(uuid.UUID(proposal.case_id))
    assert (approved.state, approved.decided_by, approved.message_ids) == (
        "approved",
        users.supervisor.id,
        (row.message_id,),
    )
    actions = [(e.actor, e.action) for e in await store.list_audit()]
    assert (users.officer.actor, "console.handover_composed") in actions
    assert (users.supervisor.actor, "console.handover_approved") in actions
    assert (users.supervisor.actor, "outbox.queued") in actions
    assert (await store.verify_audit()).intact


async def test_nobody_approves_their_own_draft_or_one_approved_already(
    ctx: ConsoleContext, store: Store, users: Users
) -> None:
    draft_id = await compose_draft(ctx, _proposal(), [PEER], users.supervisor)
    opened = await read_draft(ctx, draft_id)
    assert opened is not None
    with pytest.raises(OwnDraft):
        await approve_draft(ctx, opened, users.supervisor)
    assert await _outbox_count(store) == 0
    await approve_draft(ctx, opened, users.second_supervisor)
    with pytest.raises(DraftNotAwaiting):
        await approve_draft(ctx, opened, users.second_supervisor)
    assert await _outbox_count(store) == 1


async def test_of_two_concurrent_approvals_exactly_one_queues(
    ctx: ConsoleContext, store: Store, users: Users
) -> None:
    for _ in range(5):
        draft_id = await compose_draft(ctx, _proposal(), [PEER], users.officer)
        opened = await read_draft(ctx, draft_id)
        assert opened is not None
        results = await asyncio.gather(
            approve_draft(ctx, opened, users.supervisor),
            approve_draft(ctx, opened, users.second_supervisor),
            return_exceptions=True,
        )
        assert sorted(type(r).__name__ for r in results) == ["DraftNotAwaiting", "list"]
    assert await _outbox_count(store) == 5


async def test_withdrawal_by_the_composer_or_a_supervisor_only(
    ctx: ConsoleContext, store: Store, users: Users
) -> None:
    first = await compose_draft(ctx, _proposal(), [PEER], users.officer)
    officer, other_officer = users.officer, users.other_officer
    with pytest.raises(NotDraftComposer):
        await store.withdraw_draft(
            first, user_id=other_officer.id, actor=other_officer.actor, any_composer=False
        )
    withdrawn = await store.withdraw_draft(
        first, user_id=officer.id, actor=officer.actor, any_composer=False
    )
    assert (withdrawn.state, withdrawn.decided_by) == ("withdrawn", officer.id)
    second = await compose_draft(ctx, _proposal(), [PEER], users.officer)
    supervisor = users.supervisor
    await store.withdraw_draft(
        second, user_id=supervisor.id, actor=supervisor.actor, any_composer=True
    )
    for draft_id in (first, second):
        opened = await read_draft(ctx, draft_id)
        assert opened is not None
        with pytest.raises(DraftNotAwaiting):
            await approve_draft(ctx, opened, users.supervisor)
        with pytest.raises(DraftNotAwaiting):
            await store.withdraw_draft(
                draft_id, user_id=officer.id, actor=officer.actor, any_composer=True
            )
    assert await _outbox_count(store) == 0
    assert await store.drafts_awaiting() == []
    actions = [e.action for e in await store.list_audit()]
    assert actions.count("console.handover_withdrawn") == 2


async def test_the_database_holds_no_plaintext_and_checks_the_rules(
    ctx: ConsoleContext, store: Store, database: str, users: Users
) -> None:
    proposal = _proposal()
    draft_id = await compose_draft(ctx, proposal, [PEER], users.officer)
    connection = await asyncpg.connect(database)
    try:
        stored = bytes(
            await connection.fetchval("SELECT sealed_message FROM drafts WHERE id = $1", draft_id)
        )
        dumped = await connection.fetchval(
            "SELECT drafts::text FROM drafts WHERE id = $1", draft_id
        )
        for needle in (VICTIM.encode(), b"H'Nhung", "Nhung".encode("utf-16-le")):
            assert needle not in stored
        assert "Nhung" not in dumped
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(
                "UPDATE drafts SET state = 'approved', decided_by = composed_by, "
                "decided_at = now(), message_ids = '{}' WHERE id = $1",
                draft_id,
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute("UPDATE drafts SET recipients = '{x}' WHERE id = $1", draft_id)
        await connection.execute(
            "UPDATE drafts SET state = 'withdrawn', decided_by = composed_by, "
            "decided_at = now() WHERE id = $1",
            draft_id,
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(
                "UPDATE drafts SET state = 'awaiting_approval', decided_by = NULL, "
                "decided_at = NULL WHERE id = $1",
                draft_id,
            )
        # A sealed draft moved to another draft's row (another composer) does not open.
        other = await compose_draft(ctx, _proposal(), [PEER], users.supervisor)
        await connection.execute(
            "INSERT INTO drafts (case_id, kind, recipients, composed_by, composed_at, key_id, "
            "sealed_message) SELECT case_id, kind, recipients, $2, composed_at, key_id, "
            "sealed_message FROM drafts WHERE id = $1",
            draft_id,
            users.supervisor.id,
        )
        moved = await connection.fetchval("SELECT max(id) FROM drafts")
    finally:
        await connection.close()
    assert moved != other
    with pytest.raises(DraftUnreadable):
        await read_draft(ctx, moved)


def test_a_sealed_draft_opens_only_with_its_key_and_its_rows_metadata() -> None:
    own = OwnKeyPair.generate("k1", KEY_VALIDITY)
    keyring = Keyring("vn-gialai-blo", [own], {})
    now = datetime.now(UTC)
    sealed = seal_draft(keyring, VICTIM.encode(), context="case|victim_handover|kh|1", at=now)
    assert sealed.key_id == "k1"
    assert VICTIM.encode() not in sealed.data
    assert open_draft(keyring, sealed, context="case|victim_handover|kh|1") == VICTIM.encode()
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    rotated = Keyring("vn-gialai-blo", [OwnKeyPair.generate("k2", KEY_VALIDITY)], {})
    # A SealedBox anyone could make from the public key does not pass for a sealed draft.
    forged = SealedBox(PublicKey(own.public().encryption_public)).encrypt(VICTIM.encode())
    for key_ring, draft, context in (
        (keyring, sealed, "case|victim_handover|kh|2"),
        (keyring, SealedDraft("k1", bytes(flipped)), "case|victim_handover|kh|1"),
        (rotated, sealed, "case|victim_handover|kh|1"),
        (keyring, SealedDraft("k1", forged), "case|victim_handover|kh|1"),
    ):
        with pytest.raises(DraftUnreadable):
            open_draft(key_ring, draft, context=context)
