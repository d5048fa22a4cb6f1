"""Console: acknowledgements (docs/PROTOCOL.md section 13). See gateway/console/__init__.py.

POST /console/messages/<uuid>/acknowledge: a user who may act on cases (SENDERS: officers
and supervisors; one person is enough, no four eyes) acknowledges a received message. The
acknowledgement goes back to the sender once (gateway.federation.acknowledger): a second
press, or one after the local API's, changes nothing. The user's console name is the
`acknowledged_by` the sender sees (never their full name: the console knows none). Then
back to the case page.

What the pages show of acknowledgements is gathered here too: per message of a case, the
state of a sent one (awaiting, overdue, acknowledged by whom, when and how) and this node's
acknowledgement of a received one; and the list of sent messages overdue, shown on the case
list and the operator page (metadata only: peer, kind, deadline and the case link).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from gateway.console import auth
from gateway.console.context import SENDERS, ConsoleContext
from gateway.federation.acknowledgements import How
from gateway.federation.acknowledger import CannotAcknowledge
from gateway.store.acknowledgements import AcknowledgementState, GivenAcknowledgement
from gateway.store.cases import CaseMessage

OVERDUE_SHOWN = 50


@dataclass(frozen=True)
class CaseAcknowledgements:
    """What a case page shows of acknowledgements, by message id."""

    sent: dict[uuid.UUID, AcknowledgementState]
    given: dict[uuid.UUID, GivenAcknowledgement]


async def case_acknowledgements(
    ctx: ConsoleContext, rows: Sequence[CaseMessage]
) -> CaseAcknowledgements:
    sent = await ctx.store.acknowledgement_states(
        [row.message_id for row in rows if row.direction == "out"]
    )
    received = [row for row in rows if row.direction == "in"]
    given = await ctx.store.given_acknowledgements([row.message_id for row in received])
    return CaseAcknowledgements(
        sent,
        {
            row.message_id: given[(row.peer, row.message_id)]
            for row in received
            if (row.peer, row.message_id) in given
        },
    )


async def overdue_list(ctx: ConsoleContext) -> tuple[list[AcknowledgementState], bool]:
    """The sent messages overdue (the oldest deadlines first), and whether more are."""
    rows = await ctx.store.overdue_acknowledgements(ctx.clock(), OVERDUE_SHOWN + 1)
    return rows[:OVERDUE_SHOWN], len(rows) > OVERDUE_SHOWN


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    async def acknowledge(request: web.Request) -> web.Response:
        user = auth.require(request, *SENDERS)
        try:
            message_id = uuid.UUID(request.match_info["message_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        acknowledger = ctx.acknowledger
        message = None if acknowledger is None else await acknowledger.received(message_id)
        if acknowledger is None or message is None:
            raise web.HTTPNotFound()
        try:
            await acknowledger.acknowledge(message, by=user.name, how=How.CONSOLE, actor=user.actor)
        except CannotAcknowledge:
            raise web.HTTPConflict(reason="sender_not_a_peer") from None
        raise web.HTTPSeeOther(f"/console/cases/{message.case_id}#message-{message_id}")

    return [web.post("/messages/{message_id}/acknowledge", acknowledge)]
