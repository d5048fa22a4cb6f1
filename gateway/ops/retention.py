"""Retention that runs: a periodic sweep in every node.

Each sweep purges files in outgoing folders' `done/` older than `retention.done_files`
(hotline exports hold callers' names and phones: kept days, not forever), then delivered
outbox rows and inbox rows every local client has had, older than
`retention.delivered_messages`. The first sweep runs at start, so a node that restarts often
still purges. Every sweep is counted in the metrics; one that deleted anything is audited,
with counts only. Several
processes may sweep the same database: deletes of what is already gone are no-ops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from gateway.delivery.outgoing_folder import purge_done
from gateway.ops.logs import fields
from gateway.ops.metrics import GatewayMetrics
from gateway.store import PurgedRows, Store

log = logging.getLogger(__name__)


class RetentionSweep:
    def __init__(
        self,
        *,
        store: Store,
        outgoing_folders: Sequence[Path],
        delivered_messages: timedelta,
        done_files: timedelta,
        interval: timedelta,
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
    ) -> None:
        self._store = store
        self._folders = tuple(outgoing_folders)
        self._delivered_messages = delivered_messages
        self._done_files = done_files
        self._interval = interval
        self._clock = clock
        self._metrics = metrics

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                self._metrics.retention_sweeps.labels("failed").inc()
                log.exception(
                    "retention_sweep_failed",
                    extra=fields(retry_in_s=self._interval.total_seconds()),
                )
            await asyncio.sleep(self._interval.total_seconds())

    async def sweep(self) -> PurgedRows:
        now = time.time()
        files = 0
        for folder in self._folders:
            files += await asyncio.to_thread(purge_done, folder, self._done_files, now)
        purged = await self._store.purge_finished(
            self._clock() - self._delivered_messages, done_files=files
        )
        self._metrics.retention_sweeps.labels("ok").inc()
        self._metrics.retention_last_success.set(self._clock().timestamp())
        for what, count in (
            ("outbox", purged.outbox),
            ("inbox", purged.inbox),
            ("local_deliveries", purged.local_deliveries),
            ("done_files", files),
        ):
            self._metrics.retention_purged.labels(what).inc(count)
        log.info(
            "retention_swept",
            extra=fields(
                outbox=purged.outbox,
                inbox=purged.inbox,
                local_deliveries=purged.local_deliveries,
                done_files=files,
            ),
        )
        return purged
