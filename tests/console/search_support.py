"""The console's search page over a PersonSearch the test controls: the real console app, a
real store and real sign-in, with the index replaced by `RecordedSearch` (it answers the
hits it was given and keeps every query it was asked), so the page is tested apart from the
index (gateway/search/) it will be wired to."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.components import search_index_for
from gateway.console import build_console
from gateway.search.indexer import SearchIndexer
from gateway.search.model import (
    IndexedPerson,
    PersonRole,
    PersonSearch,
    ScoredPerson,
    SearchQuery,
)
from tests.console.conftest import PEER, ConsoleHarness, running_console
from tests.federation.harness import Federation


class RecordedSearch:
    """A PersonSearch answering fixed hits (at most query.limit) and keeping the queries."""

    def __init__(self, hits: Sequence[ScoredPerson] = ()) -> None:
        self.hits = list(hits)
        self.queries: list[SearchQuery] = []

    async def search(self, query: SearchQuery) -> list[ScoredPerson]:
        self.queries.append(query)
        return self.hits[: query.limit]


class StuckSearch(RecordedSearch):
    """A search that never answers (until cancelled): the page's time bound ends it."""

    async def search(self, query: SearchQuery) -> list[ScoredPerson]:
        self.queries.append(query)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def person(
    *names: str,
    role: PersonRole = "victim",
    kind: str = "victim_handover",
    handling: str = "victim_protected",
    direction: str = "in",
    birth_date: str = "",
    entry_id: int = 1,
) -> IndexedPerson:
    return IndexedPerson(
        entry_id=entry_id,
        case_id=uuid.uuid4(),
        direction="in" if direction == "in" else "out",
        message_row=entry_id,
        kind=kind,
        peer=PEER,
        occurred_at=datetime(2026, 11, 2, 3, 4, tzinfo=UTC),
        role=role,
        names=names,
        folded=tuple(name.lower() for name in names),
        sex="F",
        birth_year=int(birth_date[:4]) if birth_date else None,
        birth_date=birth_date,
        document_numbers=(),
        border_gate="",
        handling=handling,
    )


def scored(
    indexed: IndexedPerson, score: float, matched: str = "", reasons: tuple[str, ...] = ("name",)
) -> ScoredPerson:
    return ScoredPerson(indexed, score, matched or indexed.names[0], reasons)


@asynccontextmanager
async def serving(
    harness: ConsoleHarness, person_search: PersonSearch | None
) -> AsyncIterator[ConsoleHarness]:
    """harness with its client serving a console whose context has person_search."""
    ctx = replace(harness.ctx, person_search=person_search)
    app = web.Application()
    app.add_subapp("/console/", build_console(ctx))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield replace(harness, client=client, ctx=ctx)
    finally:
        await client.close()


@asynccontextmanager
async def searching_console(
    federation: Federation, person_search: PersonSearch | None
) -> AsyncIterator[ConsoleHarness]:
    """running_console's harness, its client serving a console whose context has
    person_search (None: a node without the index)."""
    async with running_console(federation) as harness, serving(harness, person_search) as served:
        yield served


@asynccontextmanager
async def indexed_console(
    federation: Federation,
) -> AsyncIterator[tuple[ConsoleHarness, SearchIndexer]]:
    """running_console's harness over the node's real index (components.search_index_for,
    as a running node builds it), and the indexer: the test runs catch_up() once its
    messages are stored."""
    async with running_console(federation) as harness:
        index, indexer = search_index_for(harness.store, harness.ctx.keyring, harness.clock)
        async with serving(harness, index) as served:
            yield served, indexer


__all__ = [
    "RecordedSearch",
    "StuckSearch",
    "indexed_console",
    "person",
    "scored",
    "searching_console",
    "serving",
]
