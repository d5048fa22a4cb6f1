"""Four eyes over real HTTP (the `console` fixture): who may approve or withdraw a handover
draft, and that an approval queues it exactly once, sealed for the peer."""

from __future__ import annotations

import asyncio
import html
import re
import uuid

from gateway.console import Role
from tests.console.conftest import PEER, ConsoleHarness
from tests.console.test_compose import (
    CHILD,
    VICTIM,
    _envelope,
    _opened_by_peer,
    compose_handover,
    data_reason,
    post_form,
    session_for,
    switch_user,
)


async def _composed_draft(console: ConsoleHarness) -> tuple[uuid.UUID, int]:
    """A handover composed by the signed-in user: its case and its draft's id."""
    case_id = await compose_handover(console)
    [draft] = await console.store.drafts_awaiting()
    return case_id, draft.id


async def test_an_officer_may_not_open_the_approvals(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER)
    page = await console.client.get("/console/approvals")
    assert page.status == 403
    assert data_reason(await page.text()) == "forbidden"


async def test_a_supervisor_approves_once_and_it_is_queued_sealed_for_the_peer(
    console: ConsoleHarness,
) -> None:
    officer = await console.sign_in(Role.OFFICER)
    case_id, draft_id = await _composed_draft(console)
    supervisor = await switch_user(console, Role.SUPERVISOR)

    listing = await console.client.get("/console/approvals")
    page = await listing.text()
    assert listing.status == 200
    assert f'<tr class="draft" data-draft-id="{draft_id}"' in page
    # The approver reads what they approve.
    assert VICTIM in html.unescape(page)
    assert CHILD in page
    assert officer.name in page
    assert re.search(rf'action="/console/approvals/{draft_id}/approve"', page)

    approved = await post_form(console, f"/console/approvals/{draft_id}/approve", [])
    assert approved.status == 303, await approved.text()
    assert approved.headers["Location"] == f"/console/cases/{case_id}"
    again = await post_form(console, f"/console/approvals/{draft_id}/approve", [])
    assert again.status == 409
    assert data_reason(await again.text()) == "not_awaiting_approval"

    [row] = await console.store.list_outbox()
    assert (row.recipient, row.case_id, row.handling) == (PEER, case_id, "victim_protected")
    sent = _opened_by_peer(console, await _envelope(console, row.message_id))
    victims = sent.victim_handover.victims
    assert [v.person.name for v in victims] == [VICTIM, "Nguyễn Thị Lan"]
    assert victims[0].minor
    assert [c.name for c in victims[0].accompanying_children] == [CHILD]
    [draft] = await console.store.drafts_for_case(case_id)
    assert (draft.state, draft.decided_by, draft.message_ids) == (
        "approved",
        supervisor.id,
        (row.message_id,),
    )
    actions = [(e.actor, e.action) for e in await console.store.list_audit()]
    assert (supervisor.actor, "console.handover_approved") in actions
    assert (supervisor.actor, "console.draft_viewed") in actions


async def test_a_supervisor_may_not_approve_their_own_handover(console: ConsoleHarness) -> None:
    await console.sign_in(Role.SUPERVISOR)
    _case_id, draft_id = await _composed_draft(console)
    listing = await (await console.client.get("/console/approvals")).text()
    assert 'class="hint own-draft"' in listing
    refused = await post_form(console, f"/console/approvals/{draft_id}/approve", [])
    assert refused.status == 403
    assert data_reason(await refused.text()) == "own_draft"
    assert await console.store.list_outbox() == []
    assert [d.id for d in await console.store.drafts_awaiting()] == [draft_id]


async def test_of_two_supervisors_approving_at_once_exactly_one_queues(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OFFICER)
    _case_id, draft_id = await _composed_draft(console)
    first = await session_for(console, Role.SUPERVISOR)
    second = await session_for(console, Role.SUPERVISOR)
    try:
        path = f"/console/approvals/{draft_id}/approve"
        answers = await asyncio.gather(
            post_form(console, path, [], client=first, form_path="/console/approvals"),
            post_form(console, path, [], client=second, form_path="/console/approvals"),
        )
        assert sorted(answer.status for answer in answers) == [303, 409]
    finally:
        await first.close()
        await second.close()
    assert len(await console.store.list_outbox()) == 1


async def test_the_composer_withdraws_before_approval_and_nothing_is_sent(
    console: ConsoleHarness,
) -> None:
    officer = await console.sign_in(Role.OFFICER)
    case_id, draft_id = await _composed_draft(console)
    other_officer = await session_for(console, Role.OFFICER)
    try:
        refused = await post_form(
            console, f"/console/approvals/{draft_id}/withdraw", [], client=other_officer
        )
        assert refused.status == 403
    finally:
        await other_officer.close()

    withdrawn = await post_form(console, f"/console/approvals/{draft_id}/withdraw", [])
    assert withdrawn.status == 303
    assert withdrawn.headers["Location"] == f"/console/cases/{case_id}"
    [draft] = await console.store.drafts_for_case(case_id)
    assert (draft.state, draft.decided_by) == ("withdrawn", officer.id)

    await switch_user(console, Role.SUPERVISOR)
    late = await post_form(console, f"/console/approvals/{draft_id}/approve", [])
    assert late.status == 409
    assert data_reason(await late.text()) == "not_awaiting_approval"
    assert await console.store.list_outbox() == []
    actions = [(e.actor, e.action) for e in await console.store.list_audit()]
    assert (officer.actor, "console.handover_withdrawn") in actions


async def test_the_composer_sees_the_draft_on_its_case_page_and_may_withdraw_it_there(
    console: ConsoleHarness,
) -> None:
    await console.sign_in(Role.OFFICER)
    case_id, draft_id = await _composed_draft(console)
    page = await console.client.get(f"/console/cases/{case_id}")
    text = await page.text()
    assert page.status == 200
    assert re.search(
        rf'<article class="message draft" data-draft-id="{draft_id}" '
        r'data-state="awaiting_approval"',
        text,
    )
    assert f'action="/console/approvals/{draft_id}/withdraw"' in text
    assert VICTIM not in html.unescape(text)  # a draft shows metadata, never its content
    withdrawn = await post_form(
        console,
        f"/console/approvals/{draft_id}/withdraw",
        [],
        form_path=f"/console/cases/{case_id}",
    )
    assert withdrawn.status == 303
    after = await (await console.client.get(f"/console/cases/{case_id}")).text()
    assert f'data-draft-id="{draft_id}" data-state="withdrawn"' in after
    assert f'action="/console/approvals/{draft_id}/withdraw"' not in after
