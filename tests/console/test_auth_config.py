"""The config's `console:` section: read with its defaults, refused with FILE:LINE and the
key named, and carried into the console's settings by gateway.components.console_context."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gateway.components import console_context, utc_now
from gateway.config import DEFAULT_CONSOLE, load_config
from gateway.console import ConsoleSettings
from gateway.store import Store
from tests.config.test_loader import ENV, VALID_CONFIG, issues, write_node

CONSOLE_LINE = VALID_CONFIG.count("\n") + 2


def _with(console: str) -> str:
    return VALID_CONFIG + f"console:\n  {console}\n"


def test_the_defaults_are_the_settings_defaults(tmp_path: Path) -> None:
    config = load_config(write_node(tmp_path), ENV)
    assert config.console == DEFAULT_CONSOLE
    settings = ConsoleSettings()
    assert (
        settings.session_idle_timeout,
        settings.session_lifetime,
        settings.lockout_after_failures,
        settings.lockout_duration,
    ) == (timedelta(minutes=30), timedelta(hours=12), 5, timedelta(minutes=15))


async def test_the_section_reaches_the_console_settings(tmp_path: Path, store: Store) -> None:
    section = (
        "{session_idle_timeout: 10m, session_lifetime: 8h, lockout_after_failures: 3, "
        "lockout_duration: 1h}"
    )
    config = load_config(write_node(tmp_path, _with(section)), ENV)
    settings = console_context(config, store, utc_now).settings
    assert settings == ConsoleSettings(
        session_idle_timeout=timedelta(minutes=10),
        session_lifetime=timedelta(hours=8),
        lockout_after_failures=3,
        lockout_duration=timedelta(hours=1),
        secure_cookies=config.listen.api.tls is not None,
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{lockout_after_failures: 0}", "console.lockout_after_failures: expected an integer"),
        ("{lockout_duration: 30s}", "console.lockout_duration: expected at least 1m, got 30s"),
        ("{session_idle_timeout: soon}", "console.session_idle_timeout: expected a duration"),
        (
            "{session_idle_timeout: 2h, session_lifetime: 1h}",
            "console.session_idle_timeout: expected at most session_lifetime (1h), got 2h",
        ),
        (
            "{session_lifetime: 10m}",
            "console.session_lifetime: expected at least session_idle_timeout (30m), got 10m",
        ),
        ("{session_timeout: 1h}", "console.session_timeout: unknown key"),
    ],
)
def test_bad_values_are_refused_with_the_line_and_key(
    tmp_path: Path, section: str, message: str
) -> None:
    config_file = write_node(tmp_path, _with(section))
    found = issues(config_file)
    assert len(found) == 1, found
    assert found[0].startswith(f"{config_file}:{CONSOLE_LINE}: {message}"), found[0]
