"""Delivering the outbox: one DestinationQueue per peer.

Each queue loops: become the only sender to its peer (a database lock, so several gateway
processes sharing one database never send to one peer at once and per-case order holds),
wait out the peer's backoff, expire what is past its expiry, then drain the queue in rounds
of pipelined batches: claim a batch, POST it, verify every receipt, record the outcome.
Peers are independent, so one peer down never slows another.

Pipelining. A strictly serial cycle (claim, POST, the peer verifies and stores, verify the
receipts, finish) leaves both gateways and the database idle most of the time, so up to
`RetryPolicy.in_flight` batches are posted at once, and each batch's outcome is recorded
(the finish transaction) while the next ones are on the wire. Per-case order at the peer
holds because a batch is only claimed from cases that have nothing in flight (the claim
skips every row of those cases, so no later message of a case overtakes an earlier one),
and answers are judged and recorded in claim order, one finish transaction at a time.
Each claim starts its index scan at a floor below which no row is queued: the first row
of the previous claim, or lower, the first row that claim skipped for its case (the claim
statement reports it). So the scan does not wade through the index entries of the rows
delivered since the last vacuum, which made a claim late in a 100,000-message drain take
20 times as long as the first. A round (which ends at the first failure, the only time rows
go back to the queue) and every expiry sweep start again from 0, for rows that a claim
passed over while another transaction held them, or that committed late below the floor.
Receipts are verified on the crypto thread pool (libsodium releases the GIL), not on the
loop that also serves the federation endpoint and the local API. After any failure the
round stops claiming, settles what is already in flight (a success of a batch posted
before the failure is recorded, but does not reset the failure count), and backs off.
A crash anywhere loses nothing and sends nothing twice to a local client at the peer:
claimed rows are leases, put back in the queue by the next holder of the peer's lock, and
the peer answers a resent envelope with the receipt it stored the first time.

Backoff is exponential with "equal jitter" (half fixed, half random) and a cap (10 minutes
by default), kept in the database with the failure count: a restart resumes the schedule,
and a peer back after three days is retried within the cap, then drained batch after batch
with no waiting, since each success resets the count.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp

from gateway.crypto import Keyring, ReceiptInvalid, verify_receipt
from gateway.federation.posting import (
    BatchTooLarge,
    Destination,
    FinalRefusal,
    TransientFailure,
    post_batch,
)
from gateway.federation.pushing import StreamPusher
from gateway.ops.exclusive import ExclusiveWorker
from gateway.ops.logs import FieldValue, fields
from gateway.ops.metrics import GatewayMetrics
from gateway.store import AuditEntry, ClaimedEnvelope, DeliveryOutcome, SessionLock, Store

log = logging.getLogger(__name__)

# Expiry is checked this often, not before every batch: an expiring message is rare, and the
# check costs a query (an index scan over the peer's queued rows).
EXPIRY_SWEEP = timedelta(seconds=10)
# While a peer stays healthy, its last success is written at most this often (seconds).
SUCCESS_RECORD_INTERVAL = 1.0
# A signed refusal that says only that the two nodes' clocks disagree is about neither the
# message nor the peer's will to take it: ended `rejected`, the message would be lost to a
# fault an operator fixes in minutes. It goes back to the queue (with backoff) instead, until
# the clocks agree or the message expires.
CLOCK_REFUSALS = frozenset({"created_in_future"})
# Refusals that say "not yet" and go back to the queue: the clock ones, and an envelope whose
# attachment stream the peer does not hold whole (PROTOCOL.md 8.2 step 8; the next attempt
# pushes it again first).
RETRYABLE_REFUSALS = CLOCK_REFUSALS | {"attachment_incomplete"}
# An acceptance whose attachment_sha256 (field 10) is not the streams pushed.
ATTACHMENTS_MISMATCH = "receipt_attachments_mismatch"


@dataclass(frozen=True)
class RetryPolicy:
    """How a queue waits and batches."""

    initial_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=10)
    # At most the receiver's limits.max_envelopes_per_batch (the loader checks ours); a peer
    # with a smaller one answers 413 and the queue halves its batches (DestinationQueue).
    batch_size: int = 100
    # Batches posted and not yet answered, per peer (see the module's design note).
    in_flight: int = 2
    # Envelope bytes per request; the peer refuses larger bodies (413), which would end the
    # batch's messages, so the tail of an oversized claim goes back to the queue instead.
    max_batch_bytes: int = 15 * 1024 * 1024
    request_timeout: timedelta = timedelta(seconds=30)
    # A message whose receipts fail verification this many times is given up (dead).
    max_invalid_receipts: int = 10
    # How often a queue not holding its peer's lock tries again, and how often an idle queue
    # looks at the database even without a wake-up (NOTIFY is not guaranteed across a
    # database restart).
    lock_retry: timedelta = timedelta(seconds=5)
    idle_poll: timedelta = timedelta(seconds=30)

    def backoff(self, failures: int, rng: Callable[[], float] = random.random) -> timedelta:
        """Delay after the given number of consecutive failures (1 = first failure)."""
        exponent = min(failures - 1, 32)
        full: timedelta = min(self.max_backoff, self.initial_backoff * (2**exponent))
        return full / 2 + full / 2 * rng()


@dataclass(frozen=True)
class _Flight:
    """A claimed batch and its POST, which answers with one receipt per envelope."""

    batch: list[ClaimedEnvelope]
    post: asyncio.Task[list[bytes]]
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class _Judged:
    """A batch's receipts, verified: what to finish, what to requeue."""

    outcomes: list[DeliveryOutcome]
    deferred: list[DeliveryOutcome]
    invalid: list[tuple[ClaimedEnvelope, str]]

    @property
    def clean(self) -> bool:
        return not self.deferred and not self.invalid


