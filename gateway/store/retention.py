"""Retention: deleting message content once its period has passed, keeping the metadata.

What goes is the sealed content: an outgoing envelope once the message is finished
(delivered, rejected, expired, dead), an incoming one once every local client has had it,
and a draft's sealed message once the draft was approved or withdrawn. What stays is every
row with its ids, times, state, hash and receipts, and the audit log: a case page still
shows the thread ("content deleted under retention"), a replay is still recognised by its
(sender, message id) and envelope hash, and the six-monthly report still counts. The
database refuses anything else (0010_retention_content.sql): content of a queued message, of
a message awaiting local delivery, or of a draft awaiting approval cannot be deleted, and
content is never rewritten.

The period depends on the handling marking (ContentCutoffs: one instant per marking); an
unknown marking takes the strictest, victim_protected, which is also the shortest. A sweep
runs in one transaction and writes one audit entry with its counts, only when it deleted
something; a dry run counts the same selection and changes nothing. Several processes may
sweep one database: content already deleted is not selected again.

The audit log is not pruned: its entries form a hash chain, and cutting its head needs an
anchor (a signed record of the last pruned hash) that this release does not have.

Kept apart from store.py (a mixin of Store); it shares the pool and the audit appender.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gateway.store.part import StorePart
from gateway.store.queries import Q
from gateway.store.records import MARKINGS, AuditEntry, ContentCutoffs, PurgedContent

if TYPE_CHECKING:
    from gateway.store.part import Connection


class Retention(StorePart):
    """Mixed into Store: the content purge and its dry run."""

    async def content_due(self, cutoffs: ContentCutoffs) -> PurgedContent:
        """What purge_content(cutoffs) would delete now, changing nothing."""
        async with self._pool.acquire() as connection:
            return await _counted(
                connection,
                cutoffs,
                (Q.retention_content_outbox_due, Q.retention_content_inbox_due),
                Q.retention_content_drafts_due,
            )

    async def purge_content(self, cutoffs: ContentCutoffs, *, done_files: int = 0) -> PurgedContent:
        """Delete the content whose period has passed; audited (counts only) when a sweep
        deleted anything, with done_files, the files it removed from done/ folders."""
        async with self._pool.acquire() as connection, connection.transaction():
            purged = await _counted(
                connection,
                cutoffs,
                (Q.retention_content_outbox, Q.retention_content_inbox),
                Q.retention_content_drafts,
            )
            purged = PurgedContent(purged.envelopes, done_files)
            if not purged.anything:
                return purged  # nothing deleted, nothing to account for (the metric counts it)
            detail: dict[str, str | int | bool | None] = {
                f"{table}.{marking}": n for (table, marking), n in sorted(purged.envelopes.items())
            }
            detail["done_files"] = done_files
            for marking in MARKINGS:
                detail[f"before.{marking}"] = getattr(cutoffs, marking).isoformat()
            await self._append_audit(
                connection,
                [AuditEntry("retention", "retention.purged", "database", detail)],
                datetime.now(UTC),
            )
        return purged


async def _counted(
    connection: Connection,
    cutoffs: ContentCutoffs,
    by_marking: tuple[str, str],
    drafts: str,
) -> PurgedContent:
    bounds = (cutoffs.normal, cutoffs.restricted, cutoffs.victim_protected)
    envelopes: dict[tuple[str, str], int] = {}
    for table, query in zip(("outbox", "inbox"), by_marking, strict=True):
        for row in await connection.fetch(query, *bounds):
            envelopes[(table, row["marking"])] = row["n"]
    # Drafts are victim handovers (four eyes exists for victim data): victim_protected.
    draft_count: int = await connection.fetchval(drafts, cutoffs.victim_protected)
    if draft_count:
        envelopes[("drafts", "victim_protected")] = draft_count
    return PurgedContent(envelopes)
