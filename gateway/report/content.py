"""What the report needs from inside sealed envelopes, and nothing more.

Design notes:
- Victims' sex, age and minor status and hotline categories travel only inside sealed
  envelopes. `content_facts` opens one bounded batch (blocking: the caller runs it on a
  worker thread) and returns, per message, only coded facts: sex, an age group, the minor
  flag, category and urgency. Names, birth dates and document numbers never leave the
  function: the opened messages are dropped when it returns.
- Age is the age on the local calendar day the message was queued or received. A partly
  known birth date (year, or month and year) gives the youngest age it allows, so that a
  child is never counted as an adult for want of a day; no year gives "unknown".
- The facts are recorded once per message (`tally_batch`), sealed to this node's own key and
  bound to their row (gateway.crypto.drafts sealing), in report_facts: retention deletes
  victim-protected content after 14 days, so the report reads the recorded facts
  (`open_facts`), not the envelopes. A message that does not open (its keys are gone) is
  recorded as unreadable; one whose content went before it was tallied has no facts. Both
  are counted by kind, never logged with content.
"""

from __future__ import annotations

import json
import logging
import uuid
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from google.protobuf.message import DecodeError

from gateway.crypto import EnvelopeRejected, Keyring, reopen_sent, reopen_stored
from gateway.crypto.drafts import DraftUnreadable, SealedDraft, open_draft, seal_draft
from gateway.ops.logs import fields
from gateway.store.report_stats import FactsRow, SealedRow, TalliedFacts
from gateway.wire import canonical

log = logging.getLogger(__name__)

# Age groups of the steering committee's forms: (label, lowest age in years).
AGE_GROUPS: tuple[tuple[str, int], ...] = (
    ("0-11", 0),
    ("12-15", 12),
    ("16-17", 16),
    ("18-24", 18),
    ("25-39", 25),
    ("40+", 40),
)
UNKNOWN_AGE = "unknown"


@dataclass(frozen=True, slots=True)
class VictimFacts:
    sex: str  # female, male, unknown, not_recorded
    age_group: str  # one of AGE_GROUPS' labels, or UNKNOWN_AGE
    minor: bool


@dataclass(frozen=True, slots=True)
class ContentFacts:
    """One opened message, reduced to the coded facts the report counts."""

    case_id: uuid.UUID
    at: datetime
    kind: str  # victim_handover, hotline_alert, ... ; "" when the body is empty
    cancel: bool
    victims: tuple[VictimFacts, ...]
    category: str  # hotline alerts: the category's value, not_recorded
    urgency: str


def age_on(birth: canonical.Date, day: date) -> int | None:
    """Completed years on `day`, the youngest a partly known birth date allows; None when
    the year is unknown or the date is after `day`."""
    if not birth.year:
        return None
    month = birth.month if 1 <= birth.month <= 12 else 12
    last = monthrange(birth.year, month)[1] if 1 <= birth.year <= 9999 else 31
    birth_day = birth.day if 1 <= birth.day <= last else last
    years = day.year - birth.year - ((day.month, day.day) < (month, birth_day))
    return years if years >= 0 else None


def age_group(age: int | None) -> str:
    if age is None:
        return UNKNOWN_AGE
    label = AGE_GROUPS[0][0]
    for name, lowest in AGE_GROUPS:
        if age >= lowest:
            label = name
    return label


def _enum_value(enum: object, prefix: str, number: int) -> str:
    try:
        name: str = enum.Name(number)  # type: ignore[attr-defined]
    except ValueError:
        return "not_recorded"
    if number == 0:
        return "not_recorded"
    return name.removeprefix(prefix).lower()


