"""Console page: the half-yearly and yearly report (issue 13), for REPORT_READERS
(supervisors and admins; see gateway/console/context.py for why).

GET /console/reports offers presets (first half, second half and whole year of this year and
the last) and a from/to form. With ?from=YYYY-MM-DD&to=YYYY-MM-DD it shows the report
inline: each table with its SVG chart (gateway/report/charts.py) and its cells, hidden ones
reading their disclosure marker, as the downloaded files do (the same table_html). Dates
are the only input and name nobody, so they may sit in the URL.

POST /console/reports/download (CSRF checked by auth's middleware; fields from, to, format)
answers the report as a file of gateway.report.formats.FORMATS, Content-Disposition
attachment, Cache-Control no-store, in the page's language.

Bounds: a date is exactly YYYY-MM-DD (10 characters); a period is at most MAX_DAYS days;
at most CONCURRENT reports are made at once per console (the rest wait their turn), and
their rendering (SVG, XLSX, HTML) runs on a worker thread, as build_report's envelope
opening does. A bad period is answered 400 with the reason beside its field, and nothing
is built.

Every report made is audited `console.report_generated` with the user, the period and the
format ("page" for the inline view): no figure, no name.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from aiohttp import web
from markupsafe import Markup

from gateway.console import auth, rendering
from gateway.console.context import REPORT_READERS, ConsoleContext
from gateway.console.i18n import LOCAL_TIME, N_
from gateway.report.formats import FORMATS
from gateway.report.html_format import chart_of, notes, period_text, table_html
from gateway.report.model import Report
from gateway.report.text import ReportText
from gateway.store import AuditEntry

MAX_DAYS = 366
CONCURRENT = 2
PAGE_FORMAT = "page"
# Download buttons in this order, when the format is registered.
FORMAT_ORDER = ("csv", "xlsx", "html")
CONTENT_TYPES: Mapping[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

MSG_DATE_MISSING = N_("Enter a date.")
MSG_DATE_FORMAT = N_("Enter the date as year-month-day, for example 2026-06-30.")
MSG_DATE_ORDER = N_("The end date is before the start date.")
MSG_TOO_LONG = N_("A report covers at most 366 days.")
MSG_FORMAT = N_("Choose one of the download formats.")
MSG_FIRST_HALF = N_("First half of %(year)s")
MSG_SECOND_HALF = N_("Second half of %(year)s")
MSG_YEAR = N_("Year %(year)s")


@dataclass(frozen=True)
class Preset:
    message: str  # msgid with %(year)s
    year: int
    period_from: date
    period_to: date


@dataclass(frozen=True)
class ReportSection:
    """One table as the page shows it: its title, chart (SVG) and cells (HTML)."""

    key: str
    title: str
    chart: Markup
    table: Markup
    empty: bool


def presets(today: date) -> list[Preset]:
    """First half, second half and whole year of this year and the last."""
    found = []
    for year in (today.year, today.year - 1):
        found += [
            Preset(MSG_FIRST_HALF, year, date(year, 1, 1), date(year, 6, 30)),
            Preset(MSG_SECOND_HALF, year, date(year, 7, 1), date(year, 12, 31)),
            Preset(MSG_YEAR, year, date(year, 1, 1), date(year, 12, 31)),
        ]
    return found


def read_period(values: Mapping[str, str]) -> tuple[date, date] | dict[str, str]:
    """The period the form names, or the errors by field (msgids)."""
    errors: dict[str, str] = {}
    found: dict[str, date] = {}
    for field in ("from", "to"):
        raw = values.get(field, "").strip()
        if not raw:
            errors[field] = MSG_DATE_MISSING
            continue
        # Exactly YYYY-MM-DD: fromisoformat alone would take "20260630" or "2026-W26-1".
        if len(raw) != 10 or not _ISO_DATE.fullmatch(raw):
            errors[field] = MSG_DATE_FORMAT
            continue
        try:
            found[field] = date.fromisoformat(raw)
        except ValueError:
            errors[field] = MSG_DATE_FORMAT
    if errors:
        return errors
    period_from, period_to = found["from"], found["to"]
    if period_to < period_from:
        return {"to": MSG_DATE_ORDER}
    if (period_to - period_from).days + 1 > MAX_DAYS:
        return {"to": MSG_TOO_LONG}
    return period_from, period_to


def sections(report: Report, language: str) -> list[ReportSection]:
    """The report's tables as the page shows them (CPU work: called on a worker thread)."""
    text = ReportText.of(language)
    return [
        ReportSection(
            key=table.key,
            title=text.label(table.title),
            chart=Markup(chart_of(table, text)),  # noqa: S704 - built escaped by charts.py
            table=Markup(table_html(table, text)),  # noqa: S704 - built escaped
            empty=not table.rows,
        )
        for table in report.tables
    ]


