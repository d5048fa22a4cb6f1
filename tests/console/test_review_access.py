"""Who may do what in the console: every route, every role and the signed-out browser, in
one table, over real HTTP against a real database.

Each row is a route, each column a role (None: signed out), each cell the status the console
must answer. Every test starts from the same store: a victim handover received from the peer
(its case page holds victim names) and a handover composed by another officer awaiting
approval. Whatever the status, the victims' names reach only CONTENT_READERS.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass

import pytest

from gateway.console import Role, build_console
from gateway.console.context import CONTENT_READERS
from gateway.wire import canonical
from tests.console.attachments_support import png, receive_with_attachments
from tests.console.cases_support import NAMES, handover_from_ratanakiri, receive
from tests.console.conftest import ConsoleHarness
from tests.console.test_compose import CHILD, VICTIM, compose_handover, post_form
from tests.console.test_review_xss import sample

OUT = None  # the signed-out browser
ROLES: tuple[Role | None, ...] = (
    OUT,
    Role.OFFICER,
    Role.SUPERVISOR,
    Role.OPERATOR,
    Role.ADMIN,
)
MISSING = "0190b4a4-0000-7000-8000-000000000000"
SIGN_IN = 303  # a redirect to the sign-in page, for the signed-out browser
PROTECTED_TEXT = (VICTIM, CHILD, *(name for pair in NAMES for name in pair))


@dataclass(frozen=True)
class Route:
    method: str
    # {received}: the received handover's case, {composed}: the draft's case, {draft}: its id,
    # {photo_message} and {photo}: a received victim-protected handover and its attached photo
    path: str
    # status per role, in the order of ROLES
    answers: tuple[int, int, int, int, int]


def _row(method: str, path: str, *answers: int) -> Route:
    assert len(answers) == len(ROLES)
    return Route(method, path, (answers[0], answers[1], answers[2], answers[3], answers[4]))


#                  out      officer supervisor operator admin
MATRIX = [
    _row("GET", "/console/", 303, 303, 303, 303, 303),
    _row("GET", "/console/sign-in", 200, 303, 303, 303, 303),
    _row("POST", "/console/sign-out", SIGN_IN, 303, 303, 303, 303),
    _row("GET", "/console/lang/km?next=/console/cases", 303, 303, 303, 303, 303),
    _row("GET", "/console/static/console.css", 200, 200, 200, 200, 200),
    _row("GET", "/console/no-such-page", 404, 404, 404, 404, 404),
    _row("GET", "/console/cases", SIGN_IN, 200, 200, 200, 200),
    _row("POST", "/console/cases", SIGN_IN, 405, 405, 405, 405),
    _row("GET", "/console/cases/{received}", SIGN_IN, 200, 200, 200, 200),
    _row("GET", "/console/cases/{composed}", SIGN_IN, 200, 200, 200, 200),
    _row("GET", f"/console/cases/{MISSING}", SIGN_IN, 404, 404, 404, 404),
    _row("POST", "/console/cases/{received}/answer", SIGN_IN, 400, 400, 403, 403),
    _row("GET", "/console/cases/{received}/answer", 405, 405, 405, 405, 405),
    _row("GET", "/console/compose/handover", SIGN_IN, 200, 200, 403, 403),
    _row("POST", "/console/compose/handover", SIGN_IN, 400, 400, 403, 403),
    _row("GET", "/console/compose/notice", SIGN_IN, 200, 200, 403, 403),
    _row("GET", "/console/compose/notice?case={received}", SIGN_IN, 200, 200, 403, 403),
    _row("POST", "/console/compose/notice", SIGN_IN, 400, 400, 403, 403),
    _row("GET", "/console/compose/alert", SIGN_IN, 200, 200, 403, 403),
    _row("POST", "/console/compose/alert", SIGN_IN, 400, 400, 403, 403),
    _row("GET", "/console/approvals", SIGN_IN, 403, 200, 403, 403),
    _row("POST", "/console/approvals/{draft}/approve", SIGN_IN, 403, 303, 403, 403),
    _row("GET", "/console/approvals/{draft}/approve", 405, 405, 405, 405, 405),
    # The composer may withdraw their own draft; this officer is not its composer.
    _row("POST", "/console/approvals/{draft}/withdraw", SIGN_IN, 403, 303, 403, 403),
    _row("GET", "/console/operator", SIGN_IN, 403, 403, 200, 200),
    _row("POST", f"/console/operator/requeue/{MISSING}", SIGN_IN, 403, 403, 404, 404),
    # Offline bundles: an empty export names no peer (400), an import that is not a
    # multipart upload is not the form's (400), no receipts are held for this user (410).
    _row("GET", "/console/operator/bundles", SIGN_IN, 403, 403, 200, 200),
    _row("POST", "/console/operator/bundles/export", SIGN_IN, 403, 403, 400, 400),
    _row("POST", "/console/operator/bundles/import", SIGN_IN, 403, 403, 400, 400),
    _row("POST", "/console/operator/bundles/receipts", SIGN_IN, 403, 403, 410, 410),
    _row(
        "GET", "/console/messages/{photo_message}/attachments/{photo}", SIGN_IN, 200, 200, 403, 403
    ),
    _row("GET", f"/console/messages/{MISSING}/attachments/scan-1", SIGN_IN, 404, 404, 404, 404),
    # Acknowledging a received message: those who act on cases (no four eyes).
    _row("POST", f"/console/messages/{MISSING}/acknowledge", SIGN_IN, 404, 404, 403, 403),
    _row("GET", f"/console/messages/{MISSING}/acknowledge", 405, 405, 405, 405, 405),
    # Search: every signed-in user, as the case list; this node has no index wired (503).
    _row("GET", "/console/search", SIGN_IN, 503, 503, 503, 503),
    _row("POST", "/console/search", SIGN_IN, 503, 503, 503, 503),
    # Possible matches (issue 13): those who act on cases decide; no such pair here (404).
    _row("POST", "/console/cases/{received}/matches/1/confirm", SIGN_IN, 404, 404, 403, 403),
    _row("GET", "/console/cases/{received}/matches/1/confirm", 405, 405, 405, 405, 405),
    # Reports (aggregates only): supervisors and admins; a download naming no period is 400.
    _row("GET", "/console/reports", SIGN_IN, 403, 200, 403, 200),
    _row("POST", "/console/reports/download", SIGN_IN, 403, 400, 403, 400),
]


@dataclass(frozen=True)
class Store:
    received: uuid.UUID
    composed: uuid.UUID
    draft: int
    photo_message: uuid.UUID
    photo: str


async def _prepared(console: ConsoleHarness, role: Role | None) -> Store:
    """The shared starting store, and the harness's browser signed in as role (or not)."""
    received = uuid.uuid4()
    await receive(console, handover_from_ratanakiri(), received)
    photo_message, _, (photo,) = await receive_with_attachments(
        console, handover_from_ratanakiri(), [(png(4, 4), "image/png")], handling="victim_protected"
    )
    await console.sign_in(Role.OFFICER)  # the composer, a different officer from the one tested
    composed = await compose_handover(console)
    [draft] = await console.store.drafts_awaiting()
    signed_out = await post_form(console, "/console/sign-out", [])
    assert signed_out.status == 303
    if role is not None:
        await console.sign_in(role)
    return Store(received, composed, draft.id, photo_message, photo)


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.value if role else "signed-out")
@pytest.mark.parametrize("route", MATRIX, ids=lambda route: f"{route.method} {route.path}")
async def test_who_may_do_what(console: ConsoleHarness, route: Route, role: Role | None) -> None:
    store = await _prepared(console, role)
    path = route.path.format(
        received=store.received,
        composed=store.composed,
        draft=store.draft,
        photo_message=store.photo_message,
        photo=store.photo,
    )
    if route.method == "GET":
        answer = await console.client.get(path, allow_redirects=False)
    else:
        answer = await post_form(console, path, [])
    page = (await answer.read()).decode(errors="replace")  # an attachment is not text
    expected = route.answers[ROLES.index(role)]
    assert answer.status == expected, page[:400]
    redirects_elsewhere = path == "/console/" or path.startswith("/console/lang/")
    if role is None and expected == SIGN_IN and not redirects_elsewhere:
        assert answer.headers["Location"].startswith("/console/sign-in?next=/console/")
    if role not in CONTENT_READERS:
        shown = html.unescape(page) + answer.headers.get("Location", "")
        assert not [text for text in PROTECTED_TEXT if text in shown]


