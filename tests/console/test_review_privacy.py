"""Victim data stays in the pages of those who may read it: never in logs, URLs, audit
details or error pages.

A whole handover runs through the console with every logger at DEBUG: an officer composes
it (first with a mistake, so the form comes back), a supervisor reads and approves it, a
handover from the peer is opened and answered. Then the names must be nowhere but in the
pages' text: not in a log record, a redirect, a link or form action, an audit detail.
"""

from __future__ import annotations

import html
import logging
import re
import uuid

import pytest
from aiohttp import ClientResponse

from gateway.console import Role
from tests.console.cases_support import NAMES, handover_from_ratanakiri, receive
from tests.console.conftest import ConsoleHarness
from tests.console.test_compose import (
    CHILD,
    VICTIM,
    handover_fields,
    post_form,
    switch_user,
)

ESCORT = "Trần Văn Bình"
NAMES_SHOWN = (VICTIM, CHILD, "Nguyễn Thị Lan", *(name for pair in NAMES for name in pair))
_URL_ATTRIBUTE = re.compile(r'(?:href|action|src)="([^"]*)"')


class Answers:
    """Every answer the browser got: its Location and the URLs its page links to."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    async def keep(self, answer: ClientResponse) -> ClientResponse:
        self.urls.append(str(answer.url))
        self.urls.append(answer.headers.get("Location", ""))
        self.urls.extend(html.unescape(url) for url in _URL_ATTRIBUTE.findall(await answer.text()))
        return answer


def _mentions(texts: list[str]) -> list[str]:
    return [name for name in NAMES_SHOWN if any(name in text for text in texts)]


async def test_victim_names_reach_no_log_url_or_audit_detail(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = Answers()
    await console.sign_in(Role.OFFICER)
    fields = handover_fields(console.clock.now)
    mistaken = [(name, "" if name == "planned_at" else value) for name, value in fields]
    page = await seen.keep(
        await post_form(
            console, "/console/compose/handover", mistaken, form_path="/console/compose/handover"
        )
    )
    assert page.status == 400
    composed = await seen.keep(
        await post_form(
            console, "/console/compose/handover", fields, form_path="/console/compose/handover"
        )
    )
    assert composed.status == 303
    case_path = composed.headers["Location"]
    await seen.keep(await console.client.get(case_path))

    await switch_user(console, Role.SUPERVISOR)
    approvals = await seen.keep(await console.client.get("/console/approvals"))
    assert VICTIM in html.unescape(await approvals.text())  # the approver reads it
    [draft] = await console.store.drafts_awaiting()
    approved = await seen.keep(
        await post_form(console, f"/console/approvals/{draft.id}/approve", [])
    )
    assert approved.status == 303
    again = await seen.keep(await post_form(console, f"/console/approvals/{draft.id}/approve", []))
    assert again.status == 409
    await seen.keep(await console.client.get(case_path))

    received = uuid.uuid4()
    await receive(console, handover_from_ratanakiri(), received)
    opened = await seen.keep(await console.client.get(f"/console/cases/{received}"))
    assert NAMES[0][0] in html.unescape(await opened.text())
    refused = await seen.keep(
        await post_form(console, f"/console/cases/{received}/answer", [("action", "reject")])
    )
    assert refused.status == 400
    answered = await seen.keep(
        await post_form(
            console, f"/console/cases/{received}/answer", [("action", "accept"), ("reason", "")]
        )
    )
    assert answered.status == 303
    await seen.keep(await console.client.get("/console/cases"))

    logged = [
        f"{record.getMessage()} {record.exc_text or ''} {record.stack_info or ''}"
        for record in caplog.records
    ]
    assert logged, "nothing was logged at DEBUG: the check would prove nothing"
    audit = await console.store.list_audit(10_000)
    details = [f"{row.subject} {row.detail}" for row in audit]
    assert (_mentions(logged), _mentions(seen.urls), _mentions(details)) == ([], [], [])
    assert ESCORT not in " ".join(logged + seen.urls + details)
