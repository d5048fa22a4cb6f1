"""Audit checkpoints between two stores on a real PostgreSQL (docs/PROTOCOL.md section 16):
the checkpointer takes them in chunks and queues one per peer, the peer records each and
queues its countersignature, the origin keeps that; the exchange's own entries make no next
checkpoint due; a contradicting checkpoint is flagged at the peer; a countersignature of a
checkpoint never sent is refused. The handlers run as the receiver runs them, on envelopes
opened from the outbox rows."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.config.schema import CheckpointsConfig
from gateway.crypto import (
    EnvelopeLimits,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    RejectReason,
    open_envelope,
)
from gateway.crypto.envelope import SealedEnvelope
from gateway.federation.checkpoint_statement import STATEMENT_PATH, CheckpointStatementEndpoint
from gateway.federation.checkpoint_verify import verify_checkpoints
from gateway.federation.checkpointer import AuditCheckpointer
from gateway.federation.checkpoints import (
    Countersignature,
    read_countersignature,
    seal_countersignature,
)
from gateway.federation.controls import (
    CheckpointHandler,
    ControlHandler,
    CountersignatureHandler,
)
from gateway.federation.server import PeerAdmission
from gateway.store import AuditEntry, EmbeddedPostgres, Store, StoredIncoming
from gateway.store.checkpoints import IncomingCheckpoint, contradiction
from gateway.wire import ControlKind

ORIGIN, PEER = "vn-gialai-police", "kh-ratanakiri-police"
YEAR = KeyValidity(datetime(2020, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
ORIGIN_KEY = OwnKeyPair.generate("o1", YEAR)
PEER_KEY = OwnKeyPair.generate("p1", YEAR)
TTL = timedelta(days=1)


def _keyrings() -> tuple[Keyring, Keyring]:
    return (
        Keyring(ORIGIN, [ORIGIN_KEY], {PEER: [PEER_KEY.public()]}),
        Keyring(PEER, [PEER_KEY], {ORIGIN: [ORIGIN_KEY.public()]}),
    )


async def _new_store(postgres: EmbeddedPostgres) -> Store:
    opened = await Store.connect(await postgres.ensure_database(f"test_{uuid.uuid4().hex[:16]}"))
    await opened.migrate()
    return opened


@pytest.fixture
async def peer_store(postgres: EmbeddedPostgres) -> AsyncIterator[Store]:
    opened = await _new_store(postgres)
    yield opened
    await opened.close()


async def _pending(store: Store, kind: ControlKind) -> list[bytes]:
    rows = await store.list_outbox(state="queued", limit=1000)
    found = []
    for row in sorted(rows, key=lambda row: row.queued_at):
        if row.kind == kind.value:
            got = await store.get_outbox(row.message_id)
            assert got is not None
            assert got[1] is not None
            found.append(got[1])
    return found


async def _deliver(
    data: list[bytes], keyring: Keyring, handler: ControlHandler
) -> list[StoredIncoming | RejectReason]:
    now = datetime.now(UTC)
    items = []
    for envelope in data:
        opened = open_envelope(keyring, envelope, now=now, limits=EnvelopeLimits())
        items.append(
            handler.read(
                opened,
                digest=hashlib.sha256(envelope).digest(),
                receipt=b"receipt",
                now=now,
                data=envelope,
            )
        )
    return list(await handler.record(items, now))


def _checkpointer(keyring: Keyring, store: Store, after: int) -> AuditCheckpointer:
    return AuditCheckpointer(
        keyring=keyring,
        store=store,
        peers=[PEER],
        settings=CheckpointsConfig(every=timedelta(hours=1), after_entries=after),
        ttl=TTL,
        clock=lambda: datetime.now(UTC),
    )


async def test_checkpoints_are_countersigned_and_make_no_next_one_due(
    store: Store, peer_store: Store
) -> None:
    origin_keys, peer_keys = _keyrings()
    await store.audit([AuditEntry("test", "test.entry", str(n)) for n in range(7)])
    checkpointer = _checkpointer(origin_keys, store, after=3)
    assert await checkpointer.check() == 3  # 7 entries: 3 + 3 + 1
    sent = await _pending(store, ControlKind.AUDIT_CHECKPOINT)
    assert len(sent) == 3
    received = await _deliver(sent, peer_keys, CheckpointHandler(peer_keys, peer_store, TTL))
    assert all(isinstance(kept, StoredIncoming) for kept in received)
    answers = await _pending(peer_store, ControlKind.CHECKPOINT_COUNTERSIGNATURE)
    assert len(answers) == 3
    kept = await _deliver(answers, origin_keys, CountersignatureHandler(store))
    assert all(isinstance(one, StoredIncoming) for one in kept)
    copies = await store.checkpoint_copies()
    assert [(c.first_seq, c.seq, c.peer) for c in copies] == [
        (1, 3, PEER),
        (4, 6, PEER),
        (7, 7, PEER),
    ]
    assert all(c.countersignature in answers for c in copies)
    chain = dict(await store.chain_hashes(0, 100))
    assert all(
        c.entry_hashes == tuple(chain[s] for s in range(c.first_seq, c.seq + 1)) for c in copies
    )
    # The exchange wrote entries at both ends (checkpoints taken, received, countersigned):
    # none of them makes a checkpoint due before `every`.
    assert await checkpointer.check() == 0
    countersigned, contradicted = await store.checkpoint_health()
    assert set(countersigned) == {PEER}
    assert contradicted == {}
    # A replay is answered with the stored receipt and countersigned once.
    assert await _deliver(sent[:1], peer_keys, CheckpointHandler(peer_keys, peer_store, TTL)) == [
        received[0]
    ]
    assert len(await _pending(peer_store, ControlKind.CHECKPOINT_COUNTERSIGNATURE)) == 3


async def test_a_rewritten_chain_is_flagged_at_the_peer(
    store: Store, peer_store: Store, postgres: EmbeddedPostgres
) -> None:
    origin_keys, peer_keys = _keyrings()
    await store.audit([AuditEntry("test", "test.entry", str(n)) for n in range(4)])
    assert await _checkpointer(origin_keys, store, after=4).check() == 1
    first = await _pending(store, ControlKind.AUDIT_CHECKPOINT)
    handler = CheckpointHandler(peer_keys, peer_store, TTL)
    await _deliver(first, peer_keys, handler)
    # The origin's database is rebuilt with other entries (its checkpoint table too): its
    # next checkpoint gives entries 1..4 other hashes.
    fresh = await _new_store(postgres)
    try:
        await fresh.audit([AuditEntry("test", "rewritten", str(n)) for n in range(4)])
        assert await _checkpointer(origin_keys, fresh, after=4).check() == 1
        await _deliver(await _pending(fresh, ControlKind.AUDIT_CHECKPOINT), peer_keys, handler)
    finally:
        await fresh.close()
    _, contradicted = await peer_store.checkpoint_health()
    assert contradicted == {ORIGIN: 1}


async def test_a_countersignature_of_a_checkpoint_never_sent_is_refused(store: Store) -> None:
    origin_keys, peer_keys = _keyrings()
    now = datetime.now(UTC)
    sealed: SealedEnvelope = seal_countersignature(
        peer_keys,
        signed=Countersignature(bytes(32), ORIGIN, 3, bytes(32), now),
        now=now,
        ttl=TTL,
    )
    assert await _deliver([sealed.data], origin_keys, CountersignatureHandler(store)) == [
        RejectReason.CHECKPOINT_UNKNOWN
    ]


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        (
            # entries 6 and 7 deleted: both were countersigned (checkpoints 4..6 and 7..7)
            "DELETE FROM audit_log WHERE seq > 5",
            ["truncated: entries 6..7 missing; kh-ratanakiri-police countersigned 7 entries"],
        ),
        (
            "UPDATE audit_log SET subject = 'edited' WHERE seq = 2",
            ["rewritten: entry 2 no longer matches the hash kh-ratanakiri-police countersigned"],
        ),
        (
            # A countersignature swapped for another checkpoint's: it no longer names this one.
            "UPDATE audit_checkpoint_copies SET countersignature = "
            "(SELECT countersignature FROM audit_checkpoint_copies WHERE seq = 7) WHERE seq = 3",
            ["countersignature invalid: kh-ratanakiri-police's of checkpoint 3: the checkpoint"],
        ),
    ],
    ids=["truncated", "rewritten", "forged"],
)
async def test_verify_names_what_the_countersigned_checkpoints_show(
    store: Store, peer_store: Store, database: str, tampering: str, expected: list[str]
) -> None:
    origin_keys, peer_keys = _keyrings()
    await store.audit([AuditEntry("test", "test.entry", str(n)) for n in range(7)])
    assert await _checkpointer(origin_keys, store, after=3).check() == 3
    sent = await _pending(store, ControlKind.AUDIT_CHECKPOINT)
    await _deliver(sent, peer_keys, CheckpointHandler(peer_keys, peer_store, TTL))
    answers = await _pending(peer_store, ControlKind.CHECKPOINT_COUNTERSIGNATURE)
    await _deliver(answers, origin_keys, CountersignatureHandler(store))
    clean = await verify_checkpoints(store, origin_keys)
    assert (clean.countersignatures, clean.entries_covered, clean.findings) == (3, 7, ())
    connection = await asyncpg.connect(database)
    try:
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        await connection.execute(tampering)
    finally:
        await connection.close()
    report = await verify_checkpoints(store, origin_keys)
    assert len(report.findings) == len(expected)
    for finding, start in zip(report.findings, expected, strict=True):
        assert finding.text.startswith(start), finding.text


async def test_a_checkpoint_is_due_every_period_since_the_last_one(store: Store) -> None:
    origin_keys, _ = _keyrings()
    now = [datetime.now(UTC)]
    checkpointer = AuditCheckpointer(
        keyring=origin_keys,
        store=store,
        peers=[PEER],
        settings=CheckpointsConfig(every=timedelta(hours=1), after_entries=1000),
        ttl=TTL,
        clock=lambda: now[0],
    )
    await store.audit([AuditEntry("test", "test.entry", str(n)) for n in range(2)])
    assert await checkpointer.check() == 0  # a fresh node: the period runs from its start
    now[0] += timedelta(minutes=59)
    assert await checkpointer.check() == 0
    now[0] += timedelta(minutes=2)
    assert await checkpointer.check() == 1
    assert await checkpointer.check() == 0  # its own entry waits for the next period
    now[0] += timedelta(hours=1, minutes=1)
    assert await checkpointer.check() == 1


@pytest.mark.parametrize(
    ("sender", "held", "status", "code"),
    [
        ("xx-nobody", False, 403, "unknown_peer"),
        (ORIGIN, False, 404, "no_checkpoint"),
        (ORIGIN, True, 200, None),
    ],
    ids=["not-a-peer", "none-held", "held"],
)
async def test_a_peer_states_the_newest_checkpoint_it_holds(
    store: Store, peer_store: Store, sender: str, held: bool, status: int, code: str | None
) -> None:
    origin_keys, peer_keys = _keyrings()
    if held:
        await store.audit([AuditEntry("test", "test.entry", str(n)) for n in range(6)])
        assert await _checkpointer(origin_keys, store, after=3).check() == 2
        sent = await _pending(store, ControlKind.AUDIT_CHECKPOINT)
        await _deliver(sent, peer_keys, CheckpointHandler(peer_keys, peer_store, TTL))
    endpoint = CheckpointStatementEndpoint(
        keyring=peer_keys,
        store=peer_store,
        peers={ORIGIN: PeerAdmission(10, 10, False, 10, 10)},
        clock=lambda: datetime.now(UTC),
    )
    app = web.Application()
    app.add_routes(endpoint.routes())
    async with TestClient(TestServer(app)) as client:
        response = await client.get(STATEMENT_PATH, headers={"BLG-Sender": sender})
        assert response.status == status
        body = await response.read()
    if code is not None:
        assert json.loads(body)["error"]["code"] == code
        return
    opened = open_envelope(origin_keys, body, now=datetime.now(UTC), limits=EnvelopeLimits())
    statement = read_countersignature(opened)
    chain = dict(await store.chain_hashes(0, 100))
    assert (opened.header.sender, statement.seq, statement.head_hash) == (PEER, 6, chain[6])


def _point(first_seq: int, hashes: list[bytes]) -> IncomingCheckpoint:
    now = datetime.now(UTC)
    return IncomingCheckpoint(
        sender=ORIGIN,
        message_id=uuid.uuid4(),
        envelope_sha256=bytes(32),
        receipt=b"",
        seq=first_seq + len(hashes) - 1,
        first_seq=first_seq,
        head_hash=hashes[-1],
        entry_hashes=tuple(hashes),
        at=now,
        received_at=now,
    )


A, B, C, X = (bytes([n]) * 32 for n in (1, 2, 3, 9))


@pytest.mark.parametrize(
    ("point", "newest", "held", "expected"),
    [
        (_point(4, [C]), 3, [(3, 1, A + B + C)], None),  # the next one
        (_point(1, [A, B]), 6, [], None),  # an older one delivered late: nothing overlaps
        (_point(1, [A, B]), 3, [(3, 1, A + B + C)], "seq_went_back"),  # started over
        (_point(2, [X]), 3, [(3, 1, A + B + C)], "hash_contradicts"),
        (_point(3, [C, X]), 3, [(3, 1, A + B + C)], None),  # overlapping, agreeing, further
    ],
    ids=["next", "late", "went-back", "rewritten", "overlap-agrees"],
)
def test_what_contradicts_the_checkpoints_held(
    point: IncomingCheckpoint,
    newest: int | None,
    held: list[tuple[int, int, bytes]],
    expected: str | None,
) -> None:
    assert contradiction(point, newest, held) == expected
