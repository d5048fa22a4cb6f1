"""Retention that runs: a periodic sweep in every node, and `gateway retention run`.

Each sweep purges files in outgoing folders' `done/` older than `retention.done_files`
(hotline exports hold callers' names and phones: kept days, not forever), then the sealed
content of finished messages whose period for their handling marking has passed
(`retention.content`, gateway.store.retention): the rows, receipts and audit entries stay;
then the attachment streams of outgoing messages whose content went, and streams no message
names, older than `retention.unreferenced_attachments`.
The first sweep runs at start, so a node that restarts often still purges. Every sweep is
counted in the metrics; one that deleted anything is audited, with counts only. Several
processes may sweep the same database: content already gone is not selected again.

A dry run (`gateway retention run --dry-run`) counts the same selection, files included, and
changes nothing.

Before content goes, `before_purge` (the report's ReportFactsTally, issue 13) records the
coded facts the half-yearly report counts; if it fails, the sweep logs that and purges all
the same: retention is never held up by the report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

from gateway.config import RetentionConfig
from gateway.delivery.outgoing_folder import purge_done
from gateway.ops.logs import fields
from gateway.ops.metrics import GatewayMetrics
from gateway.store import ContentCutoffs, PurgedContent, Store

log = logging.getLogger(__name__)


def cutoffs_at(retention: RetentionConfig, now: datetime) -> ContentCutoffs:
    """Per marking, the instant before which finished content goes, seen at now."""
    content = retention.content
    return ContentCutoffs(
        normal=now - content.normal,
        restricted=now - content.restricted,
        victim_protected=now - content.victim_protected,
    )


class RetentionSweep:
    def __init__(
        self,
        *,
        store: Store,
        outgoing_folders: Sequence[Path],
        retention: RetentionConfig,
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
        before_purge: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._store = store
        self._before_purge = before_purge
        self._folders = tuple(outgoing_folders)
        self._retention = retention
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
                    extra=fields(retry_in_s=self._retention.sweep_interval.total_seconds()),
                )
            await asyncio.sleep(self._retention.sweep_interval.total_seconds())

    async def sweep(self, *, dry_run: bool = False) -> PurgedContent:
        """One sweep now; with dry_run, what it would delete, deleting nothing (and not
        counted in the metrics)."""
        now = self._clock()
        files = 0
        for folder in self._folders:
            files += await asyncio.to_thread(
                purge_done, folder, self._retention.done_files, time.time(), dry_run=dry_run
            )
        cutoffs = cutoffs_at(self._retention, now)
        if dry_run:
            due = await self._store.content_due(cutoffs)
            return PurgedContent(due.envelopes, files)
        if self._before_purge is not None:
            try:
                await self._before_purge()
            except Exception:
                log.exception("retention_before_purge_failed")
        purged = await self._store.purge_content(cutoffs, done_files=files)
        attachments = await self._store.delete_sent_attachments()
        attachments += await self._store.delete_unreferenced_attachments(
            now - self._retention.unreferenced_attachments
        )
        self._metrics.retention_purged.labels("attachments").inc(attachments)
        self._metrics.retention_sweeps.labels("ok").inc()
        self._metrics.retention_last_success.set(self._clock().timestamp())
        for table in ("outbox", "inbox", "drafts"):
            self._metrics.retention_purged.labels(table).inc(purged.count(table))
        self._metrics.retention_purged.labels("done_files").inc(files)
        log.info(
            "retention_swept",
            extra=fields(
                outbox=purged.count("outbox"),
                inbox=purged.count("inbox"),
                drafts=purged.count("drafts"),
                done_files=files,
                attachments=attachments,
            ),
        )
        return purged
