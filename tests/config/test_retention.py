"""The retention section: a delivered-message retention shorter than a message can live is
refused (the inbox row is what recognises a replay), the sweep's settings are read."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import load_config
from tests.config.test_loader import ENV, VALID_CONFIG, issues, write_node

LIMITS = "limits: {max_envelope_bytes: 512KiB, max_batch_bytes: 4194304}\n"
RETENTION_LINE = VALID_CONFIG.count("\n") + 1


def _with(retention: str, limits: str = LIMITS) -> str:
    return VALID_CONFIG.replace(LIMITS, limits) + f"retention: {retention}\n"


def test_sweep_settings_are_read(tmp_path: Path) -> None:
    config_file = write_node(
        tmp_path, _with("{delivered_messages: 31d, done_files: 2d, sweep_interval: 10m}")
    )
    retention = load_config(config_file, ENV).retention
    assert retention.delivered_messages == timedelta(days=31)
    assert retention.done_files == timedelta(days=2)
    assert retention.sweep_interval == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("retention", "limits", "shortest", "got"),
    [
        ("{delivered_messages: 7d}", LIMITS, "43205m", "7d"),
        # A wider clock skew lets a message arrive, and be replayed, later.
        (
            "{delivered_messages: 43210m}",
            LIMITS.replace("}", ", max_clock_skew: 15m}"),
            "43215m",
            "43210m",
        ),
    ],
)
def test_a_retention_shorter_than_a_message_lives_is_refused(
    tmp_path: Path, retention: str, limits: str, shortest: str, got: str
) -> None:
    config_file = write_node(tmp_path, _with(retention, limits))
    assert issues(config_file) == [
        f"{config_file}:{RETENTION_LINE}: retention: delivered_messages: expected at least "
        f"{shortest} (the longest message lifetime plus max_clock_skew: inbox rows recognise "
        f"replays until then), got {got}"
    ]
