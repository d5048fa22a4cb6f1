"""Whatever an operator writes, load_config answers with a config or a ConfigError, never a trace.

Hypothesis replaces the value of one line of a valid config (or the whole line) with awkward
YAML: explicit tags, huge numbers, control characters, broken flow collections.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ConfigError, load_config
from tests.config.test_loader import ENV, VALID_CONFIG, write_node

AWKWARD_VALUES = [
    "",
    "~",
    "[",
    "{}",
    "[]",
    "- x",
    "!env",
    "!env 1BAD",
    "!env UNSET_VARIABLE",
    "!!int abc",
    "!!float x",
    "!!timestamp 2026-13-45",
    "!!binary AAAA",
    "!!python/object:os.system ls",
    "2026-13-45",
    "9999-12-31T23:00:00-05:00",
    "99999999999999999999d",
    "0",
    "-1",
    "1e999",
    ".nan",
    "yes",
    "0x1F",
    "1:30",
    '"a\\0b"',
    '"line\\nbreak"',
    "&anchor x",
    "*missing_alias",
    "https://[::1",
    "http://[::1]:99999/",
    "ed25519:" + "A" * 43 + "=",
    # Over-long numbers: found by fuzzing only once they were seeds (issue 7).
    "9" * 4301,
    "9" * 4301 + "KiB",
    "9" * 4301 + "s",
    "1" + "0" * 400,
    "1" + "0" * 400 + ".5",
    "1.0e+400",
    "0x" + "f" * 300,
    "99999999999999999999999GiB",
]

LINES = VALID_CONFIG.splitlines()


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("node")
    write_node(directory)
    return directory


def check_loads_or_reports(config_file: Path, text: str) -> None:
    config_file.write_text(text)
    try:
        load_config(config_file, ENV)
    except ConfigError as error:
        issues = error.issues
    else:
        return
    assert issues
    for issue in issues:
        assert issue.line >= 0
        assert issue.message
        assert "\n" not in str(issue)


@settings(max_examples=300)
@given(
    index=st.integers(min_value=0, max_value=len(LINES) - 1),
    value=st.sampled_from(AWKWARD_VALUES) | st.text(max_size=20),
    whole_line=st.booleans(),
)
def test_any_single_line_edit_gives_a_config_or_issues(
    node_dir: Path, index: int, value: str, whole_line: bool
) -> None:
    lines = list(LINES)
    key, colon, _ = lines[index].partition(": ")
    lines[index] = value if whole_line or not colon else f"{key}: {value}"
    check_loads_or_reports(node_dir / "node.yaml", "\n".join(lines) + "\n")
