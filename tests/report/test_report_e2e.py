"""THE PROOF of issue 13 item 3 with real gateways: a half year of traffic of known
composition between vn-gialai-police and kh-stungtreng-police (the partner samples plus
generated handovers, hotline alerts, acknowledgements on time and late, cancellations), then
`gateway report --format csv` at the police node; every figure matches what the test counts
from what it sent (never by the report's SQL), every cell it knows to be 1 or 2 is hidden,
and no count of 1 or 2 is shown anywhere.

Then retention deletes the content (SQL, as the sweep would) and the report, in Khmer, counts
the same from the facts recorded, sealed, at the first run (gateway/report/tally.py).

Months: the nodes stamp messages when they queue or receive them, and no test clock exists,
so after the traffic has settled the test moves some messages into earlier months with SQL
(outbox queued_at and finished_at together, inbox received_at): only messages without an
acknowledgement deadline (a deadline and an acknowledgement never move; the trigger keeps
them). Late acknowledgements are real: hotline alerts of critical urgency must be
acknowledged within 2 s, and the test acknowledges three only once the sender shows them
overdue (it waits for that state, never for a time).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from adapters import adapter_for
from gateway.console.i18n import load_translations
from gateway.wire import canonical
from tests.federation.harness import Federation, alert, local_client, without_attachment_ids

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, STUNGTRENG = "vn-gialai-police", "kh-stungtreng-police"
PARTNERS = Path(__file__).resolve().parents[3] / "shared" / "partners"
LOCAL = timezone(timedelta(hours=7))
F, M, U = int(canonical.SEX_FEMALE), int(canonical.SEX_MALE), int(canonical.SEX_UNSPECIFIED)
NAMES = ("Nguyễn Thị Lan", "Rơ Châm H'Bia", "សុខ ស្រីនាង", "Siu Thị Mai", "ចាន់ ដារ៉ា")


def _decode(fmt: str, name: str) -> list[canonical.Message]:
    data = (PARTNERS / fmt / "samples" / name).read_bytes()
    return [without_attachment_ids(d.message) for d in adapter_for(fmt).decode(data).messages]


def _born(age: int, today: date) -> tuple[int, int, int]:
    """A birth date `age` years and about half a year before today: the age holds for
    150 days either way, so moving a message a couple of months changes no age group."""
    day = today - timedelta(days=round(age * 365.25) + 182)
    return day.year, day.month, day.day


def _handover(
    template: canonical.Message,
    case: str,
    action: int,
    victims: list[tuple[int, tuple[int, int, int], bool]],
) -> canonical.Message:
    message = canonical.Message()
    message.CopyFrom(template)
    message.case_id = case
    message.sender_reference = f"BG-{uuid.uuid4().hex[:8]}"
    message.action = action  # type: ignore[assignment]
    person = template.victim_handover.victims[0]
    del message.victim_handover.victims[:]
    for index, (sex, (year, month, day), minor) in enumerate(victims):
        added = message.victim_handover.victims.add()
        added.CopyFrom(person)
        added.person.name = NAMES[index % len(NAMES)]
        added.person.sex = sex  # type: ignore[assignment]
        added.person.birth_date.CopyFrom(canonical.Date(year=year, month=month, day=day))
        added.minor = minor
    return message


def _alert(
    category: int, urgency: int, case: str = "", action: int = canonical.ACTION_ISSUE
) -> canonical.Message:
    message = alert(f"TB-{uuid.uuid4().hex[:8]}", case)
    message.hotline_alert.category = category  # type: ignore[assignment]
    message.hotline_alert.urgency = urgency  # type: ignore[assignment]
    message.action = action  # type: ignore[assignment]
    return message


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _youngest_age(birth: tuple[int, int, int], on: date) -> int:
    """The test's own reckoning of age (the report's is gateway.report.content)."""
    year, month, day = birth
    month = month or 12
    day = day or (31 if month == 12 else (date(year, month + 1, 1) - timedelta(days=1)).day)
    return on.year - year - ((on.month, on.day) < (month, day))


def _group(age: int | None) -> str:
    if age is None:
        return "unknown"
    for name, low in (("40+", 40), ("25-39", 25), ("18-24", 18), ("16-17", 16), ("12-15", 12)):
        if age >= low:
            return name
    return "0-11"


def _sections(data: bytes) -> dict[str, list[list[str]]]:
    """Title -> [header, rows...] of the CSV's sections."""
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    found: dict[str, list[list[str]]] = {}
    index = rows.index([]) + 1
    while index < len(rows) and len(rows[index]) == 1:  # a title; the legend has two cells
        end = rows.index([], index)
        found[rows[index][0]] = rows[index + 1 : end]
        index = end + 1
    return found