def formats() -> list[str]:
    return [name for name in FORMAT_ORDER if name in FORMATS]


def _bounded(value: object) -> str:
    """A form or query value, cut at a length no valid value exceeds."""
    return str(value)[:32] if value is not None else ""


def routes(ctx: ConsoleContext) -> list[web.RouteDef]:
    making = asyncio.Semaphore(CONCURRENT)

    def page(
        request: web.Request,
        *,
        values: Mapping[str, str],
        errors: Mapping[str, str] | None = None,
        report: Report | None = None,
        shown: list[ReportSection] | None = None,
        status: int = 200,
    ) -> web.Response:
        language = rendering.page_language(request)
        text = ReportText.of(language)
        return rendering.render(
            request,
            "reports.html",
            {
                "presets": presets(ctx.clock().astimezone(LOCAL_TIME).date()),
                "values": values,
                "errors": errors or {},
                "report": report,
                "period": period_text(report, text) if report is not None else "",
                "notes": notes(text),
                "sections": shown or [],
                "formats": formats(),
                "available": ctx.build_report is not None,
            },
            status=status,
        )

    async def make(period: tuple[date, date]) -> Report:
        assert ctx.build_report is not None
        async with making:
            return await ctx.build_report(*period)

    async def audited(actor: str, period: tuple[date, date], output: str) -> None:
        """Recorded once the report is made and rendered: who, which period, which format."""
        start, end = (day.isoformat() for day in period)
        await ctx.store.audit(
            [
                AuditEntry(
                    actor,
                    "console.report_generated",
                    f"{start}/{end}",
                    {"from": start, "to": end, "format": output},
                )
            ]
        )

    async def reports_page(request: web.Request) -> web.Response:
        user = auth.require(request, *REPORT_READERS)
        values = {field: _bounded(request.query.get(field)) for field in ("from", "to")}
        if ctx.build_report is None or not any(values.values()):
            return page(request, values=values)
        period = read_period(values)
        if isinstance(period, dict):
            return page(request, values=values, errors=period, status=400)
        report = await make(period)
        shown = await asyncio.to_thread(sections, report, rendering.page_language(request))
        await audited(user.actor, period, PAGE_FORMAT)
        return page(request, values=values, report=report, shown=shown)

    async def download(request: web.Request) -> web.Response:
        user = auth.require(request, *REPORT_READERS)
        if ctx.build_report is None:
            raise web.HTTPNotFound()
        form = await request.post()
        values = {field: _bounded(form.get(field)) for field in ("from", "to")}
        output = _bounded(form.get("format"))
        period = read_period(values)
        if isinstance(period, dict):
            return page(request, values=values, errors=period, status=400)
        if output not in formats():
            return page(request, values=values, errors={"format": MSG_FORMAT}, status=400)
        report = await make(period)
        data = await asyncio.to_thread(FORMATS[output], report, rendering.page_language(request))
        await audited(user.actor, period, output)
        name = f"report-{ctx.node_id}-{period[0].isoformat()}-{period[1].isoformat()}.{output}"
        return web.Response(
            body=data,
            headers={
                "Content-Type": CONTENT_TYPES.get(output, "application/octet-stream"),
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    return [
        web.get("/reports", reports_page),
        web.post("/reports/download", download),
    ]


__all__ = ["MAX_DAYS", "Preset", "ReportSection", "presets", "read_period", "routes", "sections"]
