"""The audit section: checkpoint defaults when absent, values read, refusals naming the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.config.schema import CheckpointsConfig
from tests.config.test_loader import ENV, VALID_CONFIG, issues, write_node


def _with(section: str) -> str:
    return VALID_CONFIG + f"audit: {section}\n"


@pytest.mark.parametrize(
    ("section", "checkpoints"),
    [
        (None, CheckpointsConfig(timedelta(hours=1), 1000)),
        ("{}", CheckpointsConfig(timedelta(hours=1), 1000)),
        ("{checkpoints: {every: 15m}}", CheckpointsConfig(timedelta(minutes=15), 1000)),
        ("{checkpoints: {after_entries: 4096}}", CheckpointsConfig(timedelta(hours=1), 4096)),
        ("{checkpoints: {every: 2h, after_entries: 1}}", CheckpointsConfig(timedelta(hours=2), 1)),
    ],
    ids=["absent", "empty", "every", "most", "both"],
)
def test_checkpoint_settings_are_read(
    tmp_path: Path, section: str | None, checkpoints: CheckpointsConfig
) -> None:
    text = VALID_CONFIG if section is None else _with(section)
    assert load_config(write_node(tmp_path, text), ENV).audit.checkpoints == checkpoints


@pytest.mark.parametrize(
    ("section", "issue"),
    [
        ("{checkpoints: {after_entries: 4097}}", "audit.checkpoints.after_entries"),
        ("{checkpoints: {after_entries: 0}}", "audit.checkpoints.after_entries"),
        ("{checkpoints: {every: 30s}}", "audit.checkpoints.every: expected at least 1m"),
        ("{checkpoints: {every: soon}}", "audit.checkpoints.every"),
        ("{checkpoint: {}}", "audit.checkpoint: unknown key"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(tmp_path: Path, section: str, issue: str) -> None:
    [found] = issues(write_node(tmp_path, _with(section)))
    assert issue in found
