"""The acknowledgements section: rules read in order, the defaults when absent, [] for none,
and each refusal naming its field; then which rule a message meets (deadline_for)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.acknowledgements import DEFAULT_ACKNOWLEDGEMENTS, AcknowledgementRule
from gateway.federation.acknowledgements import deadline_for
from gateway.wire import Kind, canonical
from tests.config.test_loader import ENV, VALID_CONFIG, issues, write_node

LINE = VALID_CONFIG.count("\n") + 1
HOUR = timedelta(hours=1)


def _with(section: str) -> str:
    return VALID_CONFIG + f"acknowledgements: {section}\n"


def test_the_defaults_apply_when_the_section_is_absent(tmp_path: Path) -> None:
    config = load_config(write_node(tmp_path, VALID_CONFIG), ENV)
    assert config.acknowledgements == DEFAULT_ACKNOWLEDGEMENTS
    assert [(r.kind, r.value, r.within) for r in DEFAULT_ACKNOWLEDGEMENTS] == [
        (Kind.HOTLINE_ALERT, "critical", HOUR),
        (Kind.WANTED_PERSON_NOTICE, "arrest", 12 * HOUR),
        (Kind.VICTIM_HANDOVER, "propose", 24 * HOUR),
    ]


@pytest.mark.parametrize(
    ("section", "rules"),
    [
        ("[]", ()),
        (
            "[{kind: hotline_alert, within: 30m}]",
            (AcknowledgementRule(Kind.HOTLINE_ALERT, HOUR / 2),),
        ),
        (
            "[{kind: wanted_person_notice, request: locate, within: 2s},"
            " {kind: victim_handover, action: counter_propose, within: 2d}]",
            (
                AcknowledgementRule(
                    Kind.WANTED_PERSON_NOTICE, timedelta(seconds=2), "request", "locate"
                ),
                AcknowledgementRule(Kind.VICTIM_HANDOVER, 48 * HOUR, "action", "counter_propose"),
            ),
        ),
    ],
    ids=["none", "every-alert", "conditions"],
)
def test_rules_are_read_in_order(
    tmp_path: Path, section: str, rules: tuple[AcknowledgementRule, ...]
) -> None:
    assert load_config(write_node(tmp_path, _with(section)), ENV).acknowledgements == rules


@pytest.mark.parametrize(
    ("section", "issue"),
    [
        (
            "{kind: hotline_alert}",
            "acknowledgements: expected a list of acknowledgement rules, got a mapping",
        ),
        (
            "[{kind: parcel, within: 1h}]",
            "acknowledgements[0].kind: expected one of: wanted_person_notice, victim_handover, "
            "hotline_alert, got 'parcel'",
        ),
        ("[{kind: hotline_alert}]", "acknowledgements[0]: missing required key 'within'"),
        (
            "[{kind: hotline_alert, within: 0s}]",
            "acknowledgements[0].within: expected a duration such as 500ms, 30s, 10m, 2h or 7d, "
            "longer than zero, got '0s'",
        ),
        (
            "[{kind: hotline_alert, urgency: panic, within: 1h}]",
            "acknowledgements[0].urgency: expected one of: critical, high, normal, got 'panic'",
        ),
    ],
    ids=["not-a-list", "kind", "within-missing", "within-zero", "condition-value"],
)
def test_bad_rules_are_refused_naming_the_field(tmp_path: Path, section: str, issue: str) -> None:
    config_file = write_node(tmp_path, _with(section))
    assert issues(config_file) == [f"{config_file}:{LINE}: {issue}"]


def test_another_kinds_condition_is_refused(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, _with("[{kind: wanted_person_notice, urgency: critical, within: 1h}]")
    )
    assert issues(config_file) == [
        f"{config_file}:{LINE}: acknowledgements[0].urgency: unknown key 'urgency'; "
        "expected one of: kind, within, request"
    ]


def _notice(request: int) -> canonical.Message:
    return canonical.Message(
        action=canonical.ACTION_ISSUE,
        wanted_person_notice=canonical.WantedPersonNotice(request=request),  # type: ignore[arg-type]
    )


def _alert(urgency: int) -> canonical.Message:
    return canonical.Message(
        action=canonical.ACTION_ISSUE,
        hotline_alert=canonical.HotlineAlert(urgency=urgency),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("message", "within"),
    [
        (_notice(canonical.REQUEST_ARREST), 12 * HOUR),
        (_notice(canonical.REQUEST_LOCATE), None),
        (_alert(canonical.URGENCY_CRITICAL), HOUR),
        (_alert(canonical.URGENCY_HIGH), None),
        (
            canonical.Message(
                action=canonical.ACTION_PROPOSE, victim_handover=canonical.VictimHandover()
            ),
            24 * HOUR,
        ),
        (
            canonical.Message(
                action=canonical.ACTION_ACCEPT, victim_handover=canonical.VictimHandover()
            ),
            None,
        ),
        (canonical.Message(), None),
    ],
    ids=["arrest", "locate", "critical", "high", "propose", "accept", "no-body"],
)
def test_the_default_rules_pick_the_deadline(
    message: canonical.Message, within: timedelta | None
) -> None:
    assert deadline_for(DEFAULT_ACKNOWLEDGEMENTS, message) == within


def test_the_first_matching_rule_wins() -> None:
    rules = (
        AcknowledgementRule(Kind.HOTLINE_ALERT, HOUR, "urgency", "critical"),
        AcknowledgementRule(Kind.HOTLINE_ALERT, 3 * HOUR),
    )
    assert deadline_for(rules, _alert(canonical.URGENCY_CRITICAL)) == HOUR
    assert deadline_for(rules, _alert(canonical.URGENCY_NORMAL)) == 3 * HOUR
