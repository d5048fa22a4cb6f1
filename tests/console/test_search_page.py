"""The console's search page (gateway/console/search.py) through the real console app, a
real store and real sign-in, over a PersonSearch the test controls (search_support): each
field checked (400, the error beside it, no search run), who may search and who sees names,
CSRF, the time bound, the audit entry, and search terms in no URL, log line or audit
detail."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from aiohttp import ClientResponse

from gateway.console import Role, search
from gateway.console.context import CONTENT_READERS, ConsoleUser
from gateway.search.index import MAX_TEXT_TOKENS
from gateway.search.model import SearchQuery
from gateway.store import EmbeddedPostgres
from tests.console.conftest import ConsoleHarness
from tests.console.search_support import (
    RecordedSearch,
    StuckSearch,
    person,
    scored,
    searching_console,
)
from tests.console.test_compose import post_form
from tests.federation.harness import Federation

KHMER = "ង្វៀន ធី ឡាន"
LATIN = "NGUYEN Thi Lan"
WANTED = ("Rơ Châm Y Phăn", "RO Cham Y Phan")
UTC7 = timedelta(hours=7)
_URL_ATTRIBUTE = re.compile(r'(?:href|action|src)="([^"]*)"')
_ERROR = re.compile(r'<p class="field-error" data-field="([a-z_]+)"')

VICTIM_HIT = scored(
    person(KHMER, LATIN, birth_date="1998-03-04"), 93.6, matched=KHMER, reasons=("name", "sex")
)
NORMAL_NOTICE_HIT = scored(
    person(*WANTED, role="wanted", kind="wanted_person_notice", handling="normal", entry_id=2),
    71,
    reasons=("name", "birth_year"),
)
RESTRICTED_NOTICE_HIT = scored(
    person("Sok Dara", role="wanted", kind="wanted_person_notice", handling="restricted"), 60
)
# A suspect in a normal alert: the alert may name a victim too, so withheld from non-readers.
HOTLINE_SUSPECT_HIT = scored(
    person("Lò Văn Tú", role="hotline_suspect", kind="hotline_alert", handling="normal"), 55
)


@pytest.fixture
def recorded() -> RecordedSearch:
    return RecordedSearch([VICTIM_HIT, NORMAL_NOTICE_HIT])


@pytest.fixture(name="console")
async def console_fixture(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA, recorded: RecordedSearch
) -> AsyncIterator[ConsoleHarness]:
    async with searching_console(Federation(tmp_path, postgres, ca), recorded) as harness:
        yield harness


async def _search(console: ConsoleHarness, fields: list[tuple[str, str]]) -> ClientResponse:
    return await post_form(console, "/console/search", fields, form_path="/console/search")


def _errors(page: str) -> list[str]:
    return _ERROR.findall(page)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ([], "query"),
        ([("name", "   "), ("kind", "")], "query"),
        ([("name", "x" * 201)], "name"),
        ([("name", "Lan\x00")], "name"),
        # The index's bound on words (gateway.search.index.MAX_TEXT_TOKENS), named in the
        # message: "at most 8 words".
        ([("name", " ".join(["Lan"] * 9))], "name"),
        ([("document_number", "AB#123")], "document_number"),
        ([("document_number", "ល១២៣")], "document_number"),
        ([("document_number", "1" * 41)], "document_number"),
        ([("birth", "1990-02")], "birth"),
        ([("birth", "1990-02-30")], "birth"),
        ([("birth", "2990")], "birth"),
        ([("birth", "1850")], "birth"),
        ([("birth", "9" * 5000)], "birth"),
        ([("birth", "90")], "birth"),
        ([("border_gate", "VN-NOWHERE")], "border_gate"),
        ([("kind", "key_announcement")], "kind"),
        ([("since", "2026-13-01")], "since"),
        ([("since", "1999-12-31")], "since"),
        ([("until", "9999-12-31")], "until"),
        ([("since", "2026-05-02"), ("until", "2026-05-01")], "until"),
    ],
)
async def test_a_wrong_field_is_named_beside_it_and_nothing_is_searched(
    console: ConsoleHarness, recorded: RecordedSearch, fields: list[tuple[str, str]], field: str
) -> None:
    await console.sign_in(Role.OFFICER, "vi")
    answer = await _search(console, fields)
    page = await answer.text()
    assert answer.status == 400
    assert _errors(page) == [field]
    assert 'class="search-results"' not in page
    assert recorded.queries == []
    assert not [row for row in await console.store.list_audit() if row.action == "console.search"]


def test_the_word_bound_named_in_the_message_is_the_index_s() -> None:
    assert MAX_TEXT_TOKENS == 8
    assert "8 words" in search.MSG_WORDS


def _local(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC) - UTC7


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([("name", f"  {KHMER} ")], SearchQuery(text=KHMER)),
        # NFC: a decomposed Vietnamese name is searched as the adapters store names.
        ([("name", "Nguye\u0302\u0303n")], SearchQuery(text="Nguyễn")),
        ([("document_number", "ab 12-34.5")], SearchQuery(document_number="AB12345")),
        ([("document_number", "០១២៣៤")], SearchQuery(document_number="01234")),
        ([("birth", "1998")], SearchQuery(birth_year=1998)),
        ([("birth", "១៩៩៨")], SearchQuery(birth_year=1998)),
        ([("birth", "1998-3-4")], SearchQuery(birth_date="1998-03-04")),
        ([("border_gate", "VN-LETHANH")], SearchQuery(border_gate="VN-LETHANH")),
        ([("kind", "victim_handover")], SearchQuery(kind="victim_handover")),
        # Dates are the reader's local days (UTC+7), both ends included.
        (
            [("since", "2026-05-01"), ("until", "2026-05-01")],
            SearchQuery(
                since=_local(2026, 5, 1),
                until=_local(2026, 5, 2) - timedelta(microseconds=1),
            ),
        ),
        ([("since", "2026-05-01")], SearchQuery(since=_local(2026, 5, 1))),
    ],
)
async def test_the_form_becomes_the_query(
    console: ConsoleHarness,
    recorded: RecordedSearch,
    fields: list[tuple[str, str]],
    expected: SearchQuery,
) -> None:
    await console.sign_in(Role.OFFICER)
    answer = await _search(console, fields)
    assert answer.status == 200, _errors(await answer.text())
    assert recorded.queries == [expected]
    assert expected.limit == search.RESULT_LIMIT


async def test_the_results_are_ranked_with_names_in_both_scripts(console: ConsoleHarness) -> None:
    await console.sign_in(Role.OFFICER, "km")
    answer = await _search(console, [("name", "Nguyen Thi Lan")])
    assert answer.status == 200
    assert str(answer.url).endswith("/console/search")
    page = await answer.text()
    rows = re.findall(r'<tr class="hit" data-case="([^"]+)"', page)
    assert rows == [str(VICTIM_HIT.person.case_id), str(NORMAL_NOTICE_HIT.person.case_id)]
    assert re.findall(r'data-score="(\d+)"', page) == ["94", "71"]
    assert '<meter min="0" max="100" value="94">' in page
    assert f'<span class="person-name" lang="km">{KHMER}</span>' in page
    assert f'<span class="person-name">{LATIN}</span>' in page
    assert f'<span class="matched" lang="km">{KHMER}</span>' in page
    assert f'href="/console/cases/{VICTIM_HIT.person.case_id}"' in page
    assert '<span class="reason" data-reason="name">ឈ្មោះស្រដៀងគ្នា</span>' in page
    assert 'data-role="victim">ជនរងគ្រោះ<' in page
    assert 'data-direction="in"' in page
    assert "៩៤%" in page  # the score in the reader's digits
    assert "Nguyen Thi Lan <span" not in page  # a Latin form was written: no romanisation


async def test_a_name_written_in_khmer_only_is_shown_in_latin_letters_too(
    console: ConsoleHarness, recorded: RecordedSearch
) -> None:
    recorded.hits = [scored(person(KHMER), 97, matched=KHMER, reasons=("name",))]
    await console.sign_in(Role.OFFICER, "vi")
    page = await (await _search(console, [("name", "Nguyen Thi Lan")])).text()
    assert f'<span class="person-name" lang="km">{KHMER}</span>' in page
    romanised = '<span class="romanised" lang="en">Nguyen Thi Lan <span class="muted">'
    assert f"{romanised}(phiên âm Latinh)" in page


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        (Role.OFFICER, {"victim", "normal", "restricted", "hotline"}),
        (Role.SUPERVISOR, {"victim", "normal", "restricted", "hotline"}),
        (Role.OPERATOR, {"normal"}),
        (Role.ADMIN, {"normal"}),
    ],
)
async def test_names_are_shown_only_to_who_may_read_them(
    console: ConsoleHarness, recorded: RecordedSearch, role: Role, shown: set[str]
) -> None:
    hits = {
        "victim": VICTIM_HIT,
        "normal": NORMAL_NOTICE_HIT,
        "restricted": RESTRICTED_NOTICE_HIT,
        "hotline": HOTLINE_SUSPECT_HIT,
    }
    recorded.hits = list(hits.values())
    await console.sign_in(role)
    answer = await _search(console, [("name", "any")])
    assert answer.status == 200
    page = html.unescape(await answer.text())
    for key, hit in hits.items():
        case = hit.person.case_id
        row = re.search(f'<tr class="hit" data-case="{case}".*?</tr>', page, re.S)
        if key not in shown:
            # Left out altogether: even a "Restricted" row would confirm the name typed.
            assert row is None
            assert not any(name in page for name in hit.person.names)
            assert f'href="/console/cases/{case}"' not in page
            continue
        assert row is not None
        assert [name for name in hit.person.names if name in row.group(0)] == list(hit.person.names)
        assert 'data-withheld="no"' in row.group(0)
        assert f'href="/console/cases/{case}"' in row.group(0)
    assert f'data-count="{len(shown)}"' in page
    assert (role in CONTENT_READERS) == (KHMER in page)


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMIN])
async def test_every_signed_in_role_may_search_as_it_may_list_cases(
    console: ConsoleHarness, role: Role
) -> None:
    await console.sign_in(role)
    form = await console.client.get("/console/search")
    assert form.status == 200
    page = await form.text()
    assert 'method="post" action="/console/search"' in page
    assert 'href="/console/search" aria-current="page"' in page
    cases = await (await console.client.get("/console/cases")).text()
    assert 'href="/console/search"' in cases  # the main menu links to it


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_signed_out_browser_is_sent_to_sign_in(
    console: ConsoleHarness, recorded: RecordedSearch, method: str
) -> None:
    answer = await console.client.request(
        method, "/console/search", data={"name": "Lan"}, allow_redirects=False
    )
    assert answer.status == 303
    assert answer.headers["Location"] == "/console/sign-in?next=/console/search"
    assert recorded.queries == []


@pytest.mark.parametrize("token", [None, "", "x" * 43])
async def test_a_search_without_the_sessions_token_is_refused(
    console: ConsoleHarness, recorded: RecordedSearch, token: str | None
) -> None:
    await console.sign_in(Role.OFFICER)
    fields = [("name", KHMER)] + ([] if token is None else [("csrf_token", token)])
    answer = await console.client.post("/console/search", data=fields, allow_redirects=False)
    assert answer.status == 403
    assert 'data-reason="csrf_failed"' in await answer.text()
    assert recorded.queries == []


async def test_the_form_is_never_sent_as_a_query_string(console: ConsoleHarness) -> None:
    """A GET with terms (a hand-made link, an old bookmark) runs no search and keeps no term."""
    await console.sign_in(Role.OFFICER)
    answer = await console.client.get("/console/search", params={"name": KHMER})
    page = await answer.text()
    assert answer.status == 200
    assert KHMER not in page
    assert 'class="search-results"' not in page


async def test_a_search_is_audited_by_field_names_and_hit_count(
    console: ConsoleHarness,
) -> None:
    user = await console.sign_in(Role.SUPERVISOR)
    answer = await _search(
        console, [("name", KHMER), ("birth", "1998"), ("document_number", "N123"), ("kind", "")]
    )
    assert answer.status == 200
    [entry] = [row for row in await console.store.list_audit() if row.action == "console.search"]
    assert (entry.actor, entry.subject) == (user.actor, "person_search")
    assert entry.detail == {"fields": "name,document_number,birth", "hits": 2, "timed_out": False}


async def test_no_search_term_reaches_a_url_log_line_or_audit_detail(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    terms = (KHMER, "Nguyễn Thị Lan", "N0123456", "1998-03-04")
    await console.sign_in(Role.OFFICER)
    urls: list[str] = []
    for fields in (
        [("name", KHMER), ("document_number", "N0123456"), ("birth", "1998-03-04")],
        [("name", "Nguyễn Thị Lan"), ("birth", "1998-03")],  # refused: the form comes back
    ):
        answer = await _search(console, fields)
        urls += [str(answer.url), answer.headers.get("Location", "")]
        urls += [html.unescape(url) for url in _URL_ATTRIBUTE.findall(await answer.text())]
    logged = [
        f"{record.getMessage()} {record.args} {record.__dict__} {record.exc_text or ''}"
        for record in caplog.records
    ]
    assert logged, "nothing was logged at DEBUG: the check would prove nothing"
    details = [f"{row.subject} {row.detail}" for row in await console.store.list_audit(1000)]
    shown = " ".join([*logged, *urls, *details])
    assert [term for term in terms if term in shown] == []


async def test_a_search_past_its_time_bound_says_so(
    tmp_path: Path,
    postgres: EmbeddedPostgres,
    ca: trustme.CA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search, "SEARCH_TIMEOUT", timedelta(milliseconds=50))
    stuck = StuckSearch()
    async with searching_console(Federation(tmp_path, postgres, ca), stuck) as console:
        await console.sign_in(Role.OFFICER)
        answer = await _search(console, [("name", "Lan")])
        assert answer.status == 503
        assert 'class="notice warning search-notice"' in await answer.text()
        [entry] = [r for r in await console.store.list_audit() if r.action == "console.search"]
        assert entry.detail == {"fields": "name", "hits": None, "timed_out": True}


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_node_without_the_index_says_search_is_not_available(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA, method: str
) -> None:
    async with searching_console(Federation(tmp_path, postgres, ca), None) as console:
        await console.sign_in(Role.OFFICER, "vi")
        if method == "GET":
            answer = await console.client.get("/console/search")
        else:
            answer = await _search(console, [("name", "Lan")])
        page = await answer.text()
        assert answer.status == 503
        assert 'data-available="no"' in page
        assert "Chức năng tìm kiếm chưa có trên nút này." in page
        assert '<form class="search"' not in page
        assert not [r for r in await console.store.list_audit() if r.action == "console.search"]


@pytest.mark.parametrize(
    ("birth_date", "expected"),
    [
        ("", None),
        ("2001", (2001, 0, 0)),
        ("2001-04", (2001, 4, 0)),
        ("2001-04-12", (2001, 4, 12)),
        ("99999999999", None),  # never a protobuf int32 overflow on the page
        ("2001-x", None),
    ],
)
def test_a_shown_birth_date_is_what_the_index_knows_of_it(
    birth_date: str, expected: tuple[int, int, int] | None
) -> None:
    reader = ConsoleUser(1, "officer", Role.OFFICER, "en")
    hit = search.hit_of(reader, scored(person(KHMER, birth_date=birth_date), 80))
    born = None if hit.birth is None else (hit.birth.year, hit.birth.month, hit.birth.day)
    assert born == expected


@pytest.mark.parametrize(
    ("text", "khmer"),
    [(KHMER, True), (LATIN, False), ("Nguyễn Thị Lan", False), ("᧠", True), ("", False)],
)
def test_khmer_names_are_marked_for_the_khmer_font(text: str, khmer: bool) -> None:
    assert search.is_khmer(text) is khmer


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('" onmouseover="x', "&#34; onmouseover=&#34;x"),
        # A bidi override a peer left open ends with the name (gateway/console/bidi.py).
        ("ABC\u202e", "ABC\u202e\u202c"),
    ],
)
async def test_a_peers_name_is_shown_as_text(
    console: ConsoleHarness, recorded: RecordedSearch, written: str, shown: str
) -> None:
    recorded.hits = [scored(person(written, "Latin"), 90)]
    await console.sign_in(Role.OFFICER)
    page = await (await _search(console, [("name", "x")])).text()
    assert f'<span class="person-name">{shown}</span>' in page
    assert written not in page.replace(shown, "")
