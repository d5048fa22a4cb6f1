"""Local API routes of acknowledgements (docs/PROTOCOL.md section 13).

- `POST /api/v1/inbox/{message_id}/acknowledge`: a person at a local system acknowledges a
  received message; JSON body `{"by": "..."}` optional (the local system's opaque user id;
  the client id when absent). 202 when this call queued the acknowledgement back to the
  sender, 200 when the message was acknowledged before (by anyone: console, API or
  handled), with the acknowledgement that counts. Idempotent.
- `POST /api/v1/inbox/{message_id}/handled`: the local system finished with the message;
  this implies an acknowledgement with how = local_handled (same answers). It records
  nothing else: "handled" is the local system's state, the gateway only owes the sender the
  acknowledgement.

Both answer 404 for a message the client cannot see in its inbox (another kind, or a
victim-protected one for a client not allowed those), exactly as for an unknown id, so a
client learns nothing of messages that are not its business.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.api.errors import ApiError
from gateway.federation.acknowledgements import MAX_ACKNOWLEDGED_BY, How
from gateway.federation.acknowledger import Acknowledger, CannotAcknowledge
from gateway.store.acknowledgements import AcknowledgementState, GivenAcknowledgement

MAX_BODY_BYTES = 4096
UNPROTECTED_MARKINGS = frozenset({"normal", "restricted"})


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def acknowledgement_json(state: AcknowledgementState | None, now: datetime) -> dict[str, Any]:
    """A sent message's acknowledgement object in the API (and the console's data)."""
    if state is None:
        return {"status": "not_required", "due_at": None}
    body: dict[str, Any] = {"status": state.status(now), "due_at": iso(state.due_at)}
    if state.acknowledged_at is not None:
        body |= {
            "acknowledged_at": iso(state.acknowledged_at),
            "acknowledged_by": state.acknowledged_by,
            "how": state.how,
            "recorded_at": iso(state.recorded_at),
        }
    return body


def _given_json(given: GivenAcknowledgement) -> dict[str, Any]:
    return {
        "id": str(given.message_id),
        "acknowledgement": {
            "id": str(given.acknowledgement),
            "acknowledged_at": iso(given.acknowledged_at),
            "acknowledged_by": given.acknowledged_by,
            "how": given.how,
        },
    }


class AcknowledgementRoutes:
    """The acknowledge and handled routes; client authentication is the local API's."""

    def __init__(
        self,
        *,
        authenticate: Callable[[web.Request], Any],
        acknowledger: Acknowledger,
    ) -> None:
        self._authenticate = authenticate
        self._acknowledger = acknowledger

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/v1/inbox/{message_id}/acknowledge", self.acknowledge),
            web.post("/api/v1/inbox/{message_id}/handled", self.handled),
        ]

    async def acknowledge(self, request: web.Request) -> web.Response:
        return await self._acknowledge(request, How.LOCAL_API)

    async def handled(self, request: web.Request) -> web.Response:
        return await self._acknowledge(request, How.LOCAL_HANDLED)

    async def _acknowledge(self, request: web.Request, how: How) -> web.Response:
        client = self._authenticate(request)
        try:
            message_id = uuid.UUID(request.match_info["message_id"])
        except ValueError:
            raise ApiError(400, "invalid_parameter", "message_id: expected a UUID") from None
        by = await _by(request, default=client.id)
        message = await self._acknowledger.received(message_id)
        visible = (
            message is not None
            and message.kind in client.kinds
            and (client.victim_protected or message.handling in UNPROTECTED_MARKINGS)
        )
        if message is None or not visible:
            raise ApiError(404, "not_found", "no received message with this id for this client")
        try:
            given, created = await self._acknowledger.acknowledge(
                message, by=by, how=how, actor=f"api:{client.id}"
            )
        except CannotAcknowledge:
            raise ApiError(
                409, "sender_not_a_peer", "message_id: its sender is no longer a peer of this node"
            ) from None
        return web.json_response(_given_json(given), status=202 if created else 200)


async def _by(request: web.Request, *, default: str) -> str:
    """The optional "by" of the JSON body; the client id without one."""
    data = await request.content.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"at most {MAX_BODY_BYTES} bytes")
    if not data.strip():
        return default
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "expected a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "expected a JSON object")
    unknown = sorted(set(body) - {"by"})
    if unknown:
        raise ApiError(400, "invalid_field", f"{unknown[0]}: unknown field; expected only by")
    by = body.get("by", default)
    if by is None:
        return default
    if not isinstance(by, str) or not 0 < len(by) <= MAX_ACKNOWLEDGED_BY or not by.isprintable():
        raise ApiError(
            400,
            "invalid_field",
            f"by: expected an opaque user id of 1 to {MAX_ACKNOWLEDGED_BY} printable characters",
        )
    return by