class DestinationQueue(ExclusiveWorker):
    """Delivers the outbox of one peer, forever, until cancelled."""

    def __init__(
        self,
        *,
        node_id: str,
        destination: Destination,
        store: Store,
        keyring: Keyring,
        session: aiohttp.ClientSession,
        policy: RetryPolicy,
        owner: str,
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
        crypto: Executor | None = None,
    ) -> None:
        # Receipts are verified here; None: the loop's default executor (tests).
        self._crypto = crypto
        self._window = max(1, policy.in_flight)
        self._node_id = node_id
        self._destination = destination
        self._peer = destination.peer
        self._store = store
        self._keyring = keyring
        self._session = session
        self._policy = policy
        self._owner = owner
        self._clock = clock
        self._metrics = metrics
        self._failures = 0
        self._retry_at: datetime | None = None
        self._expired_at: datetime | None = None
        self._success_recorded = -math.inf
        # Queue position below which no row can be queued for this round (see _round).
        self._floor = 0
        # Lowered for the life of the queue when the peer answers 413 (it is configured with a
        # smaller max_envelopes_per_batch or max_batch_bytes than ours).
        self._batch_limit = policy.batch_size
        self._pusher = StreamPusher(
            session=session,
            destination=destination,
            node_id=node_id,
            store=store,
            timeout=policy.request_timeout,
        )
        # Per message posted: the attachment hashes its receipt must carry (_push_streams).
        self._expected: dict[uuid.UUID, tuple[bytes, ...]] = {}
        super().__init__(policy.lock_retry)

    def __str__(self) -> str:
        return f"delivery to {self._peer}"

    def log_fields(self) -> dict[str, FieldValue]:
        return {"worker": "peer_delivery", "peer": self._peer}

    @property
    def peer(self) -> str:
        return self._peer

    async def acquire(self) -> SessionLock | None:
        return await self._store.try_lock_destination(self._peer)

    async def work(self, lock: SessionLock) -> None:
        state = await self._store.destination(self._peer)
        self._failures, self._retry_at = state.failures, state.retry_at
        while lock.held:
            now = self._clock()
            if self._retry_at is not None and now < self._retry_at:
                # New messages do not cut a backoff short: the peer is down either way.
                await asyncio.sleep(min((self._retry_at - now).total_seconds(), 60.0))
                continue
            self._wake.clear()
            if await self._round(lock):
                await self._publish_depth()
                await self.wait(self._policy.idle_poll)

    async def _round(self, lock: SessionLock) -> bool:
        """Deliver batch after batch, several in flight, until the queue is empty (True) or a
        batch fails (False: the failure is recorded and the caller waits out the backoff)."""
        in_flight: collections.deque[_Flight] = collections.deque()
        recording: asyncio.Task[None] | None = None
        healthy, emptied = True, False
        self._floor = 0
        try:
            while True:
                while healthy and not emptied and lock.held and len(in_flight) < self._window:
                    busy = {item.case_id for flight in in_flight for item in flight.batch}
                    batch = await self._claim_batch(busy)
                    if not batch:
                        # Empty, or every queued row belongs to a case in flight.
                        emptied = not in_flight
                        break
                    in_flight.append(_Flight(batch, asyncio.create_task(self._post(batch))))
                if not in_flight:
                    return healthy and emptied
                flight = in_flight.popleft()
                try:
                    receipts = await flight.post
                except (TransientFailure, BatchTooLarge, FinalRefusal) as problem:
                    # Outcomes are recorded in claim order: the previous batch's first.
                    if recording is not None:
                        await recording
                        recording = None
                    await self._post_failed(flight.batch, problem, record=healthy)
                    healthy = False
                    continue
                judged = await asyncio.get_running_loop().run_in_executor(
                    self._crypto, self._judge, flight.batch, receipts
                )
                if recording is not None:
                    await recording
                recording = asyncio.create_task(self._record(flight, judged, healthy))
                healthy = healthy and judged.clean
        finally:
            for flight in in_flight:
                flight.post.cancel()
            try:
                if recording is not None:
                    await recording
            finally:
                if in_flight:
                    # Stopped mid-POST (shutdown, an error): the rows go back to the queue
                    # now rather than when the peer's lock is next taken.
                    await asyncio.gather(*(f.post for f in in_flight), return_exceptions=True)
                    with contextlib.suppress(Exception):
                        await self._store.release(
                            [item.message_id for f in in_flight for item in f.batch], None
                        )

    async def _claim_batch(self, busy_cases: set[uuid.UUID]) -> list[ClaimedEnvelope]:
        now = self._clock()
        if self._expired_at is None or now - self._expired_at >= EXPIRY_SWEEP:
            await self._store.expire_due(self._peer, now)
            self._expired_at = now
            # A row committed late with a position below the floor (its transaction took its
            # id before, and committed after, others' rows that were already claimed) waits
            # at most this long.
            self._floor = 0
        claimed = await self._store.claim_batch(
            self._peer,
            self._batch_limit,
            self._owner,
            busy_cases=sorted(busy_cases),
            floor=self._floor,
        )
        batch, self._floor = claimed.envelopes, claimed.next_floor
        total, keep = 0, 0
        for keep, item in enumerate(batch):
            total += len(item.envelope)
            if total > self._policy.max_batch_bytes and keep > 0:
                break
        else:
            return batch
        await self._store.release([item.message_id for item in batch[keep:]], None)
        return batch[:keep]

    async def _post_failed(
        self, batch: Sequence[ClaimedEnvelope], problem: Exception, *, record: bool
    ) -> None:
        """A request that got no receipts. Only the first failure of a round counts toward
        the backoff (`record`): batches in flight beside it usually fail for the same cause."""
        ids = [item.message_id for item in batch]
        for message_id in ids:
            self._expected.pop(message_id, None)
        if isinstance(problem, TransientFailure):
            await self._store.release(ids, problem.reason)
            if record:
                await self._record_failure(problem.reason, at_least=problem.retry_after)
        elif isinstance(problem, BatchTooLarge):
            # Not a failure of the peer's and not the messages' fault: resend at once, in
            # halves, down to one envelope, whose 413 is then final like any other 4xx.
            await self._store.release(ids, None)
            self._batch_limit = max(1, min(self._batch_limit, len(batch) // 2))
            log.warning(
                "batch_too_large",
                extra=fields(peer=self._peer, count=len(batch), next_count=self._batch_limit),
            )
        elif isinstance(problem, FinalRefusal):
            await self._store.reject_unreceipted(self._peer, ids, problem.reason)
            self._metrics.deliveries.labels(self._peer, "rejected").inc(len(ids))
            # A whole-request refusal usually means a configuration problem at one end: back
            # off so that the queue is not emptied into "rejected" before anyone looks.
            if record:
                await self._record_failure(problem.reason)

    def _judge(self, batch: Sequence[ClaimedEnvelope], receipts: Sequence[bytes]) -> _Judged:
        """On the crypto pool: every receipt verified against its envelope."""
        outcomes: list[DeliveryOutcome] = []
        invalid: list[tuple[ClaimedEnvelope, str]] = []
        for item, receipt in zip(batch, receipts, strict=True):
            try:
                outcomes.append(self._verify(item, receipt))
            except ReceiptInvalid as error:
                invalid.append((item, error.reason))
        deferred = [o for o in outcomes if not o.accepted and o.reason_code in RETRYABLE_REFUSALS]
        if deferred:
            outcomes = [
                o for o in outcomes if o.accepted or o.reason_code not in RETRYABLE_REFUSALS
            ]
        return _Judged(outcomes, deferred, invalid)

    async def _record(self, flight: _Flight, judged: _Judged, healthy: bool) -> None:
        """The outcome of one answered batch, in the database: one finish transaction, then
        what goes back to the queue. `healthy`: no earlier batch of the round failed, so a
        success may reset the peer's failure count."""
        outcomes, deferred, invalid = judged.outcomes, judged.deferred, judged.invalid
        await self._store.finish(self._peer, outcomes)
        if deferred:
            reason = deferred[0].reason_code
            hint = "clocks apart?" if reason in CLOCK_REFUSALS else "attachment not held whole"
            await self._store.release(
                [o.message_id for o in deferred],
                f"refused by {self._peer}: {reason} ({hint}), sent again later",
            )
            self._metrics.deliveries.labels(self._peer, "deferred").inc(len(deferred))
            log.warning(
                "envelopes_deferred",
                extra=fields(
                    peer=self._peer,
                    reason=reason,
                    count=len(deferred),
                    hint="are the two clocks apart?" if reason in CLOCK_REFUSALS else hint,
                ),
            )
        # The peer signed for other streams than we pushed: not delivered, and recorded.
        detail: dict[str, str | int | bool | None] = {"peer": self._peer}
        mismatched = [
            AuditEntry("delivery", "outbox.attachments_mismatch", str(i.message_id), detail)
            for i, reason in invalid
            if reason == ATTACHMENTS_MISMATCH
        ]
        if mismatched:
            await self._store.audit(mismatched)
        if invalid:
            await self._store.release_invalid(
                [item.message_id for item, _ in invalid],
                f"invalid_receipt: {invalid[0][1]}",
                give_up_after=self._policy.max_invalid_receipts,
            )
        delivered = sum(1 for outcome in outcomes if outcome.accepted)
        if delivered:
            self._metrics.deliveries.labels(self._peer, "delivered").inc(delivered)
        if delivered < len(outcomes):
            self._metrics.deliveries.labels(self._peer, "rejected").inc(len(outcomes) - delivered)
        for outcome in outcomes:
            if outcome.accepted and not log.isEnabledFor(logging.DEBUG):
                continue
            log.log(
                logging.DEBUG if outcome.accepted else logging.WARNING,
                "message_delivered" if outcome.accepted else "message_rejected",
                extra=fields(
                    peer=self._peer,
                    message_id=outcome.message_id,
                    state="delivered" if outcome.accepted else "rejected",
                    reason=None if outcome.accepted else outcome.reason_code,
                ),
            )
        self._metrics.delivery_latency.labels(self._peer).observe(
            time.perf_counter() - flight.started
        )
        if invalid:
            log.warning(
                "receipts_invalid",
                extra=fields(
                    peer=self._peer,
                    reason=invalid[0][1],
                    message_id=invalid[0][0].message_id,
                    count=len(invalid),
                ),
            )
            if healthy:
                await self._record_failure("invalid_receipt")
        elif deferred:
            if healthy:
                await self._record_failure(f"refused: {deferred[0].reason_code}")
        elif healthy:
            await self._record_success()

    async def _post(self, batch: Sequence[ClaimedEnvelope]) -> list[bytes]:
        await self._push_streams(batch)
        return await post_batch(
            self._session,
            self._destination,
            node_id=self._node_id,
            batch=batch,
            timeout=self._policy.request_timeout,
            metrics=self._metrics,
        )

    async def _push_streams(self, batch: Sequence[ClaimedEnvelope]) -> None:
        """Every attachment stream of the batch to the peer first (pushing.py), and what the
        receipts must then cover (field 10), per message."""
        streams = await self._store.outbox_streams([item.queue_position for item in batch])
        hashes: dict[int, list[bytes]] = {}
        for stream in streams:
            await self._pusher.push(stream, self._clock())
            hashes.setdefault(stream.outbox_id, []).append(stream.ciphertext_sha256)
        for item in batch:
            self._expected[item.message_id] = tuple(hashes.get(item.queue_position, ()))

    def _verify(self, item: ClaimedEnvelope, receipt: bytes) -> DeliveryOutcome:
        # Delivered covers the attachments: an acceptance must name exactly the streams
        # pushed, in AttachmentKey order; otherwise not delivered (sent again, then dead).
        return verify_delivery_receipt(
            self._keyring,
            peer=self._peer,
            node_id=self._node_id,
            message_id=item.message_id,
            envelope=item.envelope,
            receipt=receipt,
            attachments=self._expected.pop(item.message_id, ()),
        )

    async def _record_failure(self, reason: str, at_least: timedelta | None = None) -> None:
        self._failures += 1
        delay = max(self._policy.backoff(self._failures), at_least or timedelta())
        self._retry_at = self._clock() + delay
        await self._store.record_failure(self._peer, self._failures, self._retry_at, reason)
        self._metrics.peer_failures.labels(self._peer).set(self._failures)
        log.info(
            "peer_delivery_failed",
            extra=fields(
                peer=self._peer,
                reason=reason,
                attempt=self._failures,
                retry_in_s=round(delay.total_seconds(), 1),
            ),
        )

    async def _record_success(self) -> None:
        # A drain records dozens of successes a second; after the first, writing each one
        # only moves last_success_at by milliseconds at the cost of a statement per batch.
        since = time.monotonic() - self._success_recorded
        if self._failures == 0 and self._retry_at is None and since < SUCCESS_RECORD_INTERVAL:
            return
        self._failures, self._retry_at = 0, None
        await self._store.record_success(self._peer)
        self._success_recorded = time.monotonic()
        self._metrics.peer_failures.labels(self._peer).set(0)
        self._metrics.peer_last_success.labels(self._peer).set(time.time())

    async def _publish_depth(self) -> None:
        count = await self._store.pending_count(self._peer)
        self._metrics.queue_depth.labels(self._peer).set(count)


def verify_delivery_receipt(
    keyring: Keyring,
    *,
    peer: str,
    node_id: str,
    message_id: uuid.UUID,
    envelope: bytes,
    receipt: bytes,
    attachments: tuple[bytes, ...] = (),
) -> DeliveryOutcome:
    """What peer's receipt for our envelope says, once verified; ReceiptInvalid otherwise.

    The one check of a receipt, whether it came back from a POST or in an offline bundle
    (gateway.federation.bundles): signed by the peer, for exactly this envelope, naming this
    message and this node as sender, and (an acceptance) exactly the attachment streams
    pushed (field 10)."""
    facts = verify_receipt(
        receipt, receiver=peer, receiver_keys=keyring.peer_keys(peer), envelope_data=envelope
    )
    # A refusal of an envelope whose header did not parse names no message id; the
    # envelope hash, checked by verify_receipt, still binds it to this envelope.
    message_ok = facts.message_id == message_id or (facts.message_id is None and not facts.accepted)
    if not message_ok or facts.sender != node_id:
        raise ReceiptInvalid("receipt_mismatch", "receipt names another message or sender")
    if facts.accepted and facts.attachment_sha256 != attachments:
        raise ReceiptInvalid(ATTACHMENTS_MISMATCH, "receipt covers other attachment streams")
    return DeliveryOutcome(
        message_id=message_id,
        receipt=receipt,
        accepted=facts.accepted,
        reason_code=facts.reason_code,
        received_at=facts.received_at,
    )
