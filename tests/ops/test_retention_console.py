"""A case whose content retention deleted, through the real console app: the thread keeps
its messages' metadata (direction, peer, marking, state, times) and says, in the reader's
language, that the content was deleted, instead of failing or calling it unreadable."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from gateway.config import RetentionConfig
from gateway.console import Role
from gateway.console.i18n import load_translations
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.retention import RetentionSweep
from gateway.store import DeliveryOutcome
from gateway.wire import canonical
from tests.console.cases_support import NAMES, answer_to, handover_from_ratanakiri, receive
from tests.console.conftest import PEER, ConsoleHarness, console

__all__ = ["console"]  # the console harness fixture, shared with tests/console

DELETED = (
    "Content deleted under the retention rules. When it was sent, to whom and its receipt "
    "stay recorded."
)


def _articles(page: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))
        for tag in re.findall(r'<article class="message"[^>]*>', page)
    ]


async def test_a_purged_case_shows_its_thread_without_content(console: ConsoleHarness) -> None:
    case = uuid.uuid4()
    proposal = await receive(console, handover_from_ratanakiri(), case)
    answer = answer_to(canonical.ACTION_ACCEPT, case, proposal)
    [queued] = await console.ctx.dispatcher.submit(answer, [PEER], actor="test")
    [claimed] = await console.store.claim(PEER, 1, "test")
    await console.store.finish(
        PEER, [DeliveryOutcome(claimed.message_id, b"receipt", True, "", console.clock())]
    )
    await console.sign_in(Role.OFFICER, "vi")
    before = await (await console.client.get(f"/console/cases/{case}")).text()
    assert NAMES[0][0] in before

    sweep = RetentionSweep(
        store=console.store,
        outgoing_folders=[],
        retention=RetentionConfig(),
        clock=lambda: console.clock() + timedelta(days=15),
        metrics=GatewayMetrics(),
    )
    purged = await sweep.sweep()
    assert purged.envelopes == {("outbox", "victim_protected"): 1, ("inbox", "victim_protected"): 1}

    answered = await console.client.get(f"/console/cases/{case}")
    assert answered.status == 200
    page = await answered.text()
    articles = _articles(page)
    assert [(a["direction"], a["message-id"]) for a in articles] == [
        ("in", str(proposal)),
        ("out", str(queued.message_id)),
    ]
    assert 'data-state="delivered"' in page
    assert page.count('data-handling="victim_protected"') == 2
    assert page.count(load_translations("vi").gettext(DELETED)) == 2
    assert load_translations("vi").gettext(DELETED) != DELETED
    assert 'class="content-unreadable"' not in page
    for native, latin in NAMES:
        assert native not in page
        assert latin not in page
    listing = await console.client.get("/console/cases")
    assert listing.status == 200
    assert f'data-case="{case}"' in await listing.text()
