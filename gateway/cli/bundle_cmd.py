"""`gateway bundle export|import`: offline bundles when the link to a peer is down
(docs/PROTOCOL.md section 15; the service is gateway.federation.bundles.OfflineCourier).

Both work beside a running `gateway run` on the same database: they take no lock the node
holds, the envelopes they store are delivered by the node's own delivery workers (woken
by the store's notification), and rows they finish are past the node's sender. Progress
goes to stderr, one summary line to stdout; a refused bundle exits 2 with
`error: <code>: <message>` on stderr. Files are written 0600, through a temporary file and
a rename, so a half-written bundle never lies under the final name.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from gateway.cli.common import add_config_argument, fail, with_store
from gateway.components import (
    envelope_receiver_for,
    keyring_from_config,
    offline_courier_for,
    utc_now,
)
from gateway.config import NodeConfig
from gateway.crypto.bundle import BundleReason, BundleRefused
from gateway.federation.bundles import OfflineCourier
from gateway.federation.rollover import learn_recorded
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.private_files import UnsafePath, refuse_unless_regular_or_absent, replace_private
from gateway.store import Store

REFUSED = 2
RECEIPTS_SUFFIX = ".receipts"


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    bundle = commands.add_parser(
        "bundle",
        help="offline bundles: carry envelopes and receipts when the link to a peer is down",
    )
    actions = bundle.add_subparsers(dest="bundle_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write a peer's pending messages into a bundle file",
        description="Write the messages queued for PEER (not expired, not already in a bundle "
        "waiting for its receipts), with their attachments, into FILE, sealed to PEER. They "
        "stay queued: whichever of the bundle and the link delivers first counts, once.",
    )
    add_config_argument(export)
    export.add_argument("--to", required=True, metavar="PEER", help="the peer's node id")
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="bundle file")
    export.add_argument(
        "--include-exported",
        action="store_true",
        help="also messages already in a bundle not receipted yet (a bundle was lost)",
    )
    export.set_defaults(handler=with_store(_export))
    imported = actions.add_parser(
        "import",
        help="import a bundle of envelopes (writes the receipts bundle) or of receipts",
        description="Import FILE, a bundle from a peer. Envelopes are checked and stored "
        "as if they came over the link, and their receipts are written, sealed back to the "
        "peer, to FILE.receipts (or --receipts-out). Receipts mark the messages delivered.",
    )
    add_config_argument(imported)
    imported.add_argument("file", type=Path, metavar="FILE", help="bundle file")
    imported.add_argument(
        "--receipts-out", type=Path, metavar="FILE2", help="receipts bundle (FILE.receipts)"
    )
    imported.set_defaults(handler=with_store(_import))


def _refused(refused: BundleRefused) -> int:
    print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
    return REFUSED


async def _courier(config: NodeConfig, store: Store) -> OfflineCourier:
    # The service's log events are for a running node's log; here the command's own lines
    # say it all (without a handler, Python would print the bare event names on stderr).
    logging.getLogger("gateway").addHandler(logging.NullHandler())
    # The node's keys as rollover left them: announced peer keys, own keys withheld.
    keyring = keyring_from_config(config)
    await learn_recorded(keyring, store)
    metrics = GatewayMetrics()

    async def refresh_keys() -> None:
        await learn_recorded(keyring, store)

    receiver = envelope_receiver_for(
        config, store, keyring, utc_now, metrics, refresh_keys=refresh_keys
    )
    return offline_courier_for(config, store, keyring, utc_now, metrics, receiver=receiver)


async def _export(args: argparse.Namespace, config: NodeConfig, store: Store) -> int:
    out: Path = args.out
    # Refused before anything is recorded as travelling.
    if not out.parent.is_dir():
        return fail("bundle export", f"no folder {out.parent}")
    try:
        refuse_unless_regular_or_absent(out)
    except UnsafePath as unsafe:
        return fail("bundle export", str(unsafe))
    courier = await _courier(config, store)
    print(f"collecting the messages pending for {args.to}...", file=sys.stderr)
    try:
        exported = await courier.export(args.to, include_exported=args.include_exported)
    except BundleRefused as refused:
        return _refused(refused)
    if exported.message_count == 0:
        print(f"nothing to export for {args.to}: no file written", file=sys.stderr)
        print(f"exported 0 messages for {args.to}")
        return 0
    print(f"sealed {exported.message_count} messages; writing {out}...", file=sys.stderr)
    try:
        replace_private(out, exported.data)
    except (OSError, UnsafePath) as error:
        return fail(
            "bundle export",
            f"cannot write {out}: {error}; bundle {exported.bundle_id} is recorded as "
            "travelling: export again with --include-exported",
        )
    print(
        f"exported {exported.message_count} messages for {args.to} "
        f"in bundle {exported.bundle_id} to {out}"
    )
    return 0


async def _import(args: argparse.Namespace, config: NodeConfig, store: Store) -> int:
    path: Path = args.file
    limit = config.limits.max_bundle_bytes
    try:
        # The size first: a file past the limit is never read.
        size = path.stat().st_size
        if size > limit:
            return _refused(
                BundleRefused(
                    BundleReason.TOO_LARGE,
                    f"the file is {size} bytes; limits.max_bundle_bytes is {limit}",
                )
            )
        data = path.read_bytes()
    except OSError as error:
        return fail("bundle import", f"cannot read {path}: {error.strerror}")
    receipts_out: Path = args.receipts_out or path.with_name(path.name + RECEIPTS_SUFFIX)
    courier = await _courier(config, store)
    print(f"checking {path} ({size} bytes)...", file=sys.stderr)
    try:
        outcome = await courier.import_bundle(data)
    except BundleRefused as refused:
        return _refused(refused)
    refusals = ", ".join(f"{code} {count}" for code, count in sorted(outcome.refused.items()))
    if outcome.receipts_bundle is not None:
        try:
            replace_private(receipts_out, outcome.receipts_bundle)
        except (OSError, UnsafePath) as error:
            return fail(
                "bundle import",
                f"cannot write {receipts_out}: {error}; import the bundle again to answer "
                "(its envelopes are stored; they will be answered as replays)",
            )
        print(
            f"imported envelopes bundle {outcome.bundle_id} from {outcome.sender}: "
            f"{outcome.accepted} accepted, {outcome.duplicates} duplicates, "
            f"refused {refusals or 'none'}; receipts in {receipts_out}"
        )
    else:
        print(
            f"imported receipts bundle {outcome.bundle_id} from {outcome.sender}: "
            f"{outcome.receipted} messages finished, {outcome.accepted} receipts verified, "
            f"{outcome.duplicates} for messages finished before, refused {refusals or 'none'}"
        )
    return 0
