"""The approvals page stays bounded however many drafts wait: an officer's script can
compose thousands, and each draft shown is fetched, opened and audited."""

from __future__ import annotations

import html
import re
import uuid

from multidict import MultiDict

from gateway.console import ConsoleUser, Role
from gateway.console.approvals import MAX_SHOWN
from gateway.console.forms import checked, handover_from_form, new_reference
from gateway.console.four_eyes import compose_draft
from tests.console.conftest import ConsoleHarness
from tests.console.test_compose import handover_fields

EXTRA = 7


async def test_the_approvals_page_shows_the_oldest_drafts_and_counts_the_rest(
    console: ConsoleHarness,
) -> None:
    name, _password = await console.add_user(Role.OFFICER)
    row = await console.store.console_user(name)
    assert row is not None
    officer = ConsoleUser(row.id, name, Role.OFFICER, "en")
    now = console.clock.now
    for _ in range(MAX_SHOWN + EXTRA):
        composed = checked(
            handover_from_form(
                MultiDict(handover_fields(now)),
                now=now,
                case_id=uuid.uuid4(),
                reference=new_reference(now),
            ),
            console.ctx.dispatcher,
        )
        assert composed.ok, composed.errors
        await compose_draft(console.ctx, composed.message, composed.recipients, officer)
    oldest = [draft.id for draft in await console.store.drafts_awaiting()][:MAX_SHOWN]

    await console.sign_in(Role.SUPERVISOR)
    answer = await console.client.get("/console/approvals")
    page = html.unescape(await answer.text())
    assert answer.status == 200
    shown = [int(found) for found in re.findall(r'<tr class="draft" data-draft-id="(\d+)"', page)]
    assert shown == oldest
    assert f"{EXTRA} more handovers are awaiting approval" in page
    viewed = [e for e in await console.store.list_audit(1000) if e.action == "console.draft_viewed"]
    assert len(viewed) == MAX_SHOWN
