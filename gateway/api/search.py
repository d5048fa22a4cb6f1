"""`POST /api/v1/search`: people in stored messages, by name in any script, document number,
birth date or year, gate, kind and time (gateway/search).

Design notes:
- The terms are in the JSON body, never in the URL (URLs end up in proxies' and browsers'
  logs); the body is bounded (MAX_BODY_BYTES) before it is parsed, and every field is
  checked with an error naming it (reason codes: search_body_invalid, search_field_invalid,
  search_query_empty). Nothing of a term is echoed in an error, a log line or the audit.
- Who may see what: as for reading messages through this API (GET /api/v1/inbox): hits of
  the client's kinds only, and victim-protected ones (or of unknown marking) only to a
  client configured victim_protected: true.
- Every search is audited (`search.performed`): the client, the names of the fields used
  (never their values) and the hit count.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.search.index import MAX_LIMIT, MAX_TEXT_CHARS, MAX_TEXT_TOKENS
from gateway.search.model import PersonSearch, ScoredPerson, SearchQuery
from gateway.search.names import document_number
from gateway.store import AuditEntry, Store
from gateway.wire import Kind

SEARCH_PATH = "/api/v1/search"
MAX_BODY_BYTES = 4096
MAX_DOCUMENT_CHARS = 64
MAX_GATE_CHARS = 32
UNPROTECTED_MARKINGS = frozenset({"normal", "restricted"})
FIELDS = (
    "text",
    "document_number",
    "birth_year",
    "birth_date",
    "border_gate",
    "kind",
    "since",
    "until",
    "limit",
)
_GATE = re.compile(r"^[A-Za-z0-9-]+$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _invalid(field: str, expected: str) -> ApiError:
    return ApiError(400, "search_field_invalid", f"{field}: {expected}", [(field, expected)])


def _string(body: dict[str, Any], field: str, max_chars: int) -> str:
    value = body.get(field, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_chars:
        raise _invalid(field, f"expected a string of at most {max_chars} characters")
    return value.strip()


def _day(body: dict[str, Any], field: str) -> date | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _DAY.match(value):
        raise _invalid(field, "expected a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "expected a date YYYY-MM-DD") from None


def _integer(body: dict[str, Any], field: str, low: int, high: int) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(field, f"expected an integer {low}..{high}")
    return value


def parse_query(body: object) -> tuple[SearchQuery, tuple[str, ...]]:
    """A checked query from a request body, and the names of the fields it uses."""
    if not isinstance(body, dict):
        raise ApiError(400, "search_body_invalid", "expected a JSON object")
    unknown = sorted(str(key) for key in body if key not in FIELDS)
    if unknown:
        raise _invalid(unknown[0][:40], f"unknown field; expected one of {', '.join(FIELDS)}")
    text = _string(body, "text", MAX_TEXT_CHARS)
    if len(text.split()) > MAX_TEXT_TOKENS:
        raise _invalid("text", f"expected at most {MAX_TEXT_TOKENS} words")
    number = _string(body, "document_number", MAX_DOCUMENT_CHARS)
    if number and not document_number(number):
        raise _invalid("document_number", "expected digits or letters")
    gate = _string(body, "border_gate", MAX_GATE_CHARS)
    if gate and not _GATE.match(gate):
        raise _invalid("border_gate", "expected a gate code such as VN-LETHANH")
    kind = _string(body, "kind", 64)
    if kind and kind not in {k.value for k in Kind}:
        raise _invalid("kind", f"expected one of {', '.join(k.value for k in Kind)}")
    born = _day(body, "birth_date")
    since, until = _day(body, "since"), _day(body, "until")
    if since and until and until < since:
        raise _invalid("until", "expected a day on or after since")
    query = SearchQuery(
        text=text,
        document_number=number,
        birth_year=_integer(body, "birth_year", 1900, 2100),
        birth_date=born.isoformat() if born else "",
        border_gate=gate,
        kind=kind,
        since=datetime.combine(since, time.min, UTC) if since else None,
        # Inclusive: the whole last day.
        until=datetime.combine(until, time.min, UTC) + timedelta(days=1, microseconds=-1)
        if until
        else None,
        limit=_integer(body, "limit", 1, MAX_LIMIT) or 50,
    )
    given = {
        "text": query.text,
        "document_number": query.document_number,
        "birth_year": query.birth_year,
        "birth_date": query.birth_date,
        "border_gate": query.border_gate,
        "kind": query.kind,
        "since": query.since,
        "until": query.until,
    }
    used = tuple(field for field, value in given.items() if value not in (None, ""))
    if not used:
        raise ApiError(
            400,
            "search_query_empty",
            "give at least one of text, document_number, birth_year, birth_date, "
            "border_gate, kind, since, until",
        )
    return query, used


def hit_json(hit: ScoredPerson) -> dict[str, Any]:
    person = hit.person
    return {
        "case_id": str(person.case_id),
        "kind": person.kind,
        "direction": person.direction,
        "peer": person.peer,
        "occurred_at": person.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "role": person.role,
        "score": hit.score,
        "matched_name": hit.matched_name,
        "names": list(person.names),
        "reasons": list(hit.reasons),
    }


class SearchRoutes:
    """The search route; client authentication is the local API's."""

    def __init__(
        self,
        *,
        authenticate: Callable[[web.Request], Any],
        search: Callable[[], PersonSearch],
        store: Store,
    ) -> None:
        self._authenticate = authenticate
        self._search = search
        self._store = store

    def routes(self) -> list[web.RouteDef]:
        return [web.post(SEARCH_PATH, self.post_search)]

    async def post_search(self, request: web.Request) -> web.Response:
        client = self._authenticate(request)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"at most {MAX_BODY_BYTES} bytes")
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"at most {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "search_body_invalid", "expected a JSON object") from None
        query, used = parse_query(body)
        # Asked for the most, then cut to what this client may see and to its limit.
        found = await self._search().search(replace(query, limit=MAX_LIMIT))
        hits = [hit for hit in found if _visible(hit, client.kinds, client.victim_protected)]
        hits = hits[: query.limit]
        await self._store.audit(
            [
                AuditEntry(
                    f"api:{client.id}",
                    "search.performed",
                    "search",
                    {"client": client.id, "fields": ",".join(used), "hits": len(hits)},
                )
            ]
        )
        return web.json_response({"hits": [hit_json(hit) for hit in hits], "count": len(hits)})


