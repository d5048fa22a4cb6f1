"""The checkpointer: takes audit checkpoints and queues one copy to every peer
(docs/PROTOCOL.md section 16; gateway.federation.checkpoints holds the messages).

It wakes every `poll` (seconds, not a busy loop) and reads two numbers: the newest checkpoint's
seq and the chain's newest entry. A checkpoint is due when the chain grew and either
`audit.checkpoints.every` passed since the last round (the newest checkpoint's time, across
restarts; the node's start when it never took one, so a fresh node's first minutes are not
all checkpoints) or `after_entries` entries accrued. For the latter it first compares the two
numbers, and only then counts the growth properly, leaving out the entries the checkpoint
exchange writes itself (Store.checkpoint_growth): the checkpoint's own audit entry, its
copies' outbox entries, countersignatures recorded. Otherwise each round's entries would make
the next round due, for ever.

A round covers the entries up to the head it read at its start (its own audit entry comes
after, for the next round), in checkpoints of at most after_entries entries, oldest first;
each checkpoint, its copies and its audit entry are one transaction (Store.record_checkpoint).
A peer whose key cannot seal is left out (logged); the others still get theirs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from gateway.config.schema import CheckpointsConfig
from gateway.crypto import Keyring
from gateway.crypto.envelope import from_unix_ms, to_unix_ms
from gateway.federation.checkpoints import Checkpoint, seal_checkpoint
from gateway.ops.logs import fields
from gateway.store import OutgoingEnvelope, Store
from gateway.wire import ControlKind

log = logging.getLogger(__name__)


class AuditCheckpointer:
    """Sends this node's audit checkpoints to its peers."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: Store,
        peers: Sequence[str],
        settings: CheckpointsConfig,
        ttl: timedelta,
        clock: Callable[[], datetime],
        poll: float = 5.0,
    ) -> None:
        self._keyring = keyring
        self._store = store
        self._peers = tuple(peers)
        self._settings = settings
        self._ttl = ttl
        self._clock = clock
        self._poll = poll
        self._last_round: datetime | None = None

    async def run(self) -> None:
        """Check, take what is due, sleep; until cancelled. A failed round (the database
        away) is logged and tried again at the next wake-up."""
        while True:
            try:
                await self.check()
            except (TimeoutError, OSError) as error:
                log.warning("audit_checkpoint_failed", extra=fields(error=type(error).__name__))
            except Exception:
                log.exception("audit_checkpoint_failed")
            await asyncio.sleep(self._poll)

    async def check(self) -> int:
        """Take the checkpoints due now; how many were taken."""
        if not self._peers:
            return 0
        checkpointed, head, taken_at = await self._store.checkpoint_state()
        now = self._clock()
        if self._last_round is None:
            self._last_round = now if taken_at is None else taken_at
        if head <= checkpointed:
            return 0
        after = self._settings.after_entries
        due = now - self._last_round >= self._settings.every
        if not due and head - checkpointed >= after:
            due = await self._store.checkpoint_growth(checkpointed, after) >= after
        if not due:
            return 0
        self._last_round = now
        return await self._take(checkpointed, head, now)

    async def _take(self, checkpointed: int, head: int, now: datetime) -> int:
        # The wire holds milliseconds: both ends then show the same instant.
        at = from_unix_ms(to_unix_ms(now))
        taken = 0
        after = checkpointed
        while after < head:
            rows = await self._store.chain_hashes(
                after, min(self._settings.after_entries, head - after)
            )
            if not rows:
                break
            # One contiguous run: a gap (entries gone) ends the checkpoint before it.
            run = [rows[0]]
            for seq, digest in rows[1:]:
                if seq != run[-1][0] + 1:
                    break
                run.append((seq, digest))
            first_seq, hashes = run[0][0], tuple(digest for _, digest in run)
            point = Checkpoint(self._keyring.node_id, run[-1][0], hashes[-1], at, first_seq, hashes)
            await self._store.record_checkpoint(
                first_seq=first_seq, hashes=hashes, at=at, copies=self._copies(point, now)
            )
            log.info(
                "audit_checkpoint_taken",
                extra=fields(seq=point.seq, first_seq=first_seq, peers=len(self._peers)),
            )
            taken += 1
            after = point.seq
        return taken

    def _copies(self, point: Checkpoint, now: datetime) -> list[OutgoingEnvelope]:
        copies: list[OutgoingEnvelope] = []
        for peer in self._peers:
            try:
                sealed = seal_checkpoint(
                    self._keyring, recipient=peer, point=point, now=now, ttl=self._ttl
                )
            except ValueError:
                log.warning("audit_checkpoint_not_sealed", extra=fields(peer=peer, reason="no_key"))
                continue
            copies.append(
                OutgoingEnvelope(
                    message_id=sealed.header.message_id,
                    recipient=peer,
                    case_id=sealed.header.case_id,
                    kind=ControlKind.AUDIT_CHECKPOINT.value,
                    handling="normal",  # hashes and numbers: no personal data
                    envelope=sealed.data,
                    envelope_sha256=sealed.sha256,
                    expires_at=sealed.header.expires_at,
                )
            )
        return copies
