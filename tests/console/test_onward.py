"""The console refuses to pass a peer's restricted or victim-protected case on to another
peer, beside the recipient field, and writes nothing but the audit entry; sending it back to
the peer it came from goes (issue 11; the Dispatcher's rule: tests/store/test_onward.py).

The node here has two peers: kh-ratanakiri-police, which opened the case, and
kh-stungtreng-police."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from gateway.console import Role
from gateway.console.forms import MSG_ONWARD
from gateway.store import EmbeddedPostgres
from gateway.wire import canonical
from tests.console.cases_support import receive
from tests.console.conftest import PEER, ConsoleHarness, running_console
from tests.console.test_compose import field_errors, post_form
from tests.console.test_review_xss import sample
from tests.federation.harness import Federation

ONWARD = "kh-stungtreng-police"


@pytest.fixture
async def console(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[ConsoleHarness]:
    federation = Federation(tmp_path, postgres, ca)
    await federation.add(ONWARD)  # before the console's node: it becomes a peer of it
    async with running_console(federation) as harness:
        yield harness


def _update(case: uuid.UUID, to: str) -> list[tuple[str, str]]:
    return [
        ("to", to),
        ("action", "update"),
        ("case_id", str(case)),
        ("subject-name", "Lê Văn Tám"),
        ("request", "arrest"),
        ("offence-legal_basis", "VN-PC2015-150"),
    ]


@pytest.mark.parametrize(
    ("handling", "to", "refused"),
    [
        (canonical.HANDLING_VICTIM_PROTECTED, ONWARD, True),
        (canonical.HANDLING_RESTRICTED, ONWARD, True),
        (canonical.HANDLING_NORMAL, ONWARD, False),
        (canonical.HANDLING_VICTIM_PROTECTED, PEER, False),
    ],
)
async def test_a_peers_case_goes_on_only_when_normal(
    console: ConsoleHarness, handling: canonical.Handling.ValueType, to: str, refused: bool
) -> None:
    notice = sample("wanted_person_notice")
    notice.handling = handling
    case = uuid.uuid4()
    marking = canonical.Handling.Name(handling).removeprefix("HANDLING_").lower()
    await receive(console, notice, case, handling=marking)
    officer = await console.sign_in(Role.OFFICER)
    answer = await post_form(
        console, "/console/compose/notice", _update(case, to), form_path="/console/compose/notice"
    )
    page = await answer.text()
    if not refused:
        assert answer.status == 303, page
        [row] = await console.store.list_outbox()
        assert (row.recipient, row.case_id) == (to, case)
        return
    assert answer.status == 400
    assert field_errors(page)["to"] == MSG_ONWARD
    assert await console.store.list_outbox() == []
    [entry] = [e for e in await console.store.list_audit() if e.action == "outbox.onward_refused"]
    assert (entry.actor, entry.detail["peer"], entry.detail["origin"]) == (
        officer.actor,
        ONWARD,
        PEER,
    )
