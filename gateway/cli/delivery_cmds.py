"""`gateway deliveries`: incoming messages for local systems, held ones put back.

The feeds at a glance are `gateway status` (gateway/cli/status_cmd.py). `deliveries list` shows
local deliveries and `deliveries requeue` puts held ones back in their place in the queue
once the cause is fixed (the client's format changed, a key restored); each requeue is
audited. Like every operator command: states, counts, ids, reason codes, never content.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import add_config_argument, fail, with_store
from gateway.config import NodeConfig
from gateway.store import Store


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    deliveries = commands.add_parser("deliveries", help="local deliveries: list, requeue held ones")
    actions = deliveries.add_subparsers(dest="deliveries_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="recent local deliveries, newest first")
    add_config_argument(listing)
    listing.add_argument("--client")
    listing.add_argument(
        "--state", choices=["pending", "delivering", "delivered", "held", "withdrawn"]
    )
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=with_store(_list))
    requeue = actions.add_parser(
        "requeue",
        help="deliver held messages again, in their place in the queue",
        description="Requeue held deliveries by id (see `deliveries list --state held`), or "
        "every held one (of --client, if given) with --all-held.",
    )
    add_config_argument(requeue)
    requeue.add_argument("--client")
    which = requeue.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID")
    which.add_argument("--all-held", action="store_true")
    requeue.set_defaults(handler=with_store(_requeue))


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _list(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    rows = await store.list_local_deliveries(client=args.client, state=args.state, limit=args.limit)
    print("ID\tCLIENT\tFROM\tMESSAGE ID\tKIND\tSTATE\tATTEMPTS\tCREATED\tREASON")
    for row in rows:
        print(
            f"{row.id}\t{row.client}\t{row.sender}\t{row.message_id}\t{row.kind}\t{row.state}\t"
            f"{row.attempts}\t{_when(row.created_at)}\t"
            f"{row.held_reason or row.last_error or '-'}"
        )
    return 0


async def _requeue(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    if not args.all_held and not args.ids:
        return fail("deliveries requeue", "expected delivery ids or --all-held")
    requeued = await store.requeue_held(
        "cli", client=args.client, ids=None if args.all_held else args.ids
    )
    for item in requeued:
        print(f"{item.id}\t{item.client}\t{item.sender}\t{item.message_id}\trequeued")
    missing = set() if args.all_held else set(args.ids) - {item.id for item in requeued}
    if missing:
        listed = ", ".join(str(i) for i in sorted(missing))
        return fail("deliveries requeue", f"not held (or not this client's): {listed}")
    print(f"{len(requeued)} held deliver{'y' if len(requeued) == 1 else 'ies'} requeued")
    return 0
