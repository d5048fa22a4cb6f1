"""Running a node and the operator commands that work on its database.

`run` runs the node; `send` queues a canonical message (protobuf JSON mapping) as if a local
system had submitted it; `outbox`, `inbox` and `audit` read the node's database (`audit
verify` also checks the chain against the checkpoints peers countersigned). The
operator commands show states, attempts, errors and times, never message content: an
operator's terminal is not a place for victims' data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from gateway.app import run_until_signalled
from gateway.cli.common import add_config_argument, fail, with_config
from gateway.cli.common import with_store as _with_store
from gateway.components import dispatcher_for, keyring_from_config, utc_now
from gateway.config import NodeConfig
from gateway.federation.checkpoint_statement import ask_peer
from gateway.federation.checkpoint_verify import verify_checkpoints
from gateway.federation.checkpoints import Countersignature
from gateway.federation.outgoing import SubmissionRefused
from gateway.federation.rollover import learn_recorded
from gateway.ops import logs
from gateway.ops.logs import LogFormat
from gateway.store import OutboxStateError, Store
from gateway.wire import canonical


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    run = commands.add_parser(
        "run", help="run one gateway node", description="Run one node until SIGINT or SIGTERM."
    )
    add_config_argument(run)
    run.add_argument(
        "--log-format",
        choices=["json", "text"],
        help="json (one object per line) or text; default: the config's logging.format",
    )
    run.set_defaults(handler=with_config(_run))

    db = commands.add_parser("db", help="database maintenance")
    db_actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    migrate = db_actions.add_parser("migrate", help="apply pending schema migrations")
    add_config_argument(migrate)
    migrate.set_defaults(handler=_with_store(_migrate))

    send = commands.add_parser(
        "send",
        help="queue a canonical message for peers",
        description="Queue FILE, a blg.v1.Message in the protobuf JSON mapping, for each --to "
        "peer. Prints one message id per recipient.",
    )
    add_config_argument(send)
    send.add_argument(
        "--to", action="append", required=True, metavar="PEER", help="a peer id; repeat for several"
    )
    send.add_argument("file", type=Path, metavar="FILE", help="the message as JSON")
    send.set_defaults(handler=_with_store(_send))

    outbox = commands.add_parser("outbox", help="inspect and requeue outgoing messages")
    outbox_actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    listing = outbox_actions.add_parser("list", help="recent outgoing messages")
    add_config_argument(listing)
    listing.add_argument(
        "--state", choices=["queued", "sending", "delivered", "rejected", "expired", "dead"]
    )
    listing.add_argument("--peer")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_with_store(_outbox_list))
    show = outbox_actions.add_parser("show", help="one outgoing message in detail")
    add_config_argument(show)
    show.add_argument("message_id", type=uuid.UUID)
    show.set_defaults(handler=_with_store(_outbox_show))
    requeue = outbox_actions.add_parser("requeue", help="send a rejected or dead message again")
    add_config_argument(requeue)
    requeue.add_argument("message_id", type=uuid.UUID)
    requeue.set_defaults(handler=_with_store(_outbox_requeue))

    inbox = commands.add_parser("inbox", help="inspect incoming messages")
    inbox_actions = inbox.add_subparsers(dest="inbox_command", required=True, metavar="ACTION")
    listing = inbox_actions.add_parser("list", help="recent incoming messages")
    add_config_argument(listing)
    listing.add_argument("--peer")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_with_store(_inbox_list))
    show = inbox_actions.add_parser("show", help="one incoming message in detail")
    add_config_argument(show)
    show.add_argument("message_id", type=uuid.UUID)
    show.set_defaults(handler=_with_store(_inbox_show))

    audit = commands.add_parser("audit", help="the audit log")
    audit_actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_actions.add_parser(
        "verify", help="check the hash chain; names the first broken entry"
    )
    add_config_argument(verify)
    verify.add_argument("--json", action="store_true", help="one JSON object on stdout")
    verify.add_argument(
        "--ask-peers",
        action="store_true",
        help="also ask each peer which checkpoint of ours it holds (over the federation link)",
    )
    verify.set_defaults(handler=_with_store(_audit_verify))
    checkpoints = audit_actions.add_parser(
        "checkpoints", help="the audit checkpoints sent to peers and who countersigned them"
    )
    add_config_argument(checkpoints)
    checkpoints.add_argument("--limit", type=int, default=50, help="the newest N (default 50)")
    checkpoints.set_defaults(handler=_with_store(_audit_checkpoints))


def _configure_logging(config: NodeConfig, log_format: LogFormat | None) -> str | None:
    """Set up the node's logs (gateway/ops/logs.py); the problem's text when it cannot."""
    settings = config.logging
    if settings.config_file is not None:
        if log_format is not None:
            return "--log-format cannot be used with logging.config_file: the file sets it"
        try:
            logs.configure(config.node.id, config_file=settings.config_file)
        except (ValueError, TypeError, AttributeError, ImportError) as error:
            # dictConfig's own messages name the handler or formatter that failed.
            return f"logging.config_file {settings.config_file}: {error}"
        return None
    logs.configure(config.node.id, level=settings.level, log_format=log_format or settings.format)
    return None


def _run(args: argparse.Namespace, config: NodeConfig) -> int:
    problem = _configure_logging(config, args.log_format)
    if problem is not None:
        return fail("run", problem)
    # Whatever the node or the libraries it runs create (the embedded PostgreSQL, files of
    # local targets) is for this user alone; the gateway's own files set their modes too.
    os.umask(0o077)
    try:
        asyncio.run(run_until_signalled(config))
    except OSError as error:
        # Typically a listen address in use or not ours; the config names both ports.
        return fail("run", f"cannot start node {config.node.id}: {error.strerror or error}")
    return 0


async def _migrate(_args: argparse.Namespace, _config: NodeConfig, _store: Store) -> int:
    print("database schema is current")  # open_database has applied what was pending
    return 0


async def _send(args: argparse.Namespace, config: NodeConfig, store: Store) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as error:
        return fail("send", f"cannot read {args.file}: {error.strerror}")
    message = canonical.Message()
    try:
        json_format.Parse(text, message)
    except json_format.ParseError as error:
        return fail("send", f"{args.file}: not a blg.v1.Message in the JSON mapping: {error}")
    try:
        # The node's keys as rollover left them: announced peer keys, own keys withheld.
        keyring = keyring_from_config(config)
        await learn_recorded(keyring, store)
        queued = await dispatcher_for(config, store, utc_now, keyring).submit(
            message, args.to, actor="cli"
        )
    except SubmissionRefused as refused:
        return fail("send", f"{refused.code}: {refused.field}: {refused.message}")
    for item in queued:
        print(f"{item.message_id}\t{item.recipient}\tcase {item.case_id}")
    return 0


def _when(value: object) -> str:
    return "-" if value is None else str(value)[:19]


def _state(state: str, bundle: uuid.UUID | None) -> str:
    """A pending row that travels in an offline bundle says so (docs/PROTOCOL.md 15.8)."""
    return state if bundle is None else f"{state}, travelling in bundle {bundle}"


async def _outbox_list(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    rows = await store.list_outbox(state=args.state, peer=args.peer, limit=args.limit)
    travelling = await store.bundles_travelling([row.message_id for row in rows])
    print("MESSAGE ID\tPEER\tKIND\tSTATE\tATTEMPTS\tQUEUED\tRECEIPT\tLAST ERROR")
    for row in rows:
        state = _state(row.state, travelling.get(row.message_id))
        print(
            f"{row.message_id}\t{row.recipient}\t{row.kind}\t{state}\t{row.attempts}\t"
            f"{_when(row.queued_at)}\t{_when(row.receipt_received_at)}\t{row.last_error or '-'}"
        )
    return 0


async def _outbox_show(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    found = await store.get_outbox(args.message_id)
    if found is None:
        return fail("outbox show", f"no outgoing message {args.message_id}")
    row, _envelope, receipt = found
    travelling = (await store.bundles_travelling([row.message_id])).get(row.message_id)
    shown = {
        "message_id": str(row.message_id),
        "recipient": row.recipient,
        "case_id": str(row.case_id),
        "kind": row.kind,
        "handling": row.handling,
        "sender_reference": row.sender_reference,
        "state": _state(row.state, travelling),
        "travelling_in_bundle": None if travelling is None else str(travelling),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "queued_at": _when(row.queued_at),
        "expires_at": _when(row.expires_at),
        "finished_at": _when(row.finished_at),
        "receipt_received_at": _when(row.receipt_received_at),
        "receipt_bytes": len(receipt) if receipt else 0,
    }
    json.dump(shown, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


async def _outbox_requeue(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    try:
        peer = await store.requeue(args.message_id, "cli")
    except OutboxStateError as error:
        return fail("outbox requeue", str(error))
    print(f"{args.message_id} queued again for {peer}")
    return 0


async def _inbox_list(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    rows = await store.list_inbox(sender=args.peer, limit=args.limit)
    print("MESSAGE ID\tFROM\tKIND\tCASE\tCREATED\tRECEIVED")
    for row in rows:
        print(
            f"{row.message_id}\t{row.sender}\t{row.kind}\t{row.case_id}\t"
            f"{_when(row.created_at)}\t{_when(row.received_at)}"
        )
    return 0


async def _inbox_show(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    found = await store.get_inbox(args.message_id)
    if found is None:
        return fail("inbox show", f"no incoming message {args.message_id}")
    row, envelope_data = found
    shown = {
        "message_id": str(row.message_id),
        "from": row.sender,
        "case_id": str(row.case_id),
        "kind": row.kind,
        "created_at": _when(row.created_at),
        "received_at": _when(row.received_at),
        "envelope_bytes": 0 if envelope_data is None else len(envelope_data),
        "content": (
            "deleted under retention"
            if envelope_data is None
            else "kept sealed; delivered to local systems in their own format"
        ),
    }
    json.dump(shown, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


async def _audit_verify(args: argparse.Namespace, config: NodeConfig, store: Store) -> int:
    """The chain recomputed, then checked against every checkpoint a peer countersigned
    (gateway.federation.checkpoint_verify): a chain cut or rewritten so that it verifies on
    its own still fails here."""
    verdict = await store.verify_audit()
    keyring = keyring_from_config(config)
    await learn_recorded(keyring, store)
    asked: dict[str, Countersignature] = {}
    unanswered: list[str] = []
    if args.ask_peers:
        for peer in config.peers:
            answer = await ask_peer(keyring, peer, utc_now)
            if isinstance(answer, str):
                unanswered.append(f"{peer.id}: {answer}")
            else:
                asked[peer.id] = answer
    report = await verify_checkpoints(store, keyring, asked)
    intact = verdict.intact and not report.findings
    if args.json:
        shown = {
            "intact": intact,
            "entries": verdict.entries,
            "chain": None
            if verdict.intact
            else {"first_broken_seq": verdict.first_broken_seq, "problem": verdict.problem},
            "countersignatures": report.countersignatures,
            "entries_countersigned": report.entries_covered,
            "findings": [finding.as_json() for finding in report.findings],
            "peers_not_answering": unanswered,
        }
        json.dump(shown, sys.stdout, indent=2)
        print()
        return 0 if intact else 1
    if verdict.intact:
        print(f"audit chain intact: {verdict.entries} entries")
    else:
        print(
            f"audit chain broken at entry {verdict.first_broken_seq}: {verdict.problem} "
            f"({verdict.entries} entries before it verified)",
            file=sys.stderr,
        )
    for finding in report.findings:
        print(finding.text, file=sys.stderr)
    for problem in unanswered:  # no evidence either way: reported, not a failure
        print(f"not asked: {problem}", file=sys.stderr)
    if not report.findings:
        print(
            f"checkpoints: {report.countersignatures} countersignatures verified, "
            f"{report.entries_covered} entries match what peers countersigned"
        )
    return 0 if intact else 1


async def _audit_checkpoints(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    copies = []
    after = 0
    while page := await store.checkpoint_copies(after, 100):
        copies += page
        after = page[-1].seq
    newest = sorted({copy.seq for copy in copies})[-max(args.limit, 0) :] if args.limit else []
    print("SEQ\tFIRST\tTAKEN\tHEAD\tCOUNTERSIGNED BY")
    for seq in newest:
        mine = [copy for copy in copies if copy.seq == seq]
        signed = ", ".join(
            f"{copy.peer} {_when(copy.countersigned_at)}"
            if copy.countersigned_at is not None
            else f"{copy.peer} (waiting)"
            for copy in mine
            if copy.peer is not None
        )
        first = mine[0]
        print(
            f"{seq}\t{first.first_seq}\t{_when(first.at)}\t{first.head_hash.hex()[:16]}\t"
            f"{signed or '-'}"
        )
    return 0
