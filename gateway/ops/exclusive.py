"""Workers that must run in one process at a time per key (a peer, a local client).

The key is held as a PostgreSQL session advisory lock (gateway.store.SessionLock), so a
crashed holder frees it at once and another process, or the restarted one, takes over. The
worker sleeps until woken (NOTIFY) or a timeout, and survives any failure of its work: every
state is in the database, so the right response to an unexpected error is to log it, pause,
and start over from what the database says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from datetime import timedelta

from gateway.ops.logs import FieldValue, fields_from
from gateway.store import SessionLock

log = logging.getLogger(__name__)


class ExclusiveWorker(ABC):
    """Runs `work` while holding this worker's lock, forever, until cancelled."""

    def __init__(self, lock_retry: timedelta) -> None:
        self._lock_retry = lock_retry
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something arrived for this worker; cut its current wait short."""
        self._wake.set()

    async def wait(self, timeout: timedelta) -> None:
        """Until woken or timeout, whichever first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout.total_seconds())
        self._wake.clear()

    def log_fields(self) -> dict[str, FieldValue]:
        """What names this worker in its log lines (its peer, its local client)."""
        return {"worker": type(self).__name__}

    @abstractmethod
    async def acquire(self) -> SessionLock | None:
        """The lock for this worker's key, or None when another process holds it."""

    @abstractmethod
    async def work(self, lock: SessionLock) -> None:
        """Do the work while lock.held."""

    async def run(self) -> None:
        while True:
            try:
                lock = await self.acquire()
            except Exception as error:
                # The database is down or has no connection slot left. Raised out of here,
                # this would end the task, and with it all work for this key until the
                # process restarts: pause and try again, like after a failure of the work.
                log.warning(
                    "worker_lock_failed",
                    extra=fields_from({**self.log_fields(), "error_type": type(error).__name__}),
                )
                await asyncio.sleep(self._lock_retry.total_seconds())
                continue
            if lock is None:
                await self.wait(self._lock_retry)
                continue
            try:
                await self.work(lock)
            except Exception:
                log.exception("worker_paused", extra=fields_from(self.log_fields()))
                await asyncio.sleep(self._lock_retry.total_seconds())
            finally:
                await lock.release()
