"""Onward sharing against a real PostgreSQL: which received markings a new message of a case
carries (Store.received_markings), and the Dispatcher's verdict on each path, table-driven.

A node here is vn-gialai-police: it received messages from kh-ratanakiri-police (the origin)
and tries to send in that case, or in answer to them, to kh-stungtreng-police (onward) or
back to the origin. Refusals come before anything is sealed, so no keys are needed; the
allowed paths are checked with check_onward itself (the sealing is tested elsewhere).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from gateway.crypto import Keyring
from gateway.federation.outgoing import ONWARD_MARKINGS, Dispatcher, SubmissionRefused
from gateway.policy import PeerRoute, RoutePolicy
from gateway.store import IncomingEnvelope, Store
from gateway.wire import canonical, uuid7
from tests.federation.harness import alert
from tests.store.outbox_support import queue_outgoing

ORIGIN = "kh-ratanakiri-police"
ONWARD = "kh-stungtreng-police"
T = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _dispatcher(store: Store) -> Dispatcher:
    return Dispatcher(
        keyring=cast(Keyring, None),  # every path tested is judged before sealing
        store=store,
        sendable_kinds={peer: frozenset({"hotline_alert"}) for peer in (ORIGIN, ONWARD)},
        policy=RoutePolicy({ORIGIN: PeerRoute("KH"), ONWARD: PeerRoute("KH")}),
        message_ttl=timedelta(days=7),
        clock=lambda: T,
    )


async def _received(
    store: Store, case_id: uuid.UUID, handling: str | None, *, sender: str = ORIGIN, at: int = 0
) -> uuid.UUID:
    message_id = uuid7()
    await store.store_incoming(
        [
            IncomingEnvelope(
                sender=sender,
                message_id=message_id,
                case_id=case_id,
                kind="hotline_alert",
                envelope=b"sealed",
                envelope_sha256=hashlib.sha256(message_id.bytes).digest(),
                receipt=b"receipt",
                created_at=T,
                # After anything _sent queued (at the real now): the order decides the origin.
                received_at=datetime.now(UTC) + timedelta(minutes=at),
                handling=handling,
            )
        ]
    )
    return message_id


async def _sent(store: Store, case_id: uuid.UUID, recipient: str) -> None:
    await queue_outgoing(store, recipient, case_id, handling="victim_protected")


@dataclass(frozen=True)
class Path:
    name: str
    # The marking of what the origin sent (None: unknown).
    received: str | None
    # How the new message is linked: by its case, or by in_reply_to (with no case id).
    link: str
    to: str
    refused: bool
    # This node opened the case (sent in it before anything came in).
    opened_here: bool = False


PATHS = [
    # Onward to a third peer: only normal content may go.
    Path("victim_protected case onward", "victim_protected", "case", ONWARD, True),
    Path("restricted case onward", "restricted", "case", ONWARD, True),
    Path("unknown marking case onward", None, "case", ONWARD, True),
    Path("normal case onward", "normal", "case", ONWARD, False),
    Path("victim_protected answer onward", "victim_protected", "in_reply_to", ONWARD, True),
    Path("restricted answer onward", "restricted", "in_reply_to", ONWARD, True),
    Path("normal answer onward", "normal", "in_reply_to", ONWARD, False),
    # Back to where it came from: always.
    Path("victim_protected case back", "victim_protected", "case", ORIGIN, False),
    Path("victim_protected answer back", "victim_protected", "in_reply_to", ORIGIN, False),
    # A case this node opened is its own to share, even after the origin answered in it...
    Path("own case onward", "victim_protected", "case", ONWARD, False, opened_here=True),
    # ...but not the origin's answer itself.
    Path(
        "own case, answer onward", "victim_protected", "in_reply_to", ONWARD, True, opened_here=True
    ),
]


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
async def test_each_onward_path(store: Store, path: Path) -> None:
    case_id = uuid.uuid4()
    if path.opened_here:
        await _sent(store, case_id, ORIGIN)
    received = await _received(store, case_id, path.received, at=60)
    message = alert("TB-9", str(case_id) if path.link == "case" else "")
    if path.link == "in_reply_to":
        message.in_reply_to = str(received)
    dispatcher = _dispatcher(store)
    if not path.refused:
        await dispatcher.check_onward(message, [path.to], "api:case-system")
        return
    with pytest.raises(SubmissionRefused) as refused:
        # submit: the whole path, which links the answer to its case first.
        await dispatcher.submit(message, [path.to], actor="api:case-system")
    assert (refused.value.code, refused.value.field) == ("onward_not_allowed", "to")
    [entry] = [e for e in await store.list_audit() if e.action == "outbox.onward_refused"]
    assert entry.actor == "api:case-system"
    assert entry.subject == str(case_id)
    assert entry.detail == {
        "peer": path.to,
        "origin": ORIGIN,
        "handling": path.received or "unknown",
        # An answer joins the case it answers first (_link_case): the case's origin is met
        # first, unless this node opened the case.
        "via": "in_reply_to" if path.opened_here else "case",
    }
    assert await store.state_counts() == ({(ORIGIN, "queued"): 1} if path.opened_here else {})


async def test_the_case_origin_is_the_peer_whose_message_came_first(store: Store) -> None:
    case_id = uuid.uuid4()
    await _received(store, case_id, "victim_protected", sender=ONWARD, at=0)
    await _received(store, case_id, "normal", sender=ORIGIN, at=5)
    markings = await store.received_markings(case_id, None)
    assert [(m.sender, m.handling, m.via) for m in markings] == [
        (ONWARD, "victim_protected", "case")
    ]
    # So ONWARD may have its case back; ORIGIN, which only joined it, may not have it.
    dispatcher = _dispatcher(store)
    await dispatcher.check_onward(alert("TB-1", str(case_id)), [ONWARD], "console:1")
    with pytest.raises(SubmissionRefused):
        await dispatcher.check_onward(alert("TB-1", str(case_id)), [ORIGIN], "console:1")
    assert await store.received_markings(None, None) == []


def test_the_onward_markings_are_the_loosest_only() -> None:
    names = {
        canonical.Handling.Name(v).removeprefix("HANDLING_").lower()
        for v in canonical.Handling.values()
    }
    assert names >= ONWARD_MARKINGS
    assert frozenset({"normal"}) == ONWARD_MARKINGS
