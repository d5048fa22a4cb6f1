"""`gateway report`: the half-yearly or yearly report of the exchange, as a file.

    gateway report --config FILE --from YYYY-MM-DD --to YYYY-MM-DD --format csv|xlsx|html
                   [--lang vi|km|en] [--out FILE]

The arguments are checked before the database is opened: a bad date, a period that ends
before it starts or is longer than 366 days, an unknown format or language exit 2 with
`gateway report: error: <field>: <what was expected>` on stderr. The period is local days
(UTC+7, both countries' time all year), both ends included. The report holds aggregates
only, disclosure-protected (gateway.report.disclosure). It is written to --out 0600 through
a temporary file and a rename (never half-written under its name), or to stdout. Progress
goes to stderr. The audit log records `report.generated` with the period, format and
language, never any figure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from gateway.cli.common import add_config_argument, load_or_report, on_store
from gateway.components import keyring_from_config
from gateway.config import NodeConfig
from gateway.console.i18n import LOCAL_TIME
from gateway.federation.rollover import learn_recorded
from gateway.ops.private_files import UnsafePath, refuse_unless_regular_or_absent, replace_private
from gateway.report.aggregate import StoreSource, build_report
from gateway.report.formats import FORMATS
from gateway.store import Store
from gateway.store.records import AuditEntry

BAD_ARGUMENTS = 2
MAX_DAYS = 366
LANGUAGES = ("vi", "km", "en")
KNOWN_FORMATS = ("csv", "xlsx", "html")


class ArgumentRefused(Exception):  # noqa: N818 - a verdict on the command line
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ReportRequest:
    period_from: date
    period_to: date
    format: str
    language: str
    out: Path | None


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    report = commands.add_parser(
        "report",
        help="write the report of a period: messages, victims, alerts, deadlines, delivery",
        description="Write the report of a period (local days, both included, at most 366): "
        "messages sent and received per peer, kind and month; victims handed over and "
        "received by sex, age group and minor status; hotline alerts by category and "
        "urgency; acknowledgements against their deadlines; delivery times; cancellations. "
        "Aggregates only: counts of 1 or 2 are shown '<3'.",
    )
    add_config_argument(report)
    report.add_argument("--from", dest="period_from", required=True, metavar="YYYY-MM-DD")
    report.add_argument("--to", dest="period_to", required=True, metavar="YYYY-MM-DD")
    report.add_argument("--format", required=True, metavar="|".join(KNOWN_FORMATS))
    report.add_argument("--lang", default="en", metavar="|".join(LANGUAGES))
    report.add_argument("--out", type=Path, metavar="FILE", help="the file (default: stdout)")
    report.set_defaults(handler=_handler)


def _date(field: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ArgumentRefused(field, "expected a date as YYYY-MM-DD") from None


def read_request(args: argparse.Namespace) -> ReportRequest:
    """The checked request; ArgumentRefused naming the first wrong field."""
    period_from = _date("--from", args.period_from)
    period_to = _date("--to", args.period_to)
    if period_to < period_from:
        raise ArgumentRefused("--to", "expected a day on or after --from")
    days = (period_to - period_from).days + 1
    if days > MAX_DAYS:
        raise ArgumentRefused("--to", f"the period is {days} days; at most {MAX_DAYS}")
    if args.format not in FORMATS:
        available = ", ".join(sorted(FORMATS))
        raise ArgumentRefused("--format", f"expected one of {available}")
    if args.lang not in LANGUAGES:
        raise ArgumentRefused("--lang", f"expected one of {', '.join(LANGUAGES)}")
    out: Path | None = args.out
    if out is not None:
        if not out.parent.is_dir():
            raise ArgumentRefused("--out", f"no folder {out.parent}")
        try:
            refuse_unless_regular_or_absent(out)
        except UnsafePath as unsafe:
            raise ArgumentRefused("--out", str(unsafe)) from None
    return ReportRequest(period_from, period_to, args.format, args.lang, out)


def _handler(args: argparse.Namespace) -> int:
    try:
        request = read_request(args)
    except ArgumentRefused as refused:
        print(f"gateway report: error: {refused}", file=sys.stderr)
        return BAD_ARGUMENTS
    config = load_or_report(args.config)
    if config is None:
        return 1
    return asyncio.run(on_store(config, lambda store: _report(request, config, store)))


def _progress(line: str) -> None:
    print(f"report: {line}", file=sys.stderr, flush=True)


async def _report(request: ReportRequest, config: NodeConfig, store: Store) -> int:
    # Unopenable envelopes are logged by the opener for a running node's log; here the
    # count in the report says it (without a handler, Python prints bare event names).
    logging.getLogger("gateway").addHandler(logging.NullHandler())
    keyring = keyring_from_config(config)
    await learn_recorded(keyring, store)
    _progress(f"{request.period_from} to {request.period_to}, {request.format}")
    report = await build_report(
        StoreSource(store, keyring),
        node=config.node.id,
        period_from=request.period_from,
        period_to=request.period_to,
        tz=LOCAL_TIME,
        progress=_progress,
    )
    data = await asyncio.get_running_loop().run_in_executor(
        None, FORMATS[request.format], report, request.language
    )
    if request.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        try:
            replace_private(request.out, data)
        except (OSError, UnsafePath) as error:
            print(f"gateway report: cannot write {request.out}: {error}", file=sys.stderr)
            return 1
        _progress(f"wrote {len(data)} bytes to {request.out}")
    await store.audit(
        [
            AuditEntry(
                "cli",
                "report.generated",
                config.node.id,
                {
                    "from": request.period_from.isoformat(),
                    "to": request.period_to.isoformat(),
                    "format": request.format,
                    "language": request.language,
                },
            )
        ]
    )
    return 0
