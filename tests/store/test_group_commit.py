"""Group commit: concurrent enqueues share transactions, yet each caller gets its own outcome.

The Coalescer's rules on its own (bounds, cancelled members, a runner's failure), then the
Store's enqueue and case lookups over a real PostgreSQL: many concurrent callers, a poisoned
member that fails alone and writes nothing, and an audit chain that still verifies.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.store import AuditEntry, OutgoingEnvelope, Store
from gateway.store.group_commit import Coalescer
from gateway.wire import uuid7

PEER = "kh-ratanakiri-police"


class Recorder:
    """A group runner that remembers its groups; member "bad" fails, "bug" breaks the run."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []

    async def run(self, group: Sequence[str]) -> list[str | Exception]:
        self.groups.append(list(group))
        if "bug" in group:
            raise RuntimeError("runner bug")
        await asyncio.sleep(0)
        return [ValueError(name) if name == "bad" else name.upper() for name in group]


async def _submit_all(
    coalescer: Coalescer[str, str], names: list[str]
) -> list[str | BaseException]:
    return await asyncio.gather(*(coalescer.submit(n) for n in names), return_exceptions=True)


@pytest.mark.parametrize(
    ("names", "max_count", "max_weight", "groups"),
    [
        # A lone request runs at once; the ones that arrive meanwhile form the next group.
        (["a", "b", "c", "d", "e"], 10, 0, [["a"], ["b", "c", "d", "e"]]),
        (["a", "b", "c", "d", "e"], 2, 0, [["a"], ["b", "c"], ["d", "e"]]),
        # Weight = length: a heavy member goes alone rather than never.
        (["a", "bbbbbb", "c", "dd", "e"], 10, 3, [["a"], ["bbbbbb"], ["c", "dd"], ["e"]]),
    ],
)
async def test_groups_are_bounded_by_count_and_weight(
    names: list[str], max_count: int, max_weight: int, groups: list[list[str]]
) -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.run, max_count=max_count, max_weight=max_weight, weight=len)
    first = asyncio.create_task(coalescer.submit(names[0]))
    await asyncio.sleep(0)  # the first group is in flight with its one member
    rest = await _submit_all(coalescer, names[1:])
    assert [await first, *rest] == [name.upper() for name in names]
    assert recorder.groups == groups


async def test_a_failing_member_fails_alone_and_a_runner_bug_fails_its_group_only() -> None:
    recorder = Recorder()
    coalescer: Coalescer[str, str] = Coalescer(recorder.run, max_count=3)
    outcomes = await _submit_all(coalescer, ["a", "bad", "c", "bug", "e", "f", "g"])
    assert recorder.groups == [["a", "bad", "c"], ["bug", "e", "f"], ["g"]]
    assert outcomes[0] == "A"
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[2] == "C"
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes[3:6])
    assert outcomes[6] == "G"


