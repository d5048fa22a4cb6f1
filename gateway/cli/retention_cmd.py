"""`gateway retention run`: one retention sweep now, or with --dry-run what it would delete.

The same sweep a running node makes every `retention.sweep_interval` (gateway.ops.retention):
the content of finished messages past their marking's period, and old files in outgoing
folders' done/. It prints counts per table and marking, never content; a real run is audited
like the node's own sweeps. Safe beside a running node: several sweeps on one database only
ever delete what is due once.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import add_config_argument, with_store
from gateway.components import keyring_from_config, report_facts_tally_for
from gateway.config import NodeConfig, format_duration
from gateway.federation.rollover import learn_recorded
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.retention import RetentionSweep
from gateway.store import PurgedContent, Store
from gateway.store.records import CONTENT_TABLES, MARKINGS


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    retention = commands.add_parser(
        "retention", help="delete message content past its retention period"
    )
    actions = retention.add_subparsers(dest="retention_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="run one retention sweep now",
        description="Delete the content of finished messages whose period for their handling "
        "marking has passed (retention.content), and old done/ files (retention.done_files). "
        "Rows, receipts and audit entries stay.",
    )
    add_config_argument(run)
    run.add_argument(
        "--dry-run", action="store_true", help="say what would be deleted, deleting nothing"
    )
    run.set_defaults(handler=with_store(_run))


async def _run(args: argparse.Namespace, config: NodeConfig, store: Store) -> int:
    # The report's facts are recorded before content goes, as the node's own sweep does.
    keyring = keyring_from_config(config)
    await learn_recorded(keyring, store)
    sweep = RetentionSweep(
        store=store,
        outgoing_folders=[
            client.outgoing_folder.path
            for client in config.local_clients
            if client.outgoing_folder is not None
        ],
        retention=config.retention,
        clock=lambda: datetime.now(UTC),
        metrics=GatewayMetrics(),
        before_purge=report_facts_tally_for(store, keyring).tally,
    )
    result = await sweep.sweep(dry_run=args.dry_run)
    print(_report(result, config, dry_run=args.dry_run), end="")
    return 0


def _report(result: PurgedContent, config: NodeConfig, *, dry_run: bool) -> str:
    verb = "would delete" if dry_run else "deleted"
    periods = config.retention.content
    lines = [
        f"retention {'dry run: nothing deleted' if dry_run else 'run'}",
        f"message content {verb}, by table and handling marking:",
        f"{'TABLE':<8}{'MARKING':<18}{'KEPT FOR':<10}ENVELOPES",
    ]
    for table in CONTENT_TABLES:
        for marking in MARKINGS:
            if table == "drafts" and marking != "victim_protected":
                continue  # drafts are victim handovers: one period
            period = getattr(periods, marking)
            count = result.envelopes.get((table, marking), 0)
            lines.append(f"{table:<8}{marking:<18}{format_duration(period):<10}{count}")
    lines.append(f"done/ files {verb}: {result.done_files}")
    lines.append(f"total: {result.count()} envelopes, {result.done_files} files")
    return "\n".join(lines) + "\n"