async def test_the_table_names_every_console_route(console: ConsoleHarness) -> None:
    """A route added later must join the table (and so be decided for every role)."""
    served = {
        (route.method, f"/console{route.resource.canonical}")
        for route in build_console(console.ctx).router.routes()
        if route.method in {"GET", "POST"} and route.resource is not None
    }
    tabled = {
        (route.method, route.path.split("?")[0])
        for route in MATRIX
        if route.method in {"GET", "POST"}
    }
    placeholders = {
        "{received}": "{case_id}",
        "{composed}": "{case_id}",
        MISSING: "{message_id}",
        "{draft}": "{draft_id}",
        "{photo_message}": "{message_id}",
        "{photo}": "{attachment_id}",
        "scan-1": "{attachment_id}",
        "/matches/1/confirm": "/matches/{match_id}/{decision}",
    }

    def canonical(path: str) -> str:
        for mine, theirs in placeholders.items():
            path = path.replace(mine, theirs)
        return path

    tabled_canonical = {(method, canonical(path)) for method, path in tabled}
    # Routes that do not concern roles: language switch, static assets, sign-in form.
    exempt = {"/console/lang/{code}", "/console/sign-in"}
    missing = sorted(
        (method, path)
        for method, path in served
        if (method, path) not in tabled_canonical
        and path not in exempt
        and not path.startswith("/console/static/")
    )
    assert missing == []


@pytest.mark.parametrize(
    ("handling", "role", "reads"),
    [
        (handling, role, role in CONTENT_READERS or handling == canonical.HANDLING_NORMAL)
        for handling in (
            canonical.HANDLING_VICTIM_PROTECTED,
            # None set by the sender: read as the strictest (0010_retention_content.sql).
            canonical.HANDLING_UNSPECIFIED,
            canonical.HANDLING_RESTRICTED,
            canonical.HANDLING_NORMAL,
        )
        for role in (Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMIN)
    ],
)
async def test_a_restricted_notice_is_metadata_only_for_operators(
    console: ConsoleHarness, handling: canonical.Handling.ValueType, role: Role, reads: bool
) -> None:
    """Not only victim data: content marked victim-protected, restricted or not marked at
    all reaches content readers only, whatever kind carries it (issue 11: every marking,
    every role); a notice marked normal (no victim in it) is for everyone."""
    notice = sample("wanted_person_notice")
    notice.handling = handling
    suspect = notice.wanted_person_notice.subject.name
    assert suspect
    case = uuid.uuid4()
    await receive(console, notice, case)
    await console.sign_in(role)
    page = html.unescape(await (await console.client.get(f"/console/cases/{case}")).text())
    assert (suspect in page, 'class="content-withheld"' in page) == (reads, not reads)
