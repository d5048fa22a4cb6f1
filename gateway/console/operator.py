"""Console pages: the operator's view of the node. See gateway/console/__init__.py.

GET /console/operator shows, for operators and admins only: per peer whether it is reachable,
its queue, oldest undelivered message, last success and last error, and how long its keys
(and the node's own) remain valid; the dead and rejected outgoing messages, each with a
requeue button; and the local systems' delivery backlog, held deliveries included. How each
value is decided is in gateway/console/operator_status.py and gateway/ops/node_health.py.

Operators never read content (CONTENT_READERS excludes them): everything here comes from the
store's operator queries, which select metadata only (kind, peer, state, attempts, reason
codes, times), so no victim name can reach this page whatever a message holds.

POST /console/operator/requeue/<uuid> puts a dead or rejected message back in its peer's
queue through Store.requeue, which records `outbox.requeued` in the same transaction as the
change, with the user as its actor; the console then records `console.requeued` (the same
user) so the console's own trail lists the action too. A message that is not (or no longer)
dead or rejected is refused with 409 and nothing changes: a second click on a stale page
cannot send a message twice.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from gateway.console import auth, rendering
from gateway.console.acknowledge import overdue_list
from gateway.console.context import OPERATORS, ConsoleContext
from gateway.console.operator_status import (
    KEYS_WARNING_DAYS,
    STUCK_LIMIT,
    local_client_statuses,
    peer_statuses,
    stuck_messages,
)
from gateway.ops.node_health import days_left
from gateway.store import AuditEntry, OutboxStateError

STUCK_STATES = ("dead", "rejected")
REQUEUED_FLAG = "requeued"


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    async def operator_page(request: web.Request) -> web.Response:
        auth.require(request, *OPERATORS)
        now = ctx.clock()
        summaries = await ctx.store.peer_summaries([peer.id for peer in ctx.peers])
        stuck_rows = []
        more_stuck = False
        for state in STUCK_STATES:
            # One more than shown, to say that some are not.
            rows = await ctx.store.list_outbox(state=state, limit=STUCK_LIMIT + 1)
            more_stuck = more_stuck or len(rows) > STUCK_LIMIT
            stuck_rows.extend(rows[:STUCK_LIMIT])
        clients = await ctx.store.local_client_summaries(list(ctx.local_clients))
        overdue, more_overdue = await overdue_list(ctx)
        return rendering.render(
            request,
            "operator.html",
            {
                "overdue": overdue,
                "more_overdue": more_overdue,
                "peers": peer_statuses(ctx.peers, summaries, now),
                "stuck": stuck_messages(stuck_rows),
                "more_stuck": more_stuck,
                "local_clients": local_client_statuses(clients, now),
                "own_keys_valid_until": ctx.own_keys_valid_until,
                "own_keys_days_left": days_left(ctx.own_keys_valid_until, now),
                "requeued": request.query.get(REQUEUED_FLAG) == "1",
                "keys_warning_days": KEYS_WARNING_DAYS,
            },
        )

    async def requeue(request: web.Request) -> web.Response:
        user = auth.require(request, *OPERATORS)
        try:
            message_id = uuid.UUID(request.match_info["message_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        try:
            peer = await ctx.store.requeue(message_id, user.actor)
        except OutboxStateError:
            if await ctx.store.get_outbox(message_id) is None:
                raise web.HTTPNotFound() from None
            raise web.HTTPConflict(reason="not_requeueable") from None
        await ctx.store.audit(
            [AuditEntry(user.actor, "console.requeued", str(message_id), {"peer": peer})]
        )
        raise web.HTTPSeeOther(f"/console/operator?{REQUEUED_FLAG}=1")

    return [
        web.get("/operator", operator_page),
        web.post("/operator/requeue/{message_id}", requeue),
    ]