def _cells(section: list[list[str]], *labels: str) -> dict[str, str]:
    header = section[0]
    for row in section[1:]:
        if tuple(row[: len(labels)]) == labels:
            return dict(zip(header[len(labels) :], row[len(labels) :], strict=True))
    raise AssertionError(f"no row {labels} in {section}")


def _show(n: int, *, hidden_as: str = "<3") -> str:
    return hidden_as if n in (1, 2) else str(n)


async def _sql(dsn: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(statement, *args)
    finally:
        await connection.close()


async def _acknowledge(api: str, token: str, message_id: uuid.UUID) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{api}/api/v1/inbox/{message_id}/acknowledge",
            headers={"Authorization": f"Bearer {token}"},
            json={"by": "officer-0042"},
        ) as response,
    ):
        assert response.status == 202, await response.text()


def _victims_of(message: canonical.Message) -> list[tuple[int, tuple[int, int, int], bool]]:
    return [
        (
            v.person.sex,
            (v.person.birth_date.year, v.person.birth_date.month, v.person.birth_date.day),
            v.minor,
        )
        for v in message.victim_handover.victims
    ]


def _period(today: date) -> tuple[date, date]:
    """The half year ending with today's month."""
    month = today.month - 5
    year = today.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    after = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return date(year, month, 1), after - timedelta(days=1)


