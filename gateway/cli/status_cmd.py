"""`gateway status`: the node's exchange at a glance, from its database.

Per peer: whether it is reachable, how many messages wait for it and since when, the last
success and the last error, and in how many days its keys end; per local system: the
delivery backlog, how often its head was tried, what is held aside; then every key, own and
peers'. The figures are gateway/ops/node_health.py's, the same the console's operator page
and /metrics show, so the terminal, the dashboard and the alerts agree.

It reads the database only (starting the embedded PostgreSQL when no DSN is set, or joining
the running one), so it works whether the node runs or not. `--format json` gives the same
figures to scripts. States, counts, ids, times and reason codes only, never content.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import add_config_argument, with_store
from gateway.config import NodeConfig
from gateway.ops.node_health import KEYS_WARNING_DAYS, SELF, NodeHealth, node_health
from gateway.store import Store

# A transport error's text can be long; the table keeps to one line per peer.
MAX_ERROR_CHARS = 80


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    status = commands.add_parser(
        "status",
        help="peers, local systems and keys at a glance (works with the node down)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_argument(status)
    status.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="a table for people (default) or JSON for scripts",
    )
    status.set_defaults(handler=with_store(_status))


async def _status(args: argparse.Namespace, config: NodeConfig, store: Store) -> int:
    health = await node_health(config, store, datetime.now(UTC))
    if args.format == "json":
        print(json.dumps(as_json(health), indent=2, ensure_ascii=False))
    else:
        print(as_table(health))
    return 0


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(health: NodeHealth) -> dict[str, Any]:
    return {
        "node": health.node,
        "at": _instant(health.at),
        "peers": [
            {
                "id": peer.id,
                "reachability": peer.reachability.value,
                "pending": peer.pending,
                "oldest_pending_at": _instant(peer.oldest_pending_at),
                "oldest_pending_seconds": round(peer.oldest_pending_seconds, 3),
                "consecutive_failures": peer.failures,
                "last_success_at": _instant(peer.last_success_at),
                "last_failure_at": _instant(peer.last_failure_at),
                "last_error": peer.last_error,
                "key_expiry_days": peer.keys_days_left,
            }
            for peer in health.peers
        ],
        "local_systems": [
            {
                "id": local.id,
                "backlog": local.backlog,
                "oldest_pending_at": _instant(local.oldest_pending_at),
                "oldest_pending_seconds": round(local.oldest_pending_seconds, 3),
                "head_attempts": local.head_attempts,
                "held": local.held,
            }
            for local in health.local_systems
        ],
        "own_key_expiry_days": health.own_keys_days_left,
        "keys": [
            {
                "owner": key.owner,
                "id": key.key_id,
                "valid_until": _instant(key.valid_until),
                "days_left": key.days_left,
            }
            for key in health.keys
        ],
    }


def _age(seconds: float, since: datetime | None) -> str:
    if since is None:
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    clock = f"{rest // 3600}h{rest % 3600 // 60:02d}m{rest % 60:02d}s"
    return f"{days}d{clock}" if days else clock


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _cut(text: str | None) -> str:
    if not text:
        return "-"
    line = " ".join(text.split())
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; the last one is left ragged."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in [header, *rows]
    ]


def as_table(health: NodeHealth) -> str:
    lines = [f"node {health.node}, {_instant(health.at)}", ""]
    lines += _table(
        [
            "PEER",
            "REACHABLE",
            "QUEUED",
            "OLDEST UNDELIVERED",
            "FAILURES",
            "LAST SUCCESS",
            "KEY DAYS",
            "LAST ERROR",
        ],
        [
            [
                peer.id,
                peer.reachability.value,
                str(peer.pending),
                _age(peer.oldest_pending_seconds, peer.oldest_pending_at),
                str(peer.failures),
                _cell(_instant(peer.last_success_at)),
                _cell(peer.keys_days_left),
                _cut(peer.last_error),
            ]
            for peer in health.peers
        ],
    )
    lines.append("")
    if health.local_systems:
        lines += _table(
            ["LOCAL SYSTEM", "BACKLOG", "OLDEST PENDING", "HEAD ATTEMPTS", "HELD"],
            [
                [
                    local.id,
                    str(local.backlog),
                    _age(local.oldest_pending_seconds, local.oldest_pending_at),
                    str(local.head_attempts),
                    str(local.held),
                ]
                for local in health.local_systems
            ],
        )
    else:
        lines.append("no local system has incoming messages delivered to it")
    lines.append("")
    lines += _table(
        ["KEY OWNER", "KEY", "VALID UNTIL", "DAYS LEFT"],
        [
            [key.owner, key.key_id, _cell(_instant(key.valid_until)), str(key.days_left)]
            for key in health.keys
        ],
    )
    ending = [(SELF, health.own_keys_days_left)] + [
        (peer.id, peer.keys_days_left) for peer in health.peers
    ]
    for owner, days in ending:
        if days is not None and days < KEYS_WARNING_DAYS:
            whose = "this node's keys" if owner == SELF else f"the keys of {owner}"
            lines.append(f"WARNING: {whose} end in {days} days (no key valid longer)")
    return "\n".join(lines)
