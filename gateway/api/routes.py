"""Handlers of the local API."""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from google.protobuf.message import DecodeError

from adapters import (
    Adapter,
    CannotEncode,
    DocumentInvalid,
    DocumentTooComplex,
    UnknownFormatError,
    registry,
)
from gateway.api.acknowledgements import acknowledgement_json
from gateway.api.attachments import inbox_attachment_list, serve_attachment
from gateway.api.errors import ApiError
from gateway.api.openapi import openapi_document
from gateway.attachments_read import AttachmentReader
from gateway.crypto import EnvelopeRejected, Keyring, reopen_stored
from gateway.documents import DocumentDecoder
from gateway.federation.outgoing import Dispatcher, SubmissionRefused
from gateway.ops.logs import fields, route_template
from gateway.store import AuditEntry, Store
from gateway.store.cancellations import CancellationRecipient
from gateway.wire import Kind, canonical

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_PAGE = 100


@dataclass(frozen=True)
class ApiClient:
    """A local system allowed to use the API."""

    id: str
    token_sha256: bytes
    formats: tuple[str, ...]
    kinds: frozenset[str]
    # local_clients[].victim_protected: whether victim-protected messages are listed to it.
    victim_protected: bool = False


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """ApiError as JSON; anything unexpected as a 500 without details (logged, not shown)."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except ConnectionError:
        # The client went away or a listener deadline closed the connection: nobody to
        # answer, and nothing worth a traceback (gateway/ops/listener.py counts it).
        raise
    except web.HTTPRequestEntityTooLarge:
        return ApiError(413, "body_too_large", f"at most {MAX_DOCUMENT_BYTES} bytes").response()
    except web.HTTPException as error:
        if error.status >= 400:
            code = error.reason.lower().replace(" ", "_")
            return ApiError(error.status, code, error.reason).response()
        raise
    except Exception:
        log.exception(
            "api_request_failed", extra=fields(method=request.method, route=route_template(request))
        )
        return ApiError(500, "internal_error", "the request failed; see the node's log").response()


class LocalApi:
    """The /api/v1 routes of one node."""

    def __init__(
        self,
        *,
        clients: Sequence[ApiClient],
        store: Store,
        keyring: Keyring,
        dispatcher: Dispatcher,
        decoder: DocumentDecoder,
        adapters: Mapping[str, Adapter] | None = None,
        metrics_token_sha256: bytes | None = None,
        attachments: AttachmentReader | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._clients = tuple(clients)
        self._attachments = attachments or AttachmentReader(store, keyring)
        self._metrics_token_sha256 = metrics_token_sha256
        self._store = store
        self._keyring = keyring
        self._dispatcher = dispatcher
        self._decoder = decoder
        self._adapters = dict(adapters) if adapters is not None else registry()
        self._by_media_type = {a.media_type: a for a in self._adapters.values()}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v1/openapi.json", self.openapi),
            web.post("/api/v1/messages", self.post_messages),
            web.get("/api/v1/messages/{message_id}", self.get_message),
            web.get("/api/v1/inbox", self.get_inbox),
            web.get("/api/v1/inbox/{message_id}/attachments/{attachment_id}", self.get_attachment),
        ]

    # --- shared checks ----------------------------------------------------------------

    def client(self, request: web.Request) -> ApiClient:
        """The client the request's bearer token names; 401 otherwise."""
        return self._client(request)

    def _client(self, request: web.Request) -> ApiClient:
        digest = _bearer_digest(request)
        found = None
        for client in self._clients:
            if hmac.compare_digest(client.token_sha256, digest):
                found = client
        if found is None:
            raise ApiError(
                401,
                "unauthorized",
                "the bearer token is not valid for this node",
                headers={"WWW-Authenticate": 'Bearer realm="blg", error="invalid_token"'},
            )
        return found

    def authorize_metrics(self, request: web.Request) -> None:
        """Metrics name peers, clients and volumes: a client's or the metrics token only."""
        digest = _bearer_digest(request)
        metrics_token = self._metrics_token_sha256
        if metrics_token is not None and hmac.compare_digest(metrics_token, digest):
            return
        self._client(request)

    def _adapter(self, client: ApiClient, format_id: str | None, media_type: str) -> Adapter:
        if format_id:
            try:
                adapter = self._adapters[format_id]
            except KeyError:
                raise ApiError(
                    415,
                    "unsupported_format",
                    f"format: expected one of {', '.join(sorted(self._adapters))}",
                ) from None
        elif media_type in self._by_media_type:
            adapter = self._by_media_type[media_type]
        else:
            known = ", ".join(sorted(self._by_media_type))
            raise ApiError(
                415,
                "unsupported_format",
                f"Content-Type: expected one of {known}, or a ?format= parameter",
            )
        if adapter.format_id not in client.formats:
            raise ApiError(
                403,
                "format_not_allowed",
                f"format: this client may use {', '.join(client.formats)}",
            )
        return adapter

    # --- handlers ---------------------------------------------------------------------

    async def openapi(self, request: web.Request) -> web.Response:
        self._client(request)
        return web.json_response(openapi_document(sorted(self._adapters)))

    async def post_messages(self, request: web.Request) -> web.Response:
        client = self._client(request)
        adapter = self._adapter(client, request.query.get("format"), request.content_type)
        recipients = [
            peer.strip()
            for value in request.query.getall("to", [])
            for peer in value.split(",")
            if peer.strip()
        ]
        case_id = request.query.get("case_id", "")
        if case_id:
            try:
                uuid.UUID(case_id)
            except ValueError:
                raise ApiError(400, "invalid_parameter", "case_id: expected a UUID") from None
        in_reply_to = await self._answered(request.query.get("in_reply_to", ""), case_id)
        if in_reply_to is not None:
            case_id = str(in_reply_to[1])
        data = await request.read()
        if not data:
            raise ApiError(422, "invalid_document", "body: expected a document, got none")
        try:
            result = await self._decoder.decode(adapter, data)
        except DocumentTooComplex as refused:
            # 413 for the size, 422 for the structure; the problem names the bound and place.
            raise ApiError(
                413 if refused.limit == "bytes" else 422,
                "document_too_complex",
                f"the document exceeds the {adapter.format_id} decoder's {refused.limit} bound",
                refused.problems,
            ) from None
        except DocumentInvalid as invalid:
            raise ApiError(
                422, "invalid_document", "the document could not be read", invalid.problems
            ) from None
        if result.rejected:
            problems = [
                (
                    f"{record.record}: {problem.location}" if record.record else problem.location,
                    problem.message,
                )
                for record in result.rejected
                for problem in record.problems
            ]
            raise ApiError(
                422,
                "invalid_records",
                f"{len(result.rejected)} record(s) are invalid; nothing was queued",
                problems,
            )
        if not result.messages:
            raise ApiError(422, "invalid_document", "body: the document holds no message")
        messages = [decoded.message for decoded in result.messages]
        for message in messages:
            kind = message.WhichOneof("body") or ""
            if kind not in client.kinds:
                raise ApiError(
                    403, "kind_not_allowed", f"this client may not send {kind or 'this kind'}"
                )
            if case_id:
                message.case_id = case_id
            if in_reply_to is not None:
                message.in_reply_to = str(in_reply_to[0])
        problems = []
        for decoded in result.messages:
            try:
                self._dispatcher.normalise(decoded.message)
            except SubmissionRefused as refused:
                place = f"{decoded.record}: {refused.field}" if decoded.record else refused.field
                problems.append((place, refused.message))
        if problems:
            raise ApiError(
                422,
                "invalid_records",
                f"{len(problems)} record(s) are invalid; nothing was queued",
                problems,
            )
        try:
            queued = await self._dispatcher.submit_all(
                messages, recipients, actor=f"api:{client.id}", local_client=client.id
            )
        except SubmissionRefused as refused:
            # Onward sharing is a matter of permission, not of the document: 403.
            status = 403 if refused.code == "onward_not_allowed" else 422
            raise ApiError(status, refused.code, f"{refused.field}: {refused.message}") from None
        warnings = [
            {"location": w.location, "message": w.message}
            for decoded in result.messages
            for w in decoded.warnings
        ]
        return web.json_response(
            {
                "messages": [
                    {
                        "id": str(item.message_id),
                        "to": item.recipient,
                        "case_id": str(item.case_id),
                        "status_url": f"/api/v1/messages/{item.message_id}",
                        "redacted": list(item.redacted),
                    }
                    for item in queued
                ],
                "warnings": warnings,
            },
            status=202,
        )

    async def _answered(self, text: str, case_id: str) -> tuple[uuid.UUID, uuid.UUID] | None:
        """The message an answer replies to and its case (the gateway links the answer to the
        case, so a local system needs no case id of ours); None when no in_reply_to."""
        if not text:
            return None
        try:
            message_id = uuid.UUID(text)
        except ValueError:
            raise ApiError(
                400, "invalid_parameter", "in_reply_to: expected the UUID of a message"
            ) from None
        found = await self._store.case_of_message(message_id)
        if found is None:
            raise ApiError(
                422,
                "unknown_message",
                "in_reply_to: no message with this id was sent or received by this node",
            )
        if case_id and uuid.UUID(case_id) != found:
            raise ApiError(
                400,
                "invalid_parameter",
                "case_id: the message in_reply_to names belongs to another case; "
                "give one of them only",
            )
        return message_id, found

    async def get_message(self, request: web.Request) -> web.Response:
        client = self._client(request)
        try:
            message_id = uuid.UUID(request.match_info["message_id"])
        except ValueError:
            raise ApiError(400, "invalid_parameter", "message_id: expected a UUID") from None
        found = await self._store.get_outbox(message_id)
        if found is None or found[0].local_client != client.id:
            raise ApiError(404, "not_found", "no message with this id was sent by this client")
        row = found[0]
        answer: dict[str, Any] = {}
        recipients = await self._store.cancellation_status(row.case_id)
        # Carried by hand in an offline bundle (section 15) while still queued online.
        travelling = (await self._store.bundles_travelling([row.message_id])).get(row.message_id)
        if any(item.message_id == row.message_id for item in recipients):
            # A cancellation: how far each copy of the case's cancellations got (section 14).
            answer["cancellation"] = {"recipients": [_cancellation_copy(c) for c in recipients]}
        return web.json_response(
            answer
            | {
                "id": str(row.message_id),
                "to": row.recipient,
                "kind": row.kind,
                "case_id": str(row.case_id),
                "sender_reference": row.sender_reference,
                "state": row.state,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "queued_at": _iso(row.queued_at),
                "receipt_received_at": _iso(row.receipt_received_at),
                "finished_at": _iso(row.finished_at),
                "travelling_in_bundle": None if travelling is None else str(travelling),
                # A person's acknowledgement at the recipient (docs/PROTOCOL.md section 13).
                "acknowledgement": acknowledgement_json(
                    (await self._store.acknowledgement_states([row.message_id])).get(
                        row.message_id
                    ),
                    self._clock(),
                ),
            }
        )

    async def get_inbox(self, request: web.Request) -> web.Response:
        client = self._client(request)
        format_id = request.query.get("format") or client.formats[0]
        adapter = self._adapter(client, format_id, "")
        after_text = request.query.get("after", "0")
        limit_text = request.query.get("limit", "50")
        if not after_text.isdigit() or len(after_text) > 18:
            raise ApiError(400, "invalid_parameter", "after: expected a cursor from next_cursor")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
            raise ApiError(400, "invalid_parameter", f"limit: expected 1..{MAX_PAGE}")
        kinds = sorted(kind for kind in client.kinds if Kind(kind) in adapter.kinds)
        rows = await self._store.inbox_after(
            int(after_text), kinds, int(limit_text), victim_protected=client.victim_protected
        )
        # One query for the page's attachment links, not one per item.
        links = await self._store.inbox_attachments_by_row(
            [row.id for row, data in rows if data is not None]
        )
        items: list[dict[str, Any]] = []
        for row, data in rows:
            items.append(
                self._inbox_item(adapter, row.id, data)
                | {
                    "id": str(row.message_id),
                    "from": row.sender,
                    "kind": row.kind,
                    "case_id": str(row.case_id),
                    "received_at": _iso(row.received_at),
                    "format": adapter.format_id,
                    "media_type": adapter.media_type,
                    # Listed only while the content (and so the key) is kept: a client
                    # need not dig anh[] / Photo ref= out of its format to download them.
                    "attachments": []
                    if data is None
                    else inbox_attachment_list(row, links.get(row.id, ())),
                }
            )
        cancelled = {
            (case.sender, case.case_id)
            for case in await self._store.cancelled_cases([row.case_id for row, _ in rows])
        }
        for item, (row, _) in zip(items, rows, strict=True):
            # The sender cancelled the case (section 14): its messages are void.
            item["case_state"] = "cancelled" if (row.sender, row.case_id) in cancelled else "open"
        next_cursor = str(rows[-1][0].id) if rows else after_text
        if rows:
            # Who read which incoming message, as for any disclosure of police data; ids and
            # the client only, never content. An empty poll discloses nothing and is not kept.
            await self._store.audit(
                [
                    AuditEntry(
                        f"api:{client.id}",
                        "inbox.read",
                        str(row.message_id),
                        {"client": client.id, "sender": row.sender, "format": adapter.format_id},
                    )
                    for row, _ in rows
                ]
            )
        return web.json_response({"messages": items, "next_cursor": next_cursor})

    async def get_attachment(self, request: web.Request) -> web.StreamResponse:
        client = self._client(request)
        return await serve_attachment(
            request,
            store=self._store,
            reader=self._attachments,
            client_id=client.id,
            kinds=self._inbox_kinds(client),
            victim_protected=client.victim_protected,
        )

    def _inbox_kinds(self, client: ApiClient) -> frozenset[str]:
        """The kinds the client's inbox lists in any of its formats (get_inbox's rule)."""
        return frozenset(
            kind
            for kind in client.kinds
            if any(
                Kind(kind) in self._adapters[f].kinds for f in client.formats if f in self._adapters
            )
        )

    def _inbox_item(self, adapter: Adapter, inbox_id: int, data: bytes | None) -> dict[str, Any]:
        if data is None:
            # Retention deleted the content (a client that polls less often than the
            # shortest retention period misses it): the message's metadata stays.
            return {
                "document": None,
                "warnings": [],
                "error": "content_deleted",
                "in_reply_to": None,
            }
        try:
            opened = reopen_stored(self._keyring, data)
            message = canonical.Message.FromString(opened.payload.message)
            encoded = adapter.encode(message)
        except (EnvelopeRejected, DecodeError, CannotEncode) as error:
            # The row stays readable by operators; the client learns it exists but not why.
            log.error(
                "inbox_item_unrenderable",
                extra=fields(
                    inbox_row=inbox_id, format=adapter.format_id, error_type=type(error).__name__
                ),
            )
            return {
                "document": None,
                "warnings": [],
                "error": "cannot_render",
                "in_reply_to": None,
            }
        return {
            "in_reply_to": message.in_reply_to or None,
            "document": encoded.data.decode("utf-8-sig"),
            "warnings": [{"location": w.location, "message": w.message} for w in encoded.warnings],
        }


def _cancellation_copy(copy: CancellationRecipient) -> dict[str, Any]:
    return {
        "to": copy.recipient,
        "id": str(copy.message_id),
        "status": copy.progress,
        "queued_at": _iso(copy.queued_at),
        "receipted_at": _iso(copy.receipted_at),
        "rejected_reason": copy.rejected_reason,
        "confirmed_at": _iso(copy.confirmed_at),
        "withdrawn_deliveries": copy.withdrawn,
    }


def _bearer_digest(request: web.Request) -> bytes:
    """SHA-256 of the request's bearer token; 401 without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "expected an Authorization: Bearer <token> header",
            headers={"WWW-Authenticate": 'Bearer realm="blg"'},
        )
    return hashlib.sha256(token.strip().encode()).digest()


def api_clients(local_clients: Sequence[Any]) -> list[ApiClient]:
    """The API's view of the configured local clients."""
    return [
        ApiClient(
            c.id,
            c.token_sha256,
            tuple(c.formats),
            frozenset(str(k) for k in c.kinds),
            c.victim_protected,
        )
        for c in local_clients
    ]


__all__ = ["ApiClient", "LocalApi", "UnknownFormatError", "api_clients", "error_middleware"]
