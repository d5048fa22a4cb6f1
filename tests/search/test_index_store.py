"""The indexer and the index against a real PostgreSQL, with real sealed envelopes (a real
Dispatcher with a real keyring queues our own copies in the outbox): what is indexed, that a
row is read once, that entries are sealed, and that retention takes the entries with the
content."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.crypto import Keyring, KeyValidity, OwnKeyPair
from gateway.federation.outgoing import Dispatcher
from gateway.policy import PeerRoute, RoutePolicy
from gateway.search.index import SearchIndex
from gateway.search.index_key import IndexKey
from gateway.search.indexer import SearchIndexer
from gateway.search.model import SearchQuery
from gateway.store import Store
from gateway.store.records import ContentCutoffs
from tests.search.corpus import Case, cases

NODE = "vn-gialai-police"
PEER = "kh-ratanakiri-police"
VALID = KeyValidity(datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=30))
KINDS = frozenset({"wanted_person_notice", "victim_handover", "hotline_alert"})


def _keyring() -> Keyring:
    peer = OwnKeyPair.generate("k1", VALID)
    return Keyring(NODE, [OwnKeyPair.generate("k1", VALID)], {PEER: [peer.public()]})


async def _queue(store: Store, keyring: Keyring, made: list[Case]) -> None:
    dispatcher = Dispatcher(
        keyring=keyring,
        store=store,
        sendable_kinds={PEER: KINDS},
        policy=RoutePolicy({PEER: PeerRoute("KH")}),
        message_ttl=timedelta(days=7),
        clock=lambda: datetime.now(UTC),
    )
    await dispatcher.submit_all([case.message() for case in made], [PEER], actor="test")


def _parts(store: Store, keyring: Keyring) -> tuple[SearchIndex, SearchIndexer]:
    key = IndexKey(store=store, keyring=keyring, clock=lambda: datetime.now(UTC))
    index = SearchIndex(store=store, key=key)
    indexer = SearchIndexer(
        store=store, keyring=keyring, key=key, clock=lambda: datetime.now(UTC), batch_rows=7
    )
    return index, indexer


def _case_id(case: Case) -> uuid.UUID:
    return uuid.UUID(case.message().case_id)


async def test_indexes_each_row_once_and_finds_people_in_every_script(
    store: Store, database: str
) -> None:
    keyring = _keyring()
    made = cases(40, seed=5)
    await _queue(store, keyring, made)
    index, indexer = _parts(store, keyring)
    assert await indexer.catch_up() == 40
    assert await indexer.catch_up() == 0  # read once
    persons = sum(len(case.persons) for case in made)
    assert (await store.search_progress()).entries == persons
    await index.start()
    assert index.size == persons

    target = made[7]
    person = target.persons[0]
    for form in (person.khmer, person.vietnamese, person.latin, person.family_last):
        hits = await index.search(SearchQuery(text=form, limit=5))
        assert _case_id(target) in {hit.person.case_id for hit in hits}, form
    by_document = await index.search(SearchQuery(document_number=person.document))
    assert [hit.person.case_id for hit in by_document] == [_case_id(target)]
    assert by_document[0].reasons == ("document_number",)

    # Escorts and callers are never indexed, in any form.
    for name in ("Trần Văn Escort", "Người Gọi Điện"):
        assert not [h for h in await index.search(SearchQuery(text=name)) if h.score > 90]

    # Sealed at rest: nothing of a name in the entries' bytes.
    connection = await asyncpg.connect(database)
    try:
        sealed = b"".join(r[0] for r in await connection.fetch("SELECT sealed FROM search_entries"))
        for case in made:
            for p in case.persons:
                for text in (p.vietnamese, p.latin, p.document, p.latin.lower()):
                    assert text.encode() not in sealed
        # The target's message finished an hour ago, the others just now.
        await connection.execute("UPDATE outbox SET state = 'expired', finished_at = now()")
        await connection.execute(
            "UPDATE outbox SET finished_at = now() - interval '1 hour' WHERE case_id = $1",
            _case_id(target),
        )
    finally:
        await connection.close()
    # Retention (the real sweep's statement) deletes content by setting it to NULL, never the
    # row: the entries read from it go in the same statement (0020's trigger).
    cutoff = datetime.now(UTC) - timedelta(minutes=30)
    purged = await store.purge_content(ContentCutoffs(cutoff, cutoff, cutoff))
    assert sum(purged.envelopes.values()) == 1
    assert await index.search(SearchQuery(document_number=person.document)) == []
    assert (await store.search_progress()).entries == persons - len(target.persons)


async def test_persons_after_and_similar(store: Store) -> None:
    keyring = _keyring()
    made = cases(12, seed=9)
    # The same person in two cases: one written by each side.
    first = made[0]
    again = Case(99, "hotline_alert", "kh" if first.writer == "vn" else "vn", first.persons[:1], "")
    await _queue(store, keyring, [*made, again])
    index, indexer = _parts(store, keyring)
    await indexer.catch_up()
    everyone = await index.persons_after(0, limit=1000)
    assert [p.entry_id for p in everyone] == sorted(p.entry_id for p in everyone)
    assert (await index.persons_after(everyone[2].entry_id, limit=2)) == everyone[3:5]
    mine = next(p for p in everyone if p.case_id == _case_id(first) and p.role != "child")
    hits = await index.similar(mine, limit=5)
    assert mine.entry_id not in {hit.person.entry_id for hit in hits}
    best = hits[0]
    assert best.person.case_id == _case_id(again)
    assert "document_number" in best.reasons


@pytest.mark.parametrize("batch_rows", [1, 200])
async def test_a_second_indexer_never_indexes_twice(store: Store, batch_rows: int) -> None:
    keyring = _keyring()
    await _queue(store, keyring, cases(15, seed=3))
    key = IndexKey(store=store, keyring=keyring, clock=lambda: datetime.now(UTC))
    one, two = (
        SearchIndexer(
            store=store, keyring=keyring, key=key, clock=lambda: datetime.now(UTC),
            batch_rows=batch_rows,
        )
        for _ in range(2)
    )  # fmt: skip
    # Both read the same pending rows; only one claims each.
    rows = await store.unindexed_rows(batch_rows)
    assert rows
    await one.catch_up()
    await two.catch_up()
    progress = await store.search_progress()
    assert progress.indexed == progress.messages == 15


async def test_index_key_follows_node_key_rotation(store: Store) -> None:
    """Re-sealed to a newer own pair at start, so it outlives the old pair; when no
    configured pair opens it any more, a new key (generation) replaces it and every row is
    read again under it."""
    peer = OwnKeyPair.generate("k1", VALID).public()
    old = OwnKeyPair.generate("k1", VALID)
    later = KeyValidity(VALID.valid_from + timedelta(hours=1), VALID.valid_until)
    new = OwnKeyPair.generate("k2", later)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    first = Keyring(NODE, [old], {PEER: [peer]})
    await _queue(store, first, cases(5, seed=4))
    _index, indexer = _parts(store, first)
    await indexer.catch_up()
    opened = await IndexKey(store=store, keyring=first, clock=clock).current()
    assert opened.generation == 1

    both = Keyring(NODE, [old, new], {PEER: [peer]})
    assert (await IndexKey(store=store, keyring=both, clock=clock).current()) == opened
    stored = await store.search_key()
    assert stored is not None
    assert stored.key_id == "k2"
    # The old pair removed: the index key still opens, nothing is read again.
    only_new = Keyring(NODE, [new], {PEER: [peer]})
    assert (await IndexKey(store=store, keyring=only_new, clock=clock).current()) == opened
    assert (await store.search_progress()).entries > 0

    # A pair that never sealed it: a new generation, old entries gone, rows to read again.
    stranger = Keyring(NODE, [OwnKeyPair.generate("k3", VALID)], {PEER: [peer]})
    replaced = await IndexKey(store=store, keyring=stranger, clock=clock).current()
    assert replaced.generation == 2
    progress = await store.search_progress()
    assert (progress.entries, progress.indexed) == (0, 0)
