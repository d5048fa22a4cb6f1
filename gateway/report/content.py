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
- A message that does not open (content deleted by retention, keys gone) is counted as
  unreadable by kind, never logged with content.
"""

from __future__ import annotations

import logging
import uuid
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from google.protobuf.message import DecodeError

from gateway.crypto import EnvelopeRejected, Keyring, reopen_sent, reopen_stored
from gateway.ops.logs import fields
from gateway.store.report_stats import SealedRow
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
    if row.envelope is None:
        return None
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