async def test_a_member_cancelled_before_its_group_runs_is_left_out() -> None:
    recorder = Recorder()
    coalescer: Coalescer[str, str] = Coalescer(recorder.run, max_count=10)
    first = asyncio.create_task(coalescer.submit("a"))
    await asyncio.sleep(0)
    gone = asyncio.create_task(coalescer.submit("gone"))
    kept = asyncio.create_task(coalescer.submit("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    assert (await first, await kept) == ("A", "KEPT")
    assert gone.cancelled()
    assert recorder.groups == [["a"], ["kept"]]
    await coalescer.idle()


def _envelope(message_id: uuid.UUID | None = None, reference: str = "") -> OutgoingEnvelope:
    data = f"envelope {uuid.uuid4()}".encode()
    return OutgoingEnvelope(
        message_id=message_id or uuid7(),
        recipient=PEER,
        case_id=uuid.uuid4(),
        kind="hotline_alert",
        handling="restricted",
        envelope=data,
        envelope_sha256=hashlib.sha256(data).digest(),
        expires_at=datetime.now(UTC) + timedelta(days=1),
        sender_reference=reference,
    )


def _queued(item: OutgoingEnvelope) -> AuditEntry:
    return AuditEntry("test", "outbox.queued", str(item.message_id), {"peer": item.recipient})


async def _audited_subjects(store: Store) -> list[str]:
    return [row.subject for row in await store.list_audit(limit=10_000)]


async def test_concurrent_enqueues_all_commit_in_order_and_the_chain_verifies(
    store: Store,
) -> None:
    callers = [[_envelope(reference=f"GC-{n}-{i}") for i in range(n % 3 + 1)] for n in range(200)]
    await asyncio.gather(
        *(store.enqueue(items, [_queued(item) for item in items]) for items in callers)
    )
    rows = await store.list_outbox(limit=1000)
    expected = [item.message_id for items in callers for item in items]
    assert sorted(row.message_id for row in rows) == sorted(expected)
    # Queue order (oldest first in the audit) follows the callers' order.
    assert await _audited_subjects(store) == [str(message_id) for message_id in expected]
    verdict = await store.verify_audit()
    assert (verdict.entries, verdict.first_broken_seq) == (len(expected), None)
    found = await asyncio.gather(
        *(store.case_for_reference("hotline_alert", f"GC-{n}-0") for n in range(200)),
        store.case_for_reference("hotline_alert", "GC-none"),
    )
    assert found == [items[0].case_id for items in callers] + [None]


async def test_a_poisoned_member_fails_alone_and_writes_nothing(store: Store) -> None:
    taken = _envelope()
    await store.enqueue([taken], [_queued(taken)])
    # Member 5 reuses a queued message id (a unique violation in the group's statement),
    # beside a new envelope of its own that must not be written either.
    callers = [[_envelope()] for _ in range(10)]
    poisoned = [_envelope(), _envelope(taken.message_id)]
    callers[5] = poisoned
    outcomes = await asyncio.gather(
        *(store.enqueue(items, [_queued(item) for item in items]) for items in callers),
        return_exceptions=True,
    )
    assert [type(outcome) for outcome in outcomes] == [type(None)] * 5 + [
        asyncpg.UniqueViolationError
    ] + [type(None)] * 4
    queued = {row.message_id for row in await store.list_outbox(limit=100)}
    good = [items[0].message_id for n, items in enumerate(callers) if n != 5]
    assert queued == {taken.message_id, *good}
    subjects = await _audited_subjects(store)
    assert str(poisoned[0].message_id) not in subjects
    assert sorted(subjects) == sorted(str(message_id) for message_id in queued)
    verdict = await store.verify_audit()
    assert (verdict.entries, verdict.first_broken_seq) == (10, None)


async def test_appenders_in_separate_transactions_chain_after_each_other(store: Store) -> None:
    # Store.audit runs one transaction per call, beside the enqueue groups: each appender
    # must read the head only once it holds the chain's lock (audit_chain_head, migration
    # 0013), or two would take the same seq and one would fail on the primary key.
    items = [_envelope() for _ in range(30)]
    await asyncio.gather(
        *(store.audit([AuditEntry("test", "operator.action", str(n), {})]) for n in range(30)),
        *(store.enqueue([item], [_queued(item)]) for item in items),
    )
    verdict = await store.verify_audit()
    assert (verdict.entries, verdict.first_broken_seq) == (60, None)


async def test_the_runner_keeps_its_connection_for_arrivals_within_the_linger() -> None:
    recorder = Recorder()
    idled = 0

    async def on_idle() -> None:
        nonlocal idled
        idled += 1

    coalescer = Coalescer(recorder.run, max_count=10, on_idle=on_idle, linger=2.0)
    assert await coalescer.submit("a") == "A"
    assert await coalescer.submit("b") == "B"  # arrives while the drain lingers
    assert idled == 0
    await coalescer.idle()  # the linger ends with no arrival: the connection goes back once
    assert idled == 1
    assert recorder.groups == [["a"], ["b"]]