def _visible(hit: ScoredPerson, kinds: Sequence[str] | frozenset[str], protected: bool) -> bool:
    if hit.person.kind not in kinds:
        return False
    return protected or hit.person.handling in UNPROTECTED_MARKINGS


def search_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    """The path and the schemas this route adds to the OpenAPI document."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    path = {
        SEARCH_PATH: {
            "post": {
                "operationId": "searchPersons",
                "summary": "People named in stored messages, by name in any script, document "
                "number, birth date or year, gate, kind and days",
                "description": "Terms go in the body, never the URL. Hits are of the client's "
                "kinds; victim-protected ones only for a client configured for them. Every "
                "search is audited with the names of the fields used and the hit count.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SearchQuery"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "Hits, best first.",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SearchHits"}
                            }
                        },
                    },
                    "400": {
                        "description": "search_body_invalid (not a JSON object), "
                        "search_field_invalid (the problem names the field), or "
                        "search_query_empty (no field given).",
                        "content": error,
                    },
                    "401": {"description": "Missing or unknown bearer token.", "content": error},
                    "413": {
                        "description": f"The body is over {MAX_BODY_BYTES} bytes.",
                        "content": error,
                    },
                },
            }
        }
    }
    schemas = {
        "SearchQuery": {
            "type": "object",
            "additionalProperties": False,
            "description": "At least one field besides limit. The API also takes null or an "
            "empty string for a field as absent.",
            "anyOf": [{"required": [name]} for name in FIELDS if name != "limit"],
            "properties": {
                "text": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TEXT_CHARS,
                    # One to MAX_TEXT_TOKENS words.
                    "pattern": rf"^\s*\S+(\s+\S+){{0,{MAX_TEXT_TOKENS - 1}}}\s*$",
                    "description": f"A name in any script or order, at most {MAX_TEXT_TOKENS} "
                    "words.",
                },
                "document_number": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_DOCUMENT_CHARS,
                    "pattern": "^[0-9A-Za-z][0-9A-Za-z .-]*$",
                    "description": "Compared as its digits and letters (spaces, dots and "
                    "dashes ignored).",
                },
                "birth_year": {"type": "integer", "minimum": 1900, "maximum": 2100},
                "birth_date": {"type": "string", "format": "date"},
                "border_gate": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_GATE_CHARS,
                    "pattern": "^[A-Za-z0-9-]+$",
                },
                "kind": {"type": "string", "enum": [k.value for k in Kind]},
                "since": {"type": "string", "format": "date", "description": "UTC day."},
                "until": {
                    "type": "string",
                    "format": "date",
                    "description": "UTC day, inclusive; not before since.",
                },
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
        },
        "SearchHits": {
            "type": "object",
            "required": ["hits", "count"],
            "properties": {
                "count": {"type": "integer", "minimum": 0},
                "hits": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [
                            "case_id",
                            "kind",
                            "direction",
                            "peer",
                            "occurred_at",
                            "role",
                            "score",
                            "matched_name",
                            "names",
                            "reasons",
                        ],
                        "properties": {
                            "case_id": {"type": "string", "format": "uuid"},
                            "kind": {"type": "string"},
                            "direction": {"type": "string", "enum": ["in", "out"]},
                            "peer": {"type": "string"},
                            "occurred_at": {"type": "string", "format": "date-time"},
                            "role": {"type": "string"},
                            "score": {"type": "number", "minimum": 0, "maximum": 100},
                            "matched_name": {"type": "string"},
                            "names": {"type": "array", "items": {"type": "string"}},
                            "reasons": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            },
        },
    }
    return path, schemas