def _facts(message: canonical.Message, row: SealedRow, zone: tzinfo) -> ContentFacts:
    body = message.WhichOneof("body") or ""
    day = row.at.astimezone(zone).date()
    victims: tuple[VictimFacts, ...] = ()
    category = urgency = ""
    if body == "victim_handover":
        victims = tuple(
            VictimFacts(
                _enum_value(canonical.Sex, "SEX_", victim.person.sex),
                age_group(age_on(victim.person.birth_date, day)),
                victim.minor,
            )
            for victim in message.victim_handover.victims
        )
    elif body == "hotline_alert":
        alert = message.hotline_alert
        category = _enum_value(canonical.Category, "CATEGORY_", alert.category)
        urgency = _enum_value(canonical.Urgency, "URGENCY_", alert.urgency)
    return ContentFacts(
        row.case_id,
        row.at,
        body,
        message.action == canonical.ACTION_CANCEL,
        victims,
        category,
        urgency,
    )


def _open(keyring: Keyring, row: SealedRow) -> canonical.Message | None:
    try:
        opened = (
            reopen_sent(keyring, row.envelope)
            if row.direction == "out"
            else reopen_stored(keyring, row.envelope)
        )
        return canonical.Message.FromString(opened.payload.message)
    except EnvelopeRejected as rejected:
        log.warning(
            "report_envelope_unreadable",
            extra=fields(direction=row.direction, reason=rejected.reason),
        )
    except DecodeError:
        log.warning(
            "report_envelope_unreadable", extra=fields(direction=row.direction, reason="decode")
        )
    return None


def content_facts(
    keyring: Keyring, rows: Sequence[SealedRow], zone: tzinfo
) -> list[ContentFacts | None]:
    """The facts of each row, None for one that does not open. Blocking: run on a thread."""
    found: list[ContentFacts | None] = []
    for row in rows:
        message = _open(keyring, row)
        found.append(None if message is None else _facts(message, row, zone))
    return found


def _context(direction: str, row_id: int) -> str:
    """What sealed facts are bound to: their row (moved to another row, they do not open)."""
    return f"report-facts:{direction}:{row_id}"


def facts_bytes(facts: ContentFacts) -> bytes:
    return json.dumps(
        {
            "kind": facts.kind,
            "cancel": facts.cancel,
            "victims": [[v.sex, v.age_group, v.minor] for v in facts.victims],
            "category": facts.category,
            "urgency": facts.urgency,
        },
        separators=(",", ":"),
    ).encode()


def facts_from_bytes(data: bytes, case_id: uuid.UUID, at: datetime) -> ContentFacts:
    """ValueError, KeyError or TypeError when data is not what facts_bytes wrote."""
    found = json.loads(data)
    return ContentFacts(
        case_id,
        at,
        str(found["kind"]),
        bool(found["cancel"]),
        tuple(
            VictimFacts(str(sex), str(group), bool(minor)) for sex, group, minor in found["victims"]
        ),
        str(found["category"]),
        str(found["urgency"]),
    )


def tally_batch(
    keyring: Keyring, rows: Sequence[SealedRow], zone: tzinfo, now: datetime
) -> list[TalliedFacts]:
    """Each row's facts sealed to this node, or unreadable. Blocking: run on a thread."""
    tallied: list[TalliedFacts] = []
    for row, facts in zip(rows, content_facts(keyring, rows, zone), strict=True):
        if facts is None:
            tallied.append(TalliedFacts(row.direction, row.id, None, None))
            continue
        sealed = seal_draft(
            keyring, facts_bytes(facts), context=_context(row.direction, row.id), at=now
        )
        tallied.append(TalliedFacts(row.direction, row.id, sealed.key_id, sealed.data))
    return tallied


def open_facts(keyring: Keyring, rows: Sequence[FactsRow]) -> list[ContentFacts | None]:
    """The recorded facts of each row; None when it has none or they do not open. Blocking."""
    found: list[ContentFacts | None] = []
    for row in rows:
        tallied = row.facts
        if tallied is None or tallied.key_id is None or tallied.sealed is None:
            found.append(None)
            continue
        try:
            data = open_draft(
                keyring,
                SealedDraft(tallied.key_id, tallied.sealed),
                context=_context(row.direction, row.id),
            )
            found.append(facts_from_bytes(data, row.case_id, row.at))
        except (DraftUnreadable, ValueError, KeyError, TypeError):
            log.warning("report_facts_unreadable", extra=fields(direction=row.direction))
            found.append(None)
    return found
