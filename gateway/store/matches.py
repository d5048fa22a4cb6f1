"""Possible matches: pairs of indexed people who may be one person, and the finder's cursor
(0021_possible_matches.sql).

Kept apart from store.py (a mixin of Store). Recording a batch is one transaction: the
pairs and the cursor advance, so a finder killed at any line records each pair once. Found
pairs get no audit entry of their own: the row is the record (ids, reason codes, created_at),
and a flood of one person's duplicates would otherwise write thousands of entries and make
audit checkpoints due; the people's decisions are audited. A decision (confirm or dismiss) is
one checked UPDATE of an open pair of the case named, with its console audit entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway.store.part import StorePart, utc_now
from gateway.store.queries import Q
from gateway.store.records import AuditEntry

MAX_MATCHES_PER_CASE = 50
Decision = Literal["confirmed", "dismissed"]
AUDIT_ACTIONS: dict[Decision, str] = {
    "confirmed": "console.match_confirmed",
    "dismissed": "console.match_dismissed",
}


class CursorMoved(Exception):  # noqa: N818 - a verdict, not a failure
    """Another finder advanced the cursor meanwhile: this batch is not recorded."""


class MatchNotOpen(Exception):  # noqa: N818 - a verdict, not a failure
    """No open possible match of that id on that case (decided already, or not this case's)."""


@dataclass(frozen=True)
class FoundPair:
    """Two index entries in two cases that may name one person, with the reason codes."""

    entry_id: int
    case_id: uuid.UUID
    other_entry_id: int
    other_case_id: uuid.UUID
    reasons: tuple[str, ...]

    def ordered(self) -> FoundPair:
        """The same pair with the lower entry id first (as stored: one row per pair)."""
        if self.entry_id < self.other_entry_id:
            return self
        return FoundPair(
            self.other_entry_id, self.other_case_id, self.entry_id, self.case_id, self.reasons
        )


@dataclass(frozen=True)
class CaseMatch:
    """A possible match as one case's page shows it: `other_*` is always the other case."""

    id: int
    state: str  # open | confirmed | dismissed
    reasons: tuple[str, ...]
    own_entry_id: int
    other_entry_id: int
    other_case_id: uuid.UUID
    created_at: datetime
    decided_by_name: str | None
    decided_at: datetime | None


class PossibleMatches(StorePart):
    """Mixed into Store: the possible_matches table and the finder's cursor."""

    async def possible_match_cursor(self) -> int:
        async with self._pool.acquire() as connection:
            value: int = await connection.fetchval(Q.possible_match_cursor)
        return value

    async def open_cases(self, case_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of case_ids are open (the query's comment says what that means)."""
        if not case_ids:
            return set()
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.possible_match_open_cases, list(set(case_ids)))
        return {row["case_id"] for row in rows}

    async def record_possible_matches(
        self, *, after: int, up_to: int, pairs: Sequence[FoundPair]
    ) -> int:
        """Record pairs found for the entries after..up_to and move the cursor to up_to, in
        one transaction; how many pairs were new. CursorMoved if the cursor is not at
        `after` (another finder went first: nothing is written)."""
        now = utc_now()
        ordered: dict[tuple[int, int], FoundPair] = {}
        for pair in (p.ordered() for p in pairs):
            ordered.setdefault((pair.entry_id, pair.other_entry_id), pair)
        rows = list(ordered.values())
        async with self._pool.acquire() as connection, connection.transaction():
            current = await connection.fetchval(Q.possible_match_cursor_lock)
            if current != after:
                raise CursorMoved(f"cursor at {current}, expected {after}")
            inserted = await connection.fetch(
                Q.possible_match_insert,
                [p.case_id for p in rows],
                [p.other_case_id for p in rows],
                [p.entry_id for p in rows],
                [p.other_entry_id for p in rows],
                [",".join(p.reasons) for p in rows],
                now,
            )
            if up_to > after:
                await connection.execute(Q.possible_match_cursor_advance, up_to)
        return len(inserted)

    async def case_possible_matches(
        self, case_id: uuid.UUID, *, limit: int = MAX_MATCHES_PER_CASE
    ) -> list[CaseMatch]:
        """The pairs naming a person of this case, either side, oldest first."""
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.possible_match_of_case, case_id, limit)
        return [
            CaseMatch(
                id=row["id"],
                state=row["state"],
                reasons=tuple(row["reasons"]),
                own_entry_id=row["own_entry"],
                other_entry_id=row["other_entry"],
                other_case_id=row["other_case"],
                created_at=row["created_at"],
                decided_by_name=row["decided_by_name"],
                decided_at=row["decided_at"],
            )
            for row in rows
        ]

    async def decide_possible_match(
        self, match_id: int, *, case_id: uuid.UUID, decision: Decision, user_id: int, actor: str
    ) -> None:
        """Confirm or dismiss an open pair of this case, audited with the user and the ids;
        MatchNotOpen when there is none."""
        now = utc_now()
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                Q.possible_match_decide, match_id, case_id, decision, user_id, now
            )
            if row is None:
                raise MatchNotOpen(str(match_id))
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        actor,
                        AUDIT_ACTIONS[decision],
                        f"possible_match:{match_id}",
                        {
                            "user": user_id,
                            "case": str(row["case_id"]),
                            "other_case": str(row["other_case_id"]),
                        },
                    )
                ],
                now,
            )

    async def possible_matches_open(self) -> int:
        """How many pairs wait for a decision (the blg_possible_matches_open gauge)."""
        async with self._pool.acquire() as connection:
            count: int = await connection.fetchval(Q.possible_match_open_count)
        return count
