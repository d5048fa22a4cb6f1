"""One LocalDeliveryQueue per local client with a delivery target.

In order, one at a time: a target that does not take a document (webhook down, disk full)
is retried with backoff and everything behind waits, since the next message may depend on
it. A message that cannot be rendered at all (the client's format cannot carry it, the
stored envelope no longer opens, corrupt payload) is not retried: no retry fixes it, and
retrying it forever stalled the whole feed. It is held aside (state `held`, with a reason
code), the feed goes on, and an operator requeues it after a fix.

Each delivery is claimed (`delivering`) just before it is handed over: a cancellation of its
case withdraws only unclaimed ones (`withdrawn`, gateway.federation.cancellation), so a
message either goes out once or never.
"""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError

from adapters import Adapter, CannotEncode
from gateway.crypto import EnvelopeRejected, Keyring, reopen_stored
from gateway.delivery.targets import Document, LocalTarget, TargetUnavailable
from gateway.federation.sender import RetryPolicy
from gateway.ops.exclusive import ExclusiveWorker
from gateway.ops.logs import FieldValue, fields
from gateway.ops.metrics import GatewayMetrics
from gateway.store import PendingLocalDelivery, SessionLock, Store
from gateway.wire import canonical

log = logging.getLogger(__name__)


def _extension(media_type: str) -> str:
    return next((m for m in ("json", "xml", "csv") if m in media_type), "txt")


class LocalDeliveryQueue(ExclusiveWorker):
    """Delivers a client's incoming messages in order, until cancelled."""

    def __init__(
        self,
        *,
        client: str,
        target: LocalTarget,
        adapter: Adapter,
        store: Store,
        keyring: Keyring,
        policy: RetryPolicy,
        metrics: GatewayMetrics,
    ) -> None:
        self.client = client
        self._target = target
        self._adapter = adapter
        self._store = store
        self._keyring = keyring
        self._policy = policy
        self._metrics = metrics
        self._failures = 0
        super().__init__(policy.lock_retry)

    def __str__(self) -> str:
        return f"local delivery to {self.client}"

    def log_fields(self) -> dict[str, FieldValue]:
        return {"worker": "local_delivery", "client": self.client}

    async def acquire(self) -> SessionLock | None:
        return await self._store.try_lock_local_client(self.client)

    async def work(self, lock: SessionLock) -> None:
        while lock.held:
            self._wake.clear()
            pending = await self._store.next_local_deliveries(self.client, 20)
            if not pending:
                await self.wait(self._policy.idle_poll)
                continue
            for delivery in pending:
                if not await self._deliver_one(delivery):
                    self._failures += 1
                    delay = self._policy.backoff(self._failures)
                    await asyncio.sleep(delay.total_seconds())
                    break
                self._failures = 0

    async def _deliver_one(self, delivery: PendingLocalDelivery) -> bool:
        """True when the queue may go on: delivered, or held aside as unrenderable."""
        if delivery.delivering:
            # A crash came between recording the file name and marking it delivered: the
            # target finishes from what it recorded, without the document (which may not
            # render any more: a key removed since, the client's format changed).
            document = Document(b"", self._adapter.media_type, "")
        else:
            try:
                document = self._render(delivery)
            except Unrenderable as unrenderable:
                return await self._hold(delivery, unrenderable.reason)
            if not await self._store.claim_local_delivery(delivery.id):
                # A cancellation withdrew it after it was read (gateway.store.cancellations):
                # it never goes out. From the claim on, a cancellation takes it back only
                # when the hand-over certainly failed (release_local_delivery below).
                log.info(
                    "local_delivery_skipped_withdrawn",
                    extra=fields(client=self.client, message_id=delivery.message_id),
                )
                return True
        try:
            await self._target.deliver(
                delivery,
                document,
                lambda name: self._store.mark_local_delivering(delivery.id, name),
            )
        except TargetUnavailable as unavailable:
            if unavailable.final and not unavailable.maybe_taken:
                # Back to pending, then held (or withdrawn by a cancellation meanwhile).
                if await self._store.release_local_delivery(delivery.id):
                    self._metrics.local_withdrawn.labels(self.client).inc()
                    return True
                return await self._hold(delivery, unavailable.reason.replace(" ", ""))
            await self._store.mark_local_failed(delivery.id, unavailable.reason)
            if not unavailable.maybe_taken and await self._store.release_local_delivery(
                delivery.id
            ):
                # Back to pending (only when no file name was recorded), so a cancellation
                # may still withdraw it while the target is down; or withdrawn now, as its
                # case was cancelled during this attempt.
                self._metrics.local_withdrawn.labels(self.client).inc()
                return True
            self._metrics.local_deliveries.labels(
                self.client, unavailable.reason.split(":")[0]
            ).inc()
            log.info(
                "local_delivery_failed",
                extra=fields(
                    client=self.client,
                    message_id=delivery.message_id,
                    reason=unavailable.reason,
                    attempt=self._failures + 1,
                ),
            )
            return False
        await self._store.mark_local_delivered(delivery, self.client, self._target.via)
        self._metrics.local_deliveries.labels(self.client, "delivered").inc()
        log.debug(
            "local_delivered",
            extra=fields(
                client=self.client,
                message_id=delivery.message_id,
                peer=delivery.sender,
                via=self._target.via,
            ),
        )
        return True

    async def _hold(self, delivery: PendingLocalDelivery, reason: str) -> bool:
        await self._store.hold_local(delivery, self.client, reason)
        self._metrics.local_deliveries.labels(self.client, "held").inc()
        log.error(
            "local_delivery_held",
            extra=fields(
                client=self.client,
                message_id=delivery.message_id,
                peer=delivery.sender,
                reason=reason,
                delivery=delivery.id,
                hint="the feed goes on; `gateway deliveries requeue` after a fix",
            ),
        )
        return True

    def _render(self, delivery: PendingLocalDelivery) -> Document:
        """The client's document; Unrenderable when nothing a retry does can make one."""
        try:
            opened = reopen_stored(self._keyring, delivery.envelope)
            message = canonical.Message.FromString(opened.payload.message)
            encoded = self._adapter.encode(message)
        except CannotEncode as error:
            # The location is a field path of the canonical message, never a value.
            raise Unrenderable(f"cannot_encode:{error.problem.location}") from None
        except EnvelopeRejected as error:
            raise Unrenderable(f"envelope_rejected:{error.reason}") from None
        except DecodeError:
            raise Unrenderable("decode_error") from None
        return Document(
            encoded.data,
            self._adapter.media_type,
            _extension(self._adapter.media_type),
            message.in_reply_to,
            tuple(opened.payload.attachments),
        )


class Unrenderable(Exception):  # noqa: N818 - a verdict on one message
    """The message cannot be put in the client's format (a reason code, never content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
