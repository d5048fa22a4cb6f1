"""Reading the acknowledgements section: which sent messages a person at the peer must
acknowledge, and within how long (docs/PROTOCOL.md section 13).

A list of rules, the first that matches a message wins; a message no rule matches needs no
acknowledgement. Each rule names a kind, at most one condition of that kind (a hotline
alert's `urgency`, a wanted notice's `request`, a handover's `action`) and `within`. When the
key is absent the defaults of issue 11 apply (DEFAULT_ACKNOWLEDGEMENTS); an empty list turns
deadlines off. The deadline is fixed when a message is queued, so a later change here moves
no deadline already running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gateway.config.converters import choice, duration, sequence_of
from gateway.config.walker import Value
from gateway.wire import Kind

# The condition each kind may name, and the values it takes (the canonical enums' names,
# lower case, without their prefix).
CONDITIONS: dict[Kind, tuple[str, tuple[str, ...]]] = {
    Kind.HOTLINE_ALERT: ("urgency", ("critical", "high", "normal")),
    Kind.WANTED_PERSON_NOTICE: ("request", ("arrest", "locate", "inform")),
    Kind.VICTIM_HANDOVER: (
        "action",
        ("propose", "accept", "counter_propose", "reject", "complete", "update", "cancel"),
    ),
}
_KINDS = tuple(kind.value for kind in Kind)


@dataclass(frozen=True)
class AcknowledgementRule:
    """Messages of kind (and, when set, whose condition field has value) need a person's
    acknowledgement within `within` of being queued."""

    kind: Kind
    within: timedelta
    condition: str | None = None  # the field: urgency, request or action
    value: str | None = None  # its value, lower case: critical, arrest, propose


DEFAULT_ACKNOWLEDGEMENTS: tuple[AcknowledgementRule, ...] = (
    AcknowledgementRule(Kind.HOTLINE_ALERT, timedelta(hours=1), "urgency", "critical"),
    AcknowledgementRule(Kind.WANTED_PERSON_NOTICE, timedelta(hours=12), "request", "arrest"),
    AcknowledgementRule(Kind.VICTIM_HANDOVER, timedelta(hours=24), "action", "propose"),
)


def read_acknowledgement_rule(value: Value) -> AcknowledgementRule:
    """One rule (Rejected, with the issues recorded, when it is broken)."""
    r = value.mapping()
    kind_text = r.required("kind", choice(_KINDS))
    within = r.required("within", duration)
    condition: str | None = None
    found: str | None = None
    if r.ok("kind"):
        # Only this kind's condition: another's (a wanted notice has no urgency) is then an
        # unknown key, which finish() reports with the keys expected.
        condition, options = CONDITIONS[Kind(kind_text)]
        found = r.optional(condition, choice(options), None)
    else:
        r.expect(*(name for name, _ in CONDITIONS.values()))
    r.finish()
    return AcknowledgementRule(
        Kind(kind_text), within, condition if found is not None else None, found
    )


def read_acknowledgements(value: Value) -> tuple[AcknowledgementRule, ...]:
    """The section: a list of rules, possibly empty (no deadlines)."""
    return sequence_of(read_acknowledgement_rule, item="acknowledgement rule")(value)
