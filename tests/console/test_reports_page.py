"""The console's Reports page (gateway/console/reports.py) over real HTTP, a real store and
the real build_report: who may use it, how a bad period is answered (400, the reason beside
its field, nothing built or audited), the report inline with its charts, and the downloads
(attachment, no-store, audited with user, period and format)."""

from __future__ import annotations

import dataclasses
import html
import io
import re
import uuid
import zipfile
from datetime import date

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.console import Role, build_console
from gateway.console.i18n import LOCAL_TIME
from gateway.console.reports import (
    MAX_DAYS,
    MSG_DATE_FORMAT,
    MSG_DATE_MISSING,
    MSG_DATE_ORDER,
    MSG_FORMAT,
    MSG_TOO_LONG,
    presets,
    read_period,
)
from gateway.report.aggregate import RELATIONS
from gateway.store import AuditRow
from tests.console.cases_support import NAMES, handover_from_ratanakiri, receive
from tests.console.conftest import ConsoleHarness, csrf_token_in
from tests.console.test_compose import post_form

ACTION = "console.report_generated"
H1 = ("2026-01-01", "2026-06-30")
TABLES = (
    "messages_by_peer_kind_month",
    "victims_by_sex_age",
    "hotline_by_category_urgency",
    "acknowledgement_times",
    "delivery_latency",
    "cancellations",
    "content_not_readable",
)

# (from, to) -> the field that is wrong and why.
BAD_PERIODS = [
    (("", "2026-06-30"), "from", MSG_DATE_MISSING),
    (("2026-01-01", ""), "to", MSG_DATE_MISSING),
    (("20260101", "2026-06-30"), "from", MSG_DATE_FORMAT),
    (("2026-W01-1", "2026-06-30"), "from", MSG_DATE_FORMAT),
    (("2026-01-01", "2026-02-30"), "to", MSG_DATE_FORMAT),
    (("01/01/2026", "2026-06-30"), "from", MSG_DATE_FORMAT),
    (("2026-01-01" + "9" * 5000, "2026-06-30"), "from", MSG_DATE_FORMAT),
    (("2026-07-01", "2026-06-30"), "to", MSG_DATE_ORDER),
    (("2025-01-01", "2026-01-02"), "to", MSG_TOO_LONG),
]


def this_half(console: ConsoleHarness) -> dict[str, str]:
    """The half-year (local days) that holds the console's clock."""
    today = console.clock().astimezone(LOCAL_TIME).date()
    if today.month <= 6:
        return {"from": f"{today.year}-01-01", "to": f"{today.year}-06-30"}
    return {"from": f"{today.year}-07-01", "to": f"{today.year}-12-31"}


async def _reports_audited(console: ConsoleHarness) -> list[AuditRow]:
    return [row for row in await console.store.list_audit(1000) if row.action == ACTION]


def _field_error(page: str, field: str) -> str | None:
    found = re.search(rf'<p class="field-error" data-field="{field}"[^>]*>([^<]*)</p>', page)
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.OFFICER, False),
        (Role.SUPERVISOR, True),
        (Role.OPERATOR, False),
        (Role.ADMIN, True),
    ],
)
async def test_supervisors_and_admins_see_reports(
    console: ConsoleHarness, role: Role, allowed: bool
) -> None:
    await console.sign_in(role)
    page = await console.client.get("/console/reports")
    assert page.status == (200 if allowed else 403)
    menu = await (await console.client.get("/console/cases")).text()
    assert ('href="/console/reports"' in menu) == allowed


@pytest.mark.parametrize(("period", "field", "reason"), BAD_PERIODS)
@pytest.mark.parametrize("how", ["page", "download"])
async def test_a_bad_period_is_named_beside_its_field(
    console: ConsoleHarness, period: tuple[str, str], field: str, reason: str, how: str
) -> None:
    await console.sign_in(Role.SUPERVISOR)
    if how == "page":
        answer = await console.client.get(
            "/console/reports", params={"from": period[0], "to": period[1]}
        )
    else:
        answer = await post_form(
            console,
            "/console/reports/download",
            [("from", period[0]), ("to", period[1]), ("format", "csv")],
            form_path="/console/reports",
        )
    page = await answer.text()
    assert answer.status == 400
    assert answer.content_type == "text/html"
    assert _field_error(page, field) == reason
    assert 'aria-invalid="true"' in page
    assert 'class="report"' not in page
    assert await _reports_audited(console) == []


async def test_the_report_is_shown_with_its_charts_and_audited(console: ConsoleHarness) -> None:
    """One handover received (two victims, named in both scripts): small counts, shown "<3"
    in the tables and as markers in the charts, and no name anywhere on the page."""
    await receive(console, handover_from_ratanakiri(), uuid.uuid4())
    user = await console.sign_in(Role.SUPERVISOR)
    answer = await console.client.get("/console/reports", params=this_half(console))
    page = await answer.text()
    assert answer.status == 200
    assert 'data-suppressed="true"' in page
    assert not [name for pair in NAMES for name in pair if name in html.unescape(page)]
    assert answer.headers["Cache-Control"] == "no-store"
    shown = re.findall(r'<section class="report-section" data-table="([a-z_]+)"', page)
    assert tuple(shown) == TABLES
    assert "<svg" in page
    assert "<script" not in page.split("</header>", 1)[1]
    assert 'name="format" value="xlsx"' in page
    [audited] = await _reports_audited(console)
    assert audited.actor == user.actor
    assert audited.detail == {**this_half(console), "format": "page"}


