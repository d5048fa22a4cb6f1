"""POST /api/v1/search over real HTTP (aiohttp's test server) with the real error middleware
and a real PostgreSQL for the audit: every field checked with its name and a reason code,
terms never in errors or the audit, and hits cut to what the client may see."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.api.errors import ApiError
from gateway.api.routes import ApiClient, error_middleware
from gateway.api.search import SearchRoutes
from gateway.search.model import IndexedPerson, ScoredPerson, SearchQuery
from gateway.store import Store

TOKEN = "search-test-token"
SECRET_NAME = "Nguyễn Thị Thu Hằng"


def _person(kind: str, handling: str, entry_id: int) -> IndexedPerson:
    return IndexedPerson(
        entry_id=entry_id,
        case_id=uuid.UUID(int=entry_id),
        direction="in",
        message_row=entry_id,
        kind=kind,
        peer="kh-ratanakiri-police",
        occurred_at=datetime(2026, 11, 30, tzinfo=UTC),
        role="victim",
        names=(SECRET_NAME, "NGUYEN Thi Thu Hang"),
        folded=("hang nguyen thi thu",) * 2,
        sex="F",
        birth_year=2004,
        birth_date="2004",
        document_numbers=("064304001111",),
        border_gate="VN-LETHANH",
        handling=handling,
    )


class RecordedSearch:
    def __init__(self) -> None:
        self.queries: list[SearchQuery] = []

    async def search(self, query: SearchQuery) -> list[ScoredPerson]:
        self.queries.append(query)
        return [
            ScoredPerson(
                _person("victim_handover", "victim_protected", 1), 100.0, SECRET_NAME, ("name",)
            ),
            ScoredPerson(_person("hotline_alert", "restricted", 2), 90.0, SECRET_NAME, ("name",)),
            ScoredPerson(
                _person("wanted_person_notice", "normal", 3), 80.0, SECRET_NAME, ("name",)
            ),
        ]


def _authenticate(victim_protected: bool, kinds: frozenset[str]) -> Any:
    def authenticate(request: web.Request) -> ApiClient:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise ApiError(401, "unauthorized", "the bearer token is not valid for this node")
        return ApiClient(
            "case-system", hashlib.sha256(TOKEN.encode()).digest(), ("canonical-json",), kinds,
            victim_protected,
        )  # fmt: skip

    return authenticate


@pytest.fixture
async def search() -> RecordedSearch:
    return RecordedSearch()


async def _client(
    store: Store, search: RecordedSearch, *, victim_protected: bool = True,
    kinds: frozenset[str] = frozenset({"victim_handover", "hotline_alert", "wanted_person_notice"}),
) -> TestClient[web.Request, web.Application]:  # fmt: skip
    app = web.Application(middlewares=[error_middleware])
    app.add_routes(
        SearchRoutes(
            authenticate=_authenticate(victim_protected, kinds), search=lambda: search, store=store
        ).routes()
    )
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(
    store: Store, search: RecordedSearch
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    made = await _client(store, search)
    yield made
    await made.close()


async def _post(
    client: TestClient[web.Request, web.Application], body: Any, raw: bytes | None = None
) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else json.dumps(body).encode()
    response = await client.post(
        "/api/v1/search",
        data=data,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("body", "status", "code", "location"),
    [
        ({}, 400, "search_query_empty", None),
        ({"text": "   "}, 400, "search_query_empty", None),
        ({"limit": 5}, 400, "search_query_empty", None),
        ([], 400, "search_body_invalid", None),
        ("text", 400, "search_body_invalid", None),
        ({"text": 5}, 400, "search_field_invalid", "text"),
        ({"text": "x" * 201}, 400, "search_field_invalid", "text"),
        ({"text": "a b c d e f g h i"}, 400, "search_field_invalid", "text"),
        ({"name": SECRET_NAME}, 400, "search_field_invalid", "name"),
        ({"document_number": "--"}, 400, "search_field_invalid", "document_number"),
        ({"document_number": "1" * 65}, 400, "search_field_invalid", "document_number"),
        ({"birth_year": "2004"}, 400, "search_field_invalid", "birth_year"),
        ({"birth_year": 1800}, 400, "search_field_invalid", "birth_year"),
        ({"birth_year": True}, 400, "search_field_invalid", "birth_year"),
        ({"birth_date": "2004-13-01"}, 400, "search_field_invalid", "birth_date"),
        ({"birth_date": "12/03/2004"}, 400, "search_field_invalid", "birth_date"),
        ({"border_gate": "VN LETHANH"}, 400, "search_field_invalid", "border_gate"),
        ({"kind": "bulletin"}, 400, "search_field_invalid", "kind"),
        ({"since": "2026-11-30", "until": "2026-11-01"}, 400, "search_field_invalid", "until"),
        ({"since": "yesterday"}, 400, "search_field_invalid", "since"),
        ({"text": "Lan", "limit": 0}, 400, "search_field_invalid", "limit"),
        ({"text": "Lan", "limit": 201}, 400, "search_field_invalid", "limit"),
        ({"text": SECRET_NAME}, 200, None, None),
        ({"document_number": "0643 0400 1111"}, 200, None, None),
        ({"kind": "hotline_alert"}, 200, None, None),
        ({"birth_year": 2004, "text": "Hằng"}, 200, None, None),
        ({"since": "2026-11-01", "until": "2026-11-30"}, 200, None, None),
    ],
)
async def test_fields_are_checked_by_name(
    client: TestClient[web.Request, web.Application], body: Any, status: int, code: str | None,
    location: str | None,
) -> None:  # fmt: skip
    got, answer = await _post(client, body)
    assert got == status, answer
    if code is not None:
        assert answer["error"]["code"] == code
        if location is not None:
            assert answer["error"]["problems"][0]["location"] == location
        # A term is never echoed back.
        assert SECRET_NAME not in json.dumps(answer, ensure_ascii=False)


async def test_malformed_and_oversized_bodies(
    client: TestClient[web.Request, web.Application],
) -> None:
    assert (await _post(client, None, raw=b"{not json"))[1]["error"][
        "code"
    ] == "search_body_invalid"
    status, answer = await _post(client, None, raw=b'{"text": "' + b"x" * 5000 + b'"}')
    assert status == 413
    assert answer["error"]["code"] == "body_too_large"
    response = await client.post("/api/v1/search", json={"text": "Lan"})
    assert response.status == 401


async def test_hits_audit_and_visibility(store: Store, search: RecordedSearch) -> None:
    client = await _client(store, search)
    try:
        status, answer = await _post(client, {"text": SECRET_NAME, "birth_year": 2004, "limit": 2})
    finally:
        await client.close()
    assert status == 200
    assert answer["count"] == 2
    hit = answer["hits"][0]
    assert hit["names"] == [SECRET_NAME, "NGUYEN Thi Thu Hang"]
    assert set(hit) >= {
        "case_id",
        "kind",
        "direction",
        "peer",
        "occurred_at",
        "score",
        "matched_name",
        "names",
        "reasons",
    }
    assert search.queries[-1].text == SECRET_NAME
    assert search.queries[-1].birth_year == 2004
    audit = [row for row in await store.list_audit() if row.action == "search.performed"]
    assert len(audit) == 1
    assert audit[0].actor == "api:case-system"
    assert audit[0].detail == {"client": "case-system", "fields": "text,birth_year", "hits": 2}
    assert SECRET_NAME not in json.dumps(audit[0].detail, ensure_ascii=False)

    # A client not allowed victim-protected content, and only hotline alerts.
    limited = await _client(
        store, search, victim_protected=False, kinds=frozenset({"hotline_alert"})
    )
    try:
        status, answer = await _post(limited, {"text": SECRET_NAME})
    finally:
        await limited.close()
    assert [hit["kind"] for hit in answer["hits"]] == ["hotline_alert"]
