"""Building canonical messages of known composition, and an in-memory ReportStore over
envelopes sealed with real keys (tests/crypto/support.py), for the aggregation's unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from gateway.crypto import Keyring, seal
from gateway.store.report_stats import (
    AcknowledgementFigures,
    CancellationCount,
    CaseOrigin,
    DeliveryFigures,
    FactsRow,
    MessageCount,
    SealedRow,
    TalliedFacts,
)
from gateway.wire import Kind, canonical, envelope, uuid7


def victim(
    sex: int, birth: tuple[int, int, int], *, minor: bool, name: str = "Nguyễn Thị A"
) -> canonical.Victim:
    year, month, day = birth
    return canonical.Victim(
        person=canonical.Person(
            name=name,
            sex=sex,  # type: ignore[arg-type]
            birth_date=canonical.Date(year=year, month=month, day=day),
        ),
        minor=minor,
    )


def handover(
    action: int, victims: Sequence[canonical.Victim], case_id: uuid.UUID
) -> canonical.Message:
    return canonical.Message(
        case_id=str(case_id),
        action=action,  # type: ignore[arg-type]
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        victim_handover=canonical.VictimHandover(victims=list(victims), border_gate="VN-LETHANH"),
    )


def alert(
    category: int, urgency: int, case_id: uuid.UUID, action: int = canonical.ACTION_ISSUE
) -> canonical.Message:
    return canonical.Message(
        case_id=str(case_id),
        action=action,  # type: ignore[arg-type]
        handling=canonical.HANDLING_NORMAL,
        hotline_alert=canonical.HotlineAlert(category=category, urgency=urgency),  # type: ignore[arg-type]
    )


@dataclass
class MemoryStore:
    """A ReportStore holding sealed rows in memory; the SQL aggregates are given as lists."""

    rows: list[SealedRow] = field(default_factory=list)
    counts: list[MessageCount] = field(default_factory=list)
    acknowledgements: list[AcknowledgementFigures] = field(default_factory=list)
    delivery: list[DeliveryFigures] = field(default_factory=list)
    cancellations: list[CancellationCount] = field(default_factory=list)
    facts: dict[tuple[str, int], TalliedFacts] = field(default_factory=dict)
    pages: int = 0  # pages of untallied rows asked for

    def add(
        self,
        sender: Keyring,
        recipient: str,
        message: canonical.Message,
        at: datetime,
        *,
        direction: Literal["in", "out"],
    ) -> None:
        kind = Kind(message.WhichOneof("body") or "")
        sealed = seal(
            sender,
            recipient=recipient,
            kind=kind,
            case_id=uuid.UUID(message.case_id),
            message_id=uuid7(),
            payload=envelope.SealedPayload(message=message.SerializeToString()),
            created_at=at,
            expires_at=at + timedelta(days=1),
        )
        self.rows.append(
            SealedRow(
                direction,
                len(self.rows) + 1,
                uuid.UUID(message.case_id),
                kind.value,
                at,
                sealed.data,
            )
        )

    async def report_message_counts(
        self, month_starts: Sequence[datetime], kinds: Sequence[str], start: datetime, end: datetime
    ) -> list[MessageCount]:
        return self.counts

    async def report_acknowledgements(
        self, start: datetime, end: datetime, now: datetime
    ) -> list[AcknowledgementFigures]:
        return self.acknowledgements

    async def report_delivery_latency(
        self, start: datetime, end: datetime, kinds: Sequence[str]
    ) -> list[DeliveryFigures]:
        return self.delivery

    async def report_cancellations(self, start: datetime, end: datetime) -> list[CancellationCount]:
        return self.cancellations

    async def report_untallied_page(
        self,
        direction: Literal["in", "out"],
        kinds: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        after_id: int,
        limit: int,
    ) -> list[SealedRow]:
        self.pages += 1
        return sorted(
            (
                r
                for r in self.rows
                if r.direction == direction
                and r.id > after_id
                and start <= r.at < end
                and r.kind in kinds
                and (r.direction, r.id) not in self.facts
            ),
            key=lambda r: r.id,
        )[:limit]

    async def report_facts_insert(self, facts: Sequence[TalliedFacts], now: datetime) -> None:
        for item in facts:
            self.facts.setdefault((item.direction, item.row_id), item)

    async def report_facts_page(
        self,
        direction: Literal["in", "out"],
        start: datetime,
        end: datetime,
        kinds: Sequence[str],
        *,
        after_id: int,
        limit: int,
    ) -> list[FactsRow]:
        ordered = sorted(
            (
                r
                for r in self.rows
                if r.direction == direction
                and r.id > after_id
                and start <= r.at < end
                and r.kind in kinds
            ),
            key=lambda r: r.id,
        )
        return [
            FactsRow(
                r.direction, r.id, r.case_id, r.kind, r.at, self.facts.get((r.direction, r.id))
            )
            for r in ordered[:limit]
        ]

    async def report_case_origins(
        self, case_ids: Sequence[uuid.UUID], kinds: Sequence[str]
    ) -> dict[uuid.UUID, CaseOrigin]:
        found = {}
        for case in case_ids:
            sent = [r.at for r in self.rows if r.case_id == case and r.direction == "out"]
            received = [r.at for r in self.rows if r.case_id == case and r.direction == "in"]
            found[case] = CaseOrigin(case, min(sent, default=None), min(received, default=None))
        return found
