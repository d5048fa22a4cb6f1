"""Chaos run: kill -9 the sender and the receiver, alternately, at random moments, while
messages flow; then check that nothing was lost, nothing duplicated, every receipt is valid
and both audit chains are intact.

Run by hand from the repository root, never by the test suite (the full run takes a while):

    .venv/bin/python -m bench.chaos --kills 100 --messages 20000
    .venv/bin/python -m bench.chaos --kills 20 --messages 2000 --seed 7

(`-m`, so that the fault matrix's helpers in tests/ are importable.)

Set-up: the fault matrix's exchange (tests/faults/cells.py): two real `gateway run`
processes over HTTPS, one embedded PostgreSQL in a temporary directory, the receiver writing
every message into a drop folder. All messages are queued (through the Dispatcher, as the
local API does) before the sender starts; the kill points are delivered counts drawn at
random between 1 and the total, so the kills are spread over the whole flow. At each point
one side is killed with SIGKILL, and started again after a random 0-0.3 s; sides alternate.
A kill counts as "mid-run" when fewer than all messages were delivered at that instant. The
whole run is bounded by --deadline.

The verdict comes from the databases and the drop folder, not from the processes' own
accounts: lost = queued ids missing from the receiver's inbox; duplicated = inbox rows,
`inbox.received` audit entries or drop files beyond one per message. Then the fault matrix's
full check runs (every outbox row delivered with a receipt that verifies, audit entries per
step, `gateway audit verify` on both nodes). The last line is the summary, e.g.

    chaos: 20 kills (10 of the sender, 10 of the receiver mid-run) over 2000 messages in ...
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import trustme

from gateway.federation.outgoing import Queued
from gateway.store import EmbeddedPostgres
from tests.faults.cells import RECEIVER, SENDER, Exchange
from tests.federation.harness import Federation, alert

QUEUE_CHUNK = 1000


@dataclass
class Tally:
    lost: int
    duplicated: int
    checks: str


async def _tally(exchange: Exchange, queued: list[Queued]) -> Tally:
    federation, count = exchange.federation, len(queued)
    expected = {q.message_id for q in queued}
    receiver = await federation.store(RECEIVER)
    try:
        inbox = await receiver.list_inbox(limit=count * 2)
        received = Counter(entry.action for entry in await receiver.list_audit(limit=count * 4))
    finally:
        await receiver.close()
    arrived = {row.message_id for row in inbox}
    files = [path for path in exchange.drop_folder.iterdir() if not path.name.startswith(".")]
    duplicated = max(
        len(inbox) - len(arrived), received["inbox.received"] - count, len(files) - count, 0
    )
    try:
        await exchange.assert_exactly_once(queued, timeout=60)
        checks = "receipts valid, audit chains intact"
    except AssertionError as failure:
        checks = f"CHECK FAILED: {str(failure).splitlines()[0][:300]}"
    return Tally(len(expected - arrived), duplicated, checks)


async def chaos(root: Path, *, kills: int, messages: int, seed: int, deadline: float) -> int:
    started = time.monotonic()
    rng = random.Random(seed)
    postgres = await asyncio.to_thread(EmbeddedPostgres, root / "postgres")
    (root / "nodes").mkdir()
    federation = Federation(root / "nodes", postgres, trustme.CA())
    try:
        exchange = await Exchange.create(federation)
        await exchange.start(RECEIVER)
        queued: list[Queued] = []
        while len(queued) < messages:
            size = min(QUEUE_CHUNK, messages - len(queued))
            queued += await federation.send(
                SENDER, RECEIVER, [alert(f"CH-{len(queued) + i}") for i in range(size)]
            )
        print(f"  {len(queued)} queued in {time.monotonic() - started:.1f} s", flush=True)
        await exchange.start(SENDER)
        # Kill points spread at random over the run, as delivered counts.
        targets = sorted(rng.sample(range(1, messages), kills))
        mid_run: Counter[str] = Counter()
        for round_, target in enumerate(targets):
            while (delivered := await exchange.delivered()) < target:
                if time.monotonic() - started > deadline:
                    print(
                        f"deadline {deadline:.0f} s reached after {round_} kills", file=sys.stderr
                    )
                    return 2
                await asyncio.sleep(0.02)
            victim = SENDER if round_ % 2 == 0 else RECEIVER
            if delivered < messages:
                mid_run[victim] += 1
            federation.kill(victim)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            await exchange.start(victim)
            if (round_ + 1) % 10 == 0:
                print(f"  {round_ + 1} kills, {delivered} delivered at the last", flush=True)
        remaining = max(deadline - (time.monotonic() - started), 60.0)
        await federation.wait_delivered(SENDER, len(queued), timeout=remaining)
        tally = await _tally(exchange, queued)
    finally:
        federation.stop_all()
        await asyncio.to_thread(postgres.stop)
    elapsed = time.monotonic() - started
    print(
        f"chaos: {kills} kills ({mid_run[SENDER]} of the sender, {mid_run[RECEIVER]} of the"
        f" receiver mid-run) over {len(queued)} messages in {elapsed:.1f} s: {tally.lost} lost,"
        f" {tally.duplicated} duplicated, {tally.checks}"
    )
    failed = tally.lost or tally.duplicated or tally.checks.startswith("CHECK FAILED")
    # Kills that met no message in flight prove little; both sides must have had some.
    failed = failed or min(mid_run[SENDER], mid_run[RECEIVER]) == 0
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--deadline", type=float, default=3600.0, help="seconds before the run gives up"
    )
    args = parser.parse_args()
    if args.kills < 1 or args.messages < args.kills:
        parser.error("need at least one kill and one message per kill")
    with tempfile.TemporaryDirectory(prefix="blg-chaos-") as root:
        return asyncio.run(
            chaos(
                Path(root),
                kills=args.kills,
                messages=args.messages,
                seed=args.seed,
                deadline=args.deadline,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
