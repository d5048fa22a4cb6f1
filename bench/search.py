"""Search at scale: 100,000 cases in the index, 200 queries of mixed forms.

    .venv/bin/python -m bench.search                  # 100,000 cases, 200 queries
    .venv/bin/python -m bench.search --cases 10000    # smaller
    .venv/bin/python -m bench.search --distinct       # nearly every person a name of their own

What it measures (one embedded PostgreSQL, in-process, as the node runs them):
- seed: the generated cases (tests/search/corpus.py, shared with the e2e test) are stored
  through the Store: inbox rows (their envelope a placeholder, never opened here) and their
  people sealed under the node's index key (gateway.crypto.search_seal) with
  Store.record_indexed, exactly as the indexer writes them. Not timed as a figure.
- load: SearchIndex.start(), every entry read and opened (one worker thread, as the node
  gives it), and the process's RSS before and after.
- search: 200 queries drawn from the corpus's people, each in one form (Khmer script,
  Vietnamese with and without diacritics, Latin family-first and -last, a misspelling, a
  document number, birth year + given name), one at a time: p50/p95/p99/max of
  SearchIndex.search(), and how often the person's case is in the top 5.
- the rejected alternative: opening envelopes at query time. Real envelopes sealed by a
  peer's keys to this node, opened as the case pages do (signature check, decryption, parse,
  people read): the mean cost per envelope, times the number of cases = one query's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, reopen_stored, seal
from gateway.crypto.search_seal import seal_entry
from gateway.search.index import SearchIndex
from gateway.search.index_key import IndexKey
from gateway.search.model import SearchQuery
from gateway.search.names import fold
from gateway.search.persons import encode_person, named_persons
from gateway.store import EmbeddedPostgres, IncomingEnvelope, Store
from gateway.store.search_entries import NewSearchEntry
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.search.corpus import KHMER_SPELLING, Case, cases, strip_marks

NODE, PEER = "vn-gialai-police", "kh-ratanakiri-police"
VALID = KeyValidity(datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=30))
SEED_BATCH = 2000
FORMS = ("khmer", "vietnamese", "plain", "family_last", "misspelling", "document", "year_given")


def _keyrings() -> tuple[Keyring, Keyring]:
    node, peer = OwnKeyPair.generate("k1", VALID), OwnKeyPair.generate("k1", VALID)
    return (
        Keyring(NODE, [node], {PEER: [peer.public()]}),
        Keyring(PEER, [peer], {NODE: [node.public()]}),
    )


def rejected_alternative(node: Keyring, peer: Keyring, made: list[Case], samples: int) -> float:
    """Mean seconds to open one stored envelope and read its people."""
    now = datetime.now(UTC)
    sealed = [
        seal(
            peer,
            recipient=NODE,
            kind=Kind(case.kind),
            case_id=uuid.UUID(case.message().case_id),
            message_id=uuid7(),
            payload=envelope.SealedPayload(message=case.message().SerializeToString()),
            created_at=now,
            expires_at=now + timedelta(days=7),
        ).data
        for case in made[:samples]
    ]
    started = time.perf_counter()
    for data in sealed:
        opened = reopen_stored(node, data)
        named_persons(canonical.Message.FromString(opened.payload.message))
    return (time.perf_counter() - started) / len(sealed)


async def seed(store: Store, key: IndexKey, made: list[Case]) -> None:
    opened = await key.current()
    now = datetime.now(UTC)
    by_case = {uuid.UUID(case.message(now).case_id): case for case in made}
    for start in range(0, len(made), SEED_BATCH):
        batch = made[start : start + SEED_BATCH]
        await store.store_incoming(
            [
                IncomingEnvelope(
                    sender=PEER,
                    message_id=uuid7(),
                    case_id=uuid.UUID(case.message(now).case_id),
                    kind=case.kind,
                    envelope=b"bench placeholder",
                    envelope_sha256=uuid.uuid4().bytes * 2,
                    receipt=b"bench",
                    created_at=now,
                    received_at=now - timedelta(minutes=len(made) - start - i),
                    handling="restricted",
                )
                for i, case in enumerate(batch)
            ]
        )
        rows = await store.unindexed_rows(SEED_BATCH)
        read: list[tuple[str, int, int]] = []
        entries: list[NewSearchEntry] = []
        for row in rows:
            persons = named_persons(by_case[row.case_id].message(now))
            read.append((row.direction, row.id, len(persons)))
            entries += [
                NewSearchEntry(
                    row.direction,
                    row.id,
                    ordinal,
                    row.case_id,
                    row.kind,
                    row.peer,
                    row.occurred_at,
                    opened.generation,
                    seal_entry(
                        opened.key,
                        encode_person(person),
                        direction=row.direction,
                        message_row=row.id,
                        ordinal=ordinal,
                        generation=opened.generation,
                    ),
                )
                for ordinal, person in enumerate(persons)
            ]
        await store.record_indexed(read, entries, now)
        print(f"  seeded {start + len(batch):,} cases", flush=True)


def queries(
    made: list[Case], count: int, seed_value: int = 7
) -> list[tuple[str, SearchQuery, str, str]]:
    rng = random.Random(seed_value)
    out = []
    for _ in range(count):
        case = rng.choice(made)
        person = case.persons[0]
        form = rng.choice(FORMS)
        name = person.family_last
        query = {
            "khmer": SearchQuery(text=person.khmer, limit=5),
            "vietnamese": SearchQuery(text=person.vietnamese, limit=5),
            "plain": SearchQuery(text=strip_marks(person.vietnamese).lower(), limit=5),
            "family_last": SearchQuery(text=name, limit=5),
            "misspelling": SearchQuery(text=name[:-1] + name[-1] * 2, limit=5),
            "document": SearchQuery(document_number=person.document, limit=5),
            "year_given": SearchQuery(text=person.given[-1], birth_year=person.birth_year, limit=5),
        }[form]
        out.append((form, query, case.message().case_id, person.latin))
    return out


def distinct_names(made: list[Case], seed_value: int = 11) -> list[Case]:
    """The same cases with a further two given names for everyone, drawn from the syllables
    of the corpus: nearly every person then has a name of their own (the worst case for
    the matcher, which scores each distinct name once)."""
    rng = random.Random(seed_value)
    syllables = sorted(key for key in KHMER_SPELLING if key != "H'")
    return [
        replace(
            case,
            persons=tuple(
                replace(p, given=(*p.given, f"{rng.choice(syllables)} {rng.choice(syllables)}"))
                for p in case.persons
            ),
        )
        for case in made
    ]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def run(count: int, query_count: int, root: Path, *, distinct: bool) -> dict[str, Any]:
    server = EmbeddedPostgres(root / "postgres")
    process = psutil.Process()
    try:
        dsn = await server.ensure_database("bench_search")
        store = await Store.connect(dsn)
        await store.migrate()
        node, peer = _keyrings()
        made = cases(count, seed=13)
        if distinct:
            made = distinct_names(made)
        per_envelope = rejected_alternative(node, peer, made, min(500, count))
        key = IndexKey(store=store, keyring=node, clock=lambda: datetime.now(UTC))
        print(f"seeding {count:,} cases", flush=True)
        await seed(store, key, made)
        progress = await store.search_progress()
        rss_before = process.memory_info().rss
        matching = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search")
        index = SearchIndex(store=store, key=key, executor=matching)
        started = time.perf_counter()
        await index.start()
        load_seconds = time.perf_counter() - started
        rss_after = process.memory_info().rss
        names_distinct = index.distinct_names
        latencies: dict[str, list[float]] = {}
        found = first_right = 0
        asked = queries(made, query_count)
        for form, query, case_id, latin in asked:
            started = time.perf_counter()
            hits = await index.search(query)
            latencies.setdefault(form, []).append(time.perf_counter() - started)
            found += case_id in {str(hit.person.case_id) for hit in hits}
            first_right += bool(hits) and (
                str(hits[0].person.case_id) == case_id
                or fold(latin) in {fold(name) for name in hits[0].person.names}
            )
        every = [value for values in latencies.values() for value in values]
        await store.close()
        matching.shutdown()
    finally:
        server.stop()
    return {
        "cases": count,
        "people": progress.entries,
        "distinct_folded_names": names_distinct,
        "load_seconds": round(load_seconds, 2),
        "rss_mb_before_load": round(rss_before / 2**20),
        "rss_mb_after_load": round(rss_after / 2**20),
        "queries": len(every),
        "p50_ms": round(1000 * _percentile(every, 0.50), 1),
        "p95_ms": round(1000 * _percentile(every, 0.95), 1),
        "p99_ms": round(1000 * _percentile(every, 0.99), 1),
        "max_ms": round(1000 * max(every), 1),
        "p95_ms_by_form": {
            form: round(1000 * _percentile(values, 0.95), 1) for form, values in latencies.items()
        },
        "mean_ms_by_form": {
            form: round(1000 * statistics.mean(values), 1) for form, values in latencies.items()
        },
        # Common names are shared by dozens of generated people: the case itself is then
        # among namesakes, most recent first, and often not in the top 5.
        "case_in_top_5": round(found / len(every), 3),
        "first_hit_the_person_or_a_namesake": round(first_right / len(every), 3),
        "open_per_envelope_ms": round(1000 * per_envelope, 3),
        "open_all_cases_seconds": round(per_envelope * count, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--distinct", action="store_true", help="give (nearly) everyone a name of their own"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        result = asyncio.run(run(args.cases, args.queries, Path(folder), distinct=args.distinct))
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    print(
        f"rejected alternative: opening every envelope per query = "
        f"{result['open_per_envelope_ms']} ms x {args.cases:,} = "
        f"{result['open_all_cases_seconds']} s per query (target p95 < 1 s)"
    )
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
