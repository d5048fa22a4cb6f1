"""One LocalDeliveryQueue per local client with a delivery target."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from google.protobuf.message import DecodeError

from adapters import Adapter, CannotEncode
from gateway.crypto import EnvelopeRejected, Keyring, reopen_stored
from gateway.delivery.targets import Document, LocalTarget, TargetUnavailable
from gateway.federation.sender import RetryPolicy
from gateway.ops.metrics import GatewayMetrics
from gateway.store import PendingLocalDelivery, SessionLock, Store
from gateway.wire import canonical

log = logging.getLogger(__name__)


def _extension(media_type: str) -> str:
    return next((m for m in ("json", "xml", "csv") if m in media_type), "txt")


class LocalDeliveryQueue:
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
        self._wake = asyncio.Event()
        self._failures = 0

    def wake(self) -> None:
        self._wake.set()

    async def _wait(self, timeout: timedelta) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout.total_seconds())
        self._wake.clear()

    async def run(self) -> None:
        while True:
            lock = await self._store.try_lock_local_client(self.client)
            if lock is None:
                await self._wait(self._policy.lock_retry)
                continue
            try:
                await self._deliver_while_holding(lock)
            except Exception:
                log.exception("local delivery to %s paused", self.client)
                await asyncio.sleep(self._policy.lock_retry.total_seconds())
            finally:
                await lock.release()

    async def _deliver_while_holding(self, lock: SessionLock) -> None:
        while lock.held:
            self._wake.clear()
            pending = await self._store.next_local_deliveries(self.client, 20)
            if not pending:
                await self._wait(self._policy.idle_poll)
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
