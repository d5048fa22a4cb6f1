"""One LocalDeliveryQueue per local client with a delivery target."""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError

from adapters import Adapter, CannotEncode
from gateway.crypto import EnvelopeRejected, Keyring, reopen_stored
from gateway.delivery.targets import Document, LocalTarget, TargetUnavailable
from gateway.federation.sender import RetryPolicy
from gateway.ops.exclusive import ExclusiveWorker
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
        try:
            document = self._render(delivery)
            await self._target.deliver(
                delivery,
                document,
                lambda name: self._store.mark_local_delivering(delivery.id, name),
            )
        except TargetUnavailable as unavailable:
            await self._store.mark_local_failed(delivery.id, unavailable.reason)
            self._metrics.local_deliveries.labels(
                self.client, unavailable.reason.split(":")[0]
            ).inc()
            log.info("delivery to local client %s failed: %s", self.client, unavailable.reason)
            return False
        await self._store.mark_local_delivered(delivery, self.client, self._target.via)
        self._metrics.local_deliveries.labels(self.client, "delivered").inc()
        return True

    def _render(self, delivery: PendingLocalDelivery) -> Document:
        try:
            opened = reopen_stored(self._keyring, delivery.envelope)
            message = canonical.Message.FromString(opened.payload.message)
            encoded = self._adapter.encode(message)
        except (EnvelopeRejected, DecodeError, CannotEncode) as error:
            # Nothing a retry can fix without an operator (a removed key, an adapter change):
            # keep the message waiting, in order, and make it loud.
            log.error(
                "message %s cannot be rendered for %s: %s",
                delivery.message_id,
                self.client,
                type(error).__name__,
            )
            raise TargetUnavailable("cannot_render") from None
        return Document(
            encoded.data, self._adapter.media_type, _extension(self._adapter.media_type)
        )
