"""The retention section: content periods per handling marking (with the former key
delivered_messages read as the normal period), the sweep's settings, and the refusals: a
period that is not positive, a stricter marking kept longer than a looser one, both names of
the normal period at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import ContentRetention, load_config
from tests.config.test_loader import ENV, VALID_CONFIG, issues, write_node

RETENTION_LINE = VALID_CONFIG.count("\n") + 1
DAY = timedelta(days=1)


def _with(retention: str) -> str:
    return VALID_CONFIG + f"retention: {retention}\n"


@pytest.mark.parametrize(
    ("retention", "content"),
    [
        ("{}", ContentRetention(90 * DAY, 30 * DAY, 14 * DAY)),
        ("{delivered_messages: 31d}", ContentRetention(31 * DAY, 30 * DAY, 14 * DAY)),
        # An unwritten stricter period follows a shorter looser one.
        ("{content: {normal: 10d}}", ContentRetention(10 * DAY, 10 * DAY, 10 * DAY)),
        (
            "{content: {normal: 60d, restricted: 20d, victim_protected: 2d}}",
            ContentRetention(60 * DAY, 20 * DAY, 2 * DAY),
        ),
    ],
)
def test_content_periods_are_read(
    tmp_path: Path, retention: str, content: ContentRetention
) -> None:
    config_file = write_node(tmp_path, _with(retention))
    assert load_config(config_file, ENV).retention.content == content


def test_sweep_settings_are_read(tmp_path: Path) -> None:
    config_file = write_node(tmp_path, _with("{done_files: 2d, sweep_interval: 10m}"))
    retention = load_config(config_file, ENV).retention
    assert retention.done_files == 2 * DAY
    assert retention.sweep_interval == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("retention", "issue"),
    [
        (
            "{content: {victim_protected: 0s}}",
            "retention.content.victim_protected: expected a duration such as 500ms, 30s, 10m, "
            "2h or 7d, longer than zero, got '0s'",
        ),
        (
            "{content: {normal: 20d, restricted: 40d}}",
            "retention.content.restricted: expected at most normal's period: stricter "
            "markings go sooner",
        ),
        (
            "{content: {restricted: 5d, victim_protected: 6d}}",
            "retention.content.victim_protected: expected at most restricted's period: "
            "stricter markings go sooner",
        ),
        # A bad looser period is reported alone; the stricter ones are still read.
        (
            "{content: {normal: soon}}",
            "retention.content.normal: expected a duration such as 500ms, 30s, 10m, 2h or 7d, "
            "got 'soon'",
        ),
        (
            "{delivered_messages: 90d, content: {normal: 30d}}",
            "retention.delivered_messages: expected only content.normal: delivered_messages "
            "is its former name, give one",
        ),
    ],
)
def test_bad_periods_are_refused_naming_the_field(
    tmp_path: Path, retention: str, issue: str
) -> None:
    config_file = write_node(tmp_path, _with(retention))
    assert issues(config_file) == [f"{config_file}:{RETENTION_LINE}: {issue}"]