def _month(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m")


KIND = {
    "victim_handover": "Victim handover",
    "hotline_alert": "Hotline alert",
    "wanted_person_notice": "Wanted person notice",
}
SEX: dict[int, str] = {
    F: "Female",
    M: "Male",
    int(canonical.SEX_UNKNOWN): "Unknown",
    U: "Not recorded",
}
CATEGORY = {
    1: "Suspected trafficking",
    2: "Missing person",
    3: "Rescue",
    4: "Information",
    0: "Not recorded",
}
URGENCY = {1: "Critical", 2: "High", 3: "Normal urgency", 0: "Not recorded"}
GROUPS = ("0-11", "12-15", "16-17", "18-24", "25-39", "40+")


async def test_the_half_year_report_matches_what_was_sent(
    federation: Federation, tmp_path: Path
) -> None:
    token, client = local_client("police-records", ["kh-police-xml"])
    await federation.add(POLICE, STUNGTRENG)
    federation.sections[POLICE] = {
        "acknowledgements": [
            {"kind": "hotline_alert", "urgency": "critical", "within": "2s"},
            {"kind": "victim_handover", "action": "propose", "within": "1h"},
        ]
    }
    federation.sections[STUNGTRENG] = {"local_clients": [client]}
    for node in (POLICE, STUNGTRENG):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    now = datetime.now(LOCAL)
    today = now.date()
    ban, tin_bao, truy_na = (
        _decode("vn-police-json", "ban_giao.json")
        + _decode("vn-police-json", "tin_bao_111.json")
        + _decode("vn-police-json", "truy_na.json")
    )
    calls = _decode("hotline-111-csv", "calls.csv")
    kh_alert, kh_handover, kh_wanted = (
        _decode("kh-police-xml", "alert.xml")
        + _decode("kh-police-xml", "handover.xml")
        + _decode("kh-police-xml", "wanted.xml")
    )

    girls = [(F, _born(10, today), True), (F, _born(14, today), True), (F, _born(16, today), True)]
    h1 = _handover(ban, "", canonical.ACTION_PROPOSE, girls)
    h2 = _handover(ban, "", canonical.ACTION_PROPOSE, [(M, _born(30, today), False)] * 3)
    critical = [_alert(2, 1) for _ in range(3)]
    high = [_alert(2, 2) for _ in range(4)]
    sent = await federation.send(
        POLICE, STUNGTRENG, [ban, tin_bao, truy_na, *calls, h1, h2, *critical, *high]
    )
    ids = {
        id(m): q
        for m, q in zip(
            [ban, tin_bao, truy_na, *calls, h1, h2, *critical, *high], sent, strict=True
        )
    }
    cancel_ours = _alert(2, 2, str(ids[id(high[0])].case_id), canonical.ACTION_CANCEL)
    sent += await federation.send(POLICE, STUNGTRENG, [cancel_ours])

    h3 = _handover(
        kh_handover,
        "",
        canonical.ACTION_PROPOSE,
        [(F, _born(20, today), False)] * 4 + [(M, (0, 0, 0), False)],
    )
    accept = _handover(kh_handover, str(ids[id(h1)].case_id), canonical.ACTION_ACCEPT, girls)
    suspected = [_alert(1, 3) for _ in range(3)]
    theirs = await federation.send(
        STUNGTRENG, POLICE, [kh_alert, kh_handover, kh_wanted, accept, h3, *suspected]
    )
    their_ids = {
        id(m): q
        for m, q in zip(
            [kh_alert, kh_handover, kh_wanted, accept, h3, *suspected], theirs, strict=True
        )
    }
    their_cancel = _alert(1, 3, str(their_ids[id(suspected[0])].case_id), canonical.ACTION_CANCEL)
    theirs += await federation.send(STUNGTRENG, POLICE, [their_cancel])

    police = federation.nodes[POLICE].dsn
    kinds = ["victim_handover", "hotline_alert", "wanted_person_notice"]

    async def settled() -> bool:
        ours = await _sql(
            police,
            "SELECT count(*) FROM outbox WHERE kind = ANY($1) AND state = 'delivered'",
            kinds,
        )
        received = await _sql(police, "SELECT count(*) FROM inbox")
        return bool(ours[0][0] == len(sent) and received[0][0] == len(theirs))

    await _until(settled, "every message delivered both ways")

    # Acknowledgements: the handover proposals at once (on time), three critical alerts only
    # once the sender shows them overdue (late); the two critical samples never (missing).
    api = federation.api_url(STUNGTRENG)
    for message in (ban, h1, h2):
        await _acknowledge(api, token, ids[id(message)].message_id)
    late = {ids[id(m)].message_id for m in critical}
    store = await federation.store(POLICE)
    try:

        async def overdue() -> bool:
            shown = {s.message_id for s in await store.overdue_acknowledgements(datetime.now(UTC))}
            return late <= shown

        await _until(overdue, "the critical alerts to go overdue")
        for message_id in late:
            await _acknowledge(api, token, message_id)
        answered = late | {ids[id(m)].message_id for m in (ban, h1, h2)}

        async def acknowledged() -> bool:
            states = await store.acknowledgement_states(list(answered))
            return all(states[i].acknowledged_at is not None for i in answered)

        await _until(acknowledged, "the acknowledgements to cross back")
    finally:
        await store.close()

    # Spread over the half year: messages without deadlines move 35 and 65 days back.
    moved: dict[uuid.UUID, timedelta] = {}
    for message, days in ((high[0], 35), (high[1], 35), (high[2], 65), (high[3], 65)):
        moved[ids[id(message)].message_id] = timedelta(days=days)
    for message, days in ((h3, 65), *((m, 35) for m in suspected)):
        moved[their_ids[id(message)].message_id] = timedelta(days=days)
    for message_id, delta in moved.items():
        await _sql(
            police,
            "UPDATE outbox SET queued_at = queued_at - $2::interval,"
            " finished_at = finished_at - $2::interval"
            " WHERE message_id = $1",
            message_id,
            delta,
        )
        await _sql(
            police,
            "UPDATE inbox SET received_at = received_at - $2::interval WHERE message_id = $1",
            message_id,
            delta,
        )

    period_from, period_to = _period(today)
    out = tmp_path / "report.csv"
    config = str(federation.config_path(POLICE))
    run = subprocess.run(
        [
            GATEWAY,
            "report",
            "--config",
            config,
            "--from",
            str(period_from),
            "--to",
            str(period_to),
            "--format",
            "csv",
            "--out",
            str(out),
        ],
        check=False,
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert b"report: opened" in run.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    data = out.read_bytes()
    sections = _sections(data)

    # Messages per peer, kind, month: counted from what was sent, with the moves applied.
    expected: Counter[tuple[str, str, str]] = Counter()
    ours_sent = [ban, tin_bao, truy_na, *calls, h1, h2, *critical, *high, cancel_ours]
    theirs_sent = [kh_alert, kh_handover, kh_wanted, accept, h3, *suspected, their_cancel]
    for direction, messages, queued in (
        ("Sent", ours_sent, sent),
        ("Received", theirs_sent, theirs),
    ):
        for message, item in zip(messages, queued, strict=True):
            moment = now - moved.get(item.message_id, timedelta())
            expected[(direction, message.WhichOneof("body") or "", _month(moment))] += 1
    table = sections["Messages sent and received by peer, kind and month"]
    keys = {(kind, month) for _, kind, month in expected}
    assert len(table) - 1 == len(keys)
    for kind, month in keys:
        assert _cells(table, STUNGTRENG, KIND[kind], month) == {
            "Sent": _show(expected[("Sent", kind, month)]),
            "Received": _show(expected[("Received", kind, month)]),
        }

    # Victims, once per case: the police opened ban_giao, H1 (accepted with the same girls)
    # and H2; Stung Treng opened its sample handover and H3 (65 days back).
    victims: Counter[tuple[str, str, str]] = Counter()
    minors: Counter[tuple[str, str]] = Counter()
    for side, message, day in (
        ("Handed over", ban, today),
        ("Handed over", h1, today),
        ("Handed over", h2, today),
        ("Received", kh_handover, today),
        ("Received", h3, (now - timedelta(days=65)).date()),
    ):
        for sex, birth, minor in _victims_of(message):
            age = _youngest_age(birth, day) if birth[0] else None
            victims[(side, SEX[sex], _group(age))] += 1
            minors[(side, SEX[sex])] += minor
    table = sections["Victims handed over and received by sex and age group"]
    for side in ("Handed over", "Received"):
        for sex_label in SEX.values():
            counts = [victims[(side, sex_label, g)] for g in (*GROUPS, "unknown")]
            hidden = [n in (1, 2) for n in counts]
            assert _cells(table, side, sex_label) == {
                **{g: _show(n) for g, n in zip((*GROUPS, "Age unknown"), counts, strict=True)},
                "Total": "x" if any(hidden) else str(sum(counts)),
                "Of whom minors": "x" if any(hidden[:3]) else _show(minors[(side, sex_label)]),
            }
    assert _cells(table, "Handed over", "Male")["25-39"] == "3"  # shown: three or more

    # Hotline alerts, once per case (a cancellation does not count): category x urgency.
    alerts: Counter[tuple[str, int, int]] = Counter()
    for side, message in [("Sent", m) for m in (tin_bao, *calls, *critical, *high)] + [
        ("Received", m) for m in (kh_alert, *suspected)
    ]:
        alerts[(side, message.hotline_alert.category, message.hotline_alert.urgency)] += 1
    table = sections["Hotline alerts by category and urgency"]
    for side in ("Sent", "Received"):
        for category, label in CATEGORY.items():
            counts = [alerts[(side, category, u)] for u in (1, 2, 3, 0)]
            cells = {URGENCY[u]: _show(n) for u, n in zip((1, 2, 3, 0), counts, strict=True)}
            cells["Total"] = "x" if any(n in (1, 2) for n in counts) else str(sum(counts))
            assert _cells(table, side, label) == cells

    table = sections["Acknowledgements against their deadlines"]
    handovers = _cells(table, STUNGTRENG, "Victim handover")
    assert [handovers[c] for c in ("On time", "Late", "Missing", "Not due yet", "Total")] == [
        "3",
        "0",
        "0",
        "0",
        "3",
    ]
    alerts_row = _cells(table, STUNGTRENG, "Hotline alert")
    assert [alerts_row[c] for c in ("On time", "Late", "Missing", "Not due yet", "Total")] == [
        "0",
        "3",
        "<3",
        "0",
        "x",
    ]
    assert float(alerts_row["Median time to acknowledge (seconds)"]) >= 2  # after the deadline
    table = sections["Delivery time from queued to delivered"]
    delivery = _cells(table, STUNGTRENG)
    assert (delivery["Delivered"], delivery["Not delivered"]) == (str(len(sent)), "0")
    assert float(delivery["Median delivery time (seconds)"]) >= 0
    table = sections["Cancellations by peer and kind"]
    assert _cells(table, STUNGTRENG, "Hotline alert") == {"Sent": "<3", "Received": "<3"}
    table = sections["Messages whose content could not be counted"]
    assert [row[1] for row in table[1:]] == ["0", "0"]

    # No count of 1 or 2 anywhere; no name; the audit says who made which report, no figure.
    for title, rows in sections.items():
        for column, name in enumerate(rows[0]):
            if "(seconds)" not in name:
                assert all(row[column] not in ("1", "2") for row in rows[1:]), (title, name)
    text = data.decode("utf-8-sig")
    assert not [name for name in NAMES if name in text]
    [audit] = await _sql(
        police, "SELECT actor, detail FROM audit_log WHERE action = 'report.generated'"
    )
    assert audit["actor"] == "cli"
    assert sorted(json.loads(audit["detail"])) == ["format", "from", "language", "to"]

    # Retention deletes the content (as it would after 14 days): the report, in Khmer now,
    # counts the same from the facts recorded at the first run.
    await _sql(police, "UPDATE outbox SET envelope = NULL WHERE envelope IS NOT NULL")
    await _sql(police, "UPDATE inbox SET envelope = NULL WHERE envelope IS NOT NULL")
    argv = [GATEWAY, "report", "--config", config, "--format", "csv", "--lang", "km"]
    argv += ["--from", str(period_from), "--to", str(period_to)]
    khmer = subprocess.run(argv, check=True, capture_output=True, timeout=120)
    again = _sections(khmer.stdout)
    assert "របាយការណ៍ការផ្លាស់ប្តូរព័ត៌មាន" in khmer.stdout.decode("utf-8-sig")
    assert [rows[1:] for rows in again.values()] == [
        [[_khmer(cell) for cell in row] for row in rows[1:]] for rows in sections.values()
    ]


def _khmer(cell: str) -> str:
    """A cell of the English report as the Khmer one writes it: labels translated."""
    return load_translations("km").gettext(cell) if cell else cell
