"""Over-long and out-of-range numbers in a config are FILE:LINE issues, never a traceback.

Before: 4,301 digits raised Python's int-from-text ValueError out of `integer`, `size` and
`positive_number`; a 400-digit integer raised OverflowError in float(); a 4,301-digit duration
or size leaked Python's own message as the "expected" text; a 30-digit size was accepted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config.values import parse_duration, parse_size
from tests.config.test_loader import ENV, edited, issues, write_node

GATEWAY = str(Path(sys.executable).parent / "gateway")

DIGITS = "9" * 4301
RATE = "requests_per_second: 2.5"
BATCH = "batch_size: 10"
ENVELOPE = "max_envelope_bytes: 512KiB"
EXPECTED_SIZE = (
    "expected a size such as 512KiB, 1MiB, 16MiB or a whole number of bytes, at most 1024GiB"
)
EXPECTED_DURATION = "expected a duration such as 500ms, 30s, 10m, 2h or 7d, at most 999999999d"


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "expected"),
    [
        (BATCH, f"batch_size: {DIGITS}", 81, "retry.batch_size", "a number of at most 64"),
        (BATCH, "batch_size: 0b" + "1" * 5000, 81, "retry.batch_size", "a number of at most"),
        ("port: 9201", f"port: {DIGITS}", 21, "listen.api.port", "a number of at most 64"),
        (RATE, f"requests_per_second: {DIGITS}", 41, "peers[0].rate_limit.requests_per_second",
         "a number of at most 64"),
        (RATE, "requests_per_second: 1" + "0" * 400, 41,
         "peers[0].rate_limit.requests_per_second", "a number of at most 64"),
        (RATE, "requests_per_second: 0x" + "f" * 300, 41,
         "peers[0].rate_limit.requests_per_second", "a number of at most 64"),
        (RATE, "requests_per_second: 1" + "0" * 70 + ".5", 41,
         "peers[0].rate_limit.requests_per_second", "a number of at most 64"),
        (RATE, "requests_per_second: 1.0e+400", 41, "peers[0].rate_limit.requests_per_second",
         "a finite number larger than zero"),
        (ENVELOPE, f"max_envelope_bytes: {DIGITS}", 82, "limits.max_envelope_bytes",
         "a number of at most 64"),
        (ENVELOPE, f"max_envelope_bytes: {DIGITS}KiB", 82, "limits.max_envelope_bytes",
         EXPECTED_SIZE.removeprefix("expected ")),
        (ENVELOPE, "max_envelope_bytes: 99999999999999999999999GiB", 82,
         "limits.max_envelope_bytes", EXPECTED_SIZE.removeprefix("expected ")),
        (ENVELOPE, "max_envelope_bytes: 2048GiB", 82, "limits.max_envelope_bytes",
         EXPECTED_SIZE.removeprefix("expected ")),
        ("max_batch_bytes: 4194304", "max_batch_bytes: 99999999999999999999999999999", 82,
         "limits.max_batch_bytes", "a size larger than zero and at most 1024GiB"),
        ("max_backoff: 2h", f"max_backoff: {DIGITS}d", 81, "retry.max_backoff",
         EXPECTED_DURATION.removeprefix("expected ")),
        ("poll_interval: 500ms", f"poll_interval: {DIGITS}ms", 73,
         "local_clients[1].outgoing_folder.poll_interval",
         EXPECTED_DURATION.removeprefix("expected ")),
    ],
)  # fmt: skip
def test_an_over_long_number_is_one_issue_at_its_line(
    tmp_path: Path, old: str, new: str, line: int, key: str, expected: str
) -> None:
    config_file = write_node(tmp_path, edited(old, new))
    [issue] = issues(config_file)
    assert issue.startswith(f"{config_file}:{line}: {key}: expected {expected}"), issue
    assert len(issue) < 400  # the value is shortened, not echoed whole


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_size, DIGITS, "at most 1024GiB"),
        (parse_size, "1" * 21 + "B", "at most 1024GiB"),
        (parse_size, "1025GiB", "at most 1024GiB"),
        (parse_duration, DIGITS + "s", "at most 999999999d"),
        (parse_duration, "1000000000d", "at most 999999999d"),
    ],
)
def test_the_text_parsers_refuse_huge_values_with_their_own_words(
    parse: object, text: str, message: str
) -> None:
    assert callable(parse)
    with pytest.raises(ValueError, match=message) as raised:
        parse(text)
    assert "4300" not in str(raised.value)


def test_the_largest_size_is_accepted() -> None:
    assert parse_size("1024GiB") == 1024**4


@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        (BATCH, f"batch_size: {DIGITS}", 81, "retry.batch_size"),
        (RATE, "requests_per_second: 1" + "0" * 400, 41, "peers[0].rate_limit.requests_per_second"),
        (ENVELOPE, f"max_envelope_bytes: {DIGITS}", 82, "limits.max_envelope_bytes"),
    ],
)
def test_config_check_prints_the_line_not_a_traceback(
    tmp_path: Path, old: str, new: str, line: int, key: str
) -> None:
    config_file = write_node(tmp_path, edited(old, new))
    result = subprocess.run(
        [GATEWAY, "config", "check", str(config_file)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [reported] = result.stderr.strip().splitlines()
    assert reported.startswith(f"{config_file}:{line}: {key}: expected "), reported
