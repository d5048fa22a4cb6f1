"""Durations, sizes and instants as written in config files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import (
    format_duration,
    format_instant,
    parse_duration,
    parse_instant,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "", "5 m", "1w", "0s", "-1s", "1.5h", "m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"^expected a duration such as 500ms, 30s"):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=10**12).map(lambda ms: timedelta(milliseconds=ms)))
def test_duration_round_trips(duration: timedelta) -> None:
    assert parse_duration(format_duration(duration)) == duration


def test_format_duration_picks_the_largest_exact_unit() -> None:
    assert format_duration(timedelta(days=3650)) == "3650d"
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(milliseconds=1500)) == "1500ms"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512KiB", 512 * 1024), ("1MiB", 1024**2), ("16MiB", 16 * 1024**2), ("2GiB", 2 * 1024**3),
     ("100B", 100), ("4096", 4096)],
)  # fmt: skip
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_refuses_decimal_units_with_a_hint() -> None:
    with pytest.raises(ValueError, match=r"units are KiB, MiB, GiB"):
        parse_size("1MB")
    with pytest.raises(ValueError, match=r"larger than zero"):
        parse_size("0KiB")


def test_parse_instant() -> None:
    expected = datetime(2026, 11, 23, tzinfo=UTC)
    assert parse_instant("2026-11-23T00:00:00Z") == expected
    assert parse_instant("2026-11-23T07:00:00+07:00") == expected
    assert format_instant(parse_instant("2026-11-23T07:00:00+07:00")) == "2026-11-23T00:00:00Z"
    for naive in ("2026-11-23T00:00:00", "2026-11-23", "tomorrow"):
        with pytest.raises(ValueError, match=r"^expected a date and time with a zone"):
            parse_instant(naive)
