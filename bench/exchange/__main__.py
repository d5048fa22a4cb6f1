"""Command line of the bench: `.venv/bin/python -m bench.exchange --help`."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import bench.exchange
from bench.exchange import api_profile, profile
from bench.exchange.cluster import work_folder
from bench.exchange.report import report, results_json
from bench.exchange.run import FULL, PHASES, QUICK, Scale, Settings, run


def phase_list(text: str) -> list[str]:
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in PHASES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown phase {', '.join(unknown) or '(none)'}; phases: {', '.join(PHASES)}"
        )
    return [name for name in PHASES if name in chosen]  # always in the run's order


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.exchange",
        description=bench.exchange.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="scaled-down smoke run (~2 minutes)")
    p.add_argument(
        "--only",
        type=phase_list,
        metavar="PHASE[,PHASE]",
        help=f"run only these phases ({', '.join(PHASES)})",
    )
    p.add_argument("--messages", type=int, help="throughput: envelopes pre-queued (20,000)")
    p.add_argument("--submitters", type=int, help="submit: concurrent callers (64)")
    p.add_argument("--submit-seconds", type=float, help="submit: window (20)")
    p.add_argument("--clients", type=int, help="api: concurrent clients (16)")
    p.add_argument("--window", type=float, help="api: accepted window seconds (20)")
    p.add_argument("--rate", type=float, help="api: offered requests/s (1,000)")
    p.add_argument("--seconds", type=float, help="api: seconds offered (20)")
    p.add_argument("--backlog", type=int, help="backlog: envelopes (100,000)")
    p.add_argument("--large-backlog", type=int, help="backlog-1m: envelopes (1,000,000)")
    p.add_argument("--history", type=int, help="history: delivered rows (10,000,000)")
    p.add_argument("--batch-size", type=int, default=100, help="sender retry.batch_size")
    p.add_argument("--rate-limit", type=float, default=1000, help="per-peer requests/s")
    p.add_argument("--pool", type=int, default=20, help="bench's connection pool size")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    p.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it (logs)")
    p.add_argument(
        "--profile", choices=["exchange", "api"], help="run an in-process profiling replica instead"
    )
    p.add_argument(
        "--profile-messages", type=int, default=5000, help="--profile exchange: envelopes per pass"
    )
    p.add_argument(
        "--profile-seconds", type=float, default=10, help="--profile api: seconds per pass"
    )
    return p


def scale_of(args: argparse.Namespace) -> Scale:
    base = QUICK if args.quick else FULL
    return Scale(
        messages=args.messages or base.messages,
        submitters=args.submitters or base.submitters,
        submit_seconds=args.submit_seconds or base.submit_seconds,
        clients=args.clients or base.clients,
        warmup_seconds=base.warmup_seconds,
        window_seconds=args.window or base.window_seconds,
        rate=args.rate or base.rate,
        offer_seconds=args.seconds or base.offer_seconds,
        backlog=args.backlog or base.backlog,
        large_backlog=args.large_backlog or base.large_backlog,
        history=args.history or base.history,
        chunk=base.chunk,
        ceiling_seconds=base.ceiling_seconds,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    with work_folder(args.keep) as root:
        if args.profile == "exchange":
            asyncio.run(profile.profile_replica(args, root))
            return
        if args.profile == "api":
            asyncio.run(api_profile.profile_replica(args, root))
            return
        settings = Settings(args.batch_size, args.rate_limit, args.pool)
        results = asyncio.run(run(args.only or list(PHASES), scale_of(args), settings, root))
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results_json(results), indent=2) + "\n")
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