async def test_the_khmer_page_reads_khmer(console: ConsoleHarness) -> None:
    await console.sign_in(Role.ADMIN, language="km")
    page = await (
        await console.client.get("/console/reports", params={"from": H1[0], "to": H1[1]})
    ).text()
    assert "ឆមាសទី១" in page  # the presets, in Khmer
    assert 'lang="km"' in page
    assert "ទាញយក XLSX" in page


@pytest.mark.parametrize(
    ("output", "content_type", "starts"),
    [
        ("csv", "text/csv", b"\xef\xbb\xbf"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        ("html", "text/html", b"<!doctype html>"),
    ],
)
async def test_a_download_is_an_audited_attachment(
    console: ConsoleHarness, output: str, content_type: str, starts: bytes
) -> None:
    user = await console.sign_in(Role.SUPERVISOR, language="vi")
    answer = await post_form(
        console,
        "/console/reports/download",
        [("from", H1[0]), ("to", H1[1]), ("format", output)],
        form_path="/console/reports",
    )
    body = await answer.read()
    assert answer.status == 200
    assert answer.content_type == content_type
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="report-{console.ctx.node_id}-{H1[0]}-{H1[1]}.{output}"'
    )
    assert answer.headers["Cache-Control"] == "no-store"
    assert body.startswith(starts)
    if output == "xlsx":
        assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
    [audited] = await _reports_audited(console)
    assert audited.actor == user.actor
    assert audited.detail == {"from": H1[0], "to": H1[1], "format": output}


@pytest.mark.parametrize("output", ["", "pdf", "../csv", "CSV"])
async def test_an_unknown_format_is_refused(console: ConsoleHarness, output: str) -> None:
    await console.sign_in(Role.ADMIN)
    answer = await post_form(
        console,
        "/console/reports/download",
        [("from", H1[0]), ("to", H1[1]), ("format", output)],
        form_path="/console/reports",
    )
    assert answer.status == 400
    assert _field_error(await answer.text(), "format") == MSG_FORMAT
    assert await _reports_audited(console) == []


async def test_a_download_without_the_forms_token_is_refused(console: ConsoleHarness) -> None:
    await console.sign_in(Role.SUPERVISOR)
    answer = await console.client.post(
        "/console/reports/download", data={"from": H1[0], "to": H1[1], "format": "csv"}
    )
    assert answer.status == 403
    assert 'data-reason="csrf_failed"' in await answer.text()
    assert await _reports_audited(console) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"from": "2026-01-01", "to": "2026-06-30"}, (date(2026, 1, 1), date(2026, 6, 30))),
        ({"from": " 2026-01-01 ", "to": "2026-01-01"}, (date(2026, 1, 1), date(2026, 1, 1))),
        # A leap year's whole year is MAX_DAYS days: allowed.
        ({"from": "2024-01-01", "to": "2024-12-31"}, (date(2024, 1, 1), date(2024, 12, 31))),
        ({"from": "2024-01-01", "to": "2025-01-01"}, {"to": MSG_TOO_LONG}),
        ({}, {"from": MSG_DATE_MISSING, "to": MSG_DATE_MISSING}),
    ],
)
def test_read_period(values: dict[str, str], expected: object) -> None:
    assert MAX_DAYS == 366
    assert read_period(values) == expected


def test_presets_cover_both_halves_and_the_year_of_this_year_and_the_last() -> None:
    found = [(p.year, p.period_from, p.period_to) for p in presets(date(2026, 12, 1))]
    assert found == [
        (2026, date(2026, 1, 1), date(2026, 6, 30)),
        (2026, date(2026, 7, 1), date(2026, 12, 31)),
        (2026, date(2026, 1, 1), date(2026, 12, 31)),
        (2025, date(2025, 1, 1), date(2025, 6, 30)),
        (2025, date(2025, 7, 1), date(2025, 12, 31)),
        (2025, date(2025, 1, 1), date(2025, 12, 31)),
    ]
    assert all(
        read_period({"from": f.isoformat(), "to": t.isoformat()}) == (f, t) for _, f, t in found
    )


def test_every_real_table_is_known_to_the_page() -> None:
    assert set(RELATIONS) <= set(TABLES)


async def test_a_node_without_reports_says_so(console: ConsoleHarness) -> None:
    """A console built without build_report (ConsoleContext's default) offers no form and
    answers a download with 404."""
    bare = web.Application()
    bare.add_subapp("/console/", build_console(dataclasses.replace(console.ctx, build_report=None)))
    client = TestClient(TestServer(bare))
    await client.start_server()
    try:
        name, password = await console.add_user(Role.SUPERVISOR)
        form = await client.get("/console/sign-in")
        token = csrf_token_in(await form.text())
        signed_in = await client.post(
            "/console/sign-in",
            data={"name": name, "password": password, "csrf_token": token},
            allow_redirects=False,
        )
        assert signed_in.status == 303
        page = await client.get("/console/reports", params={"from": H1[0], "to": H1[1]})
        text = await page.text()
        assert page.status == 200
        assert 'class="notice warning reports-unavailable"' in text
        assert 'class="report"' not in text
        token = csrf_token_in(text)
        download = await client.post(
            "/console/reports/download",
            data={"from": H1[0], "to": H1[1], "format": "csv", "csrf_token": token},
        )
        assert download.status == 404
    finally:
        await client.close()
    assert await _reports_audited(console) == []
