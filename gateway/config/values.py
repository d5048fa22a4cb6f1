"""Text forms of durations, sizes and instants as operators write them in config files.

Units are explicit (`30s`, not `30`) because a bare number in a timeout is the classic way to
be off by a factor of 1000. Sizes use binary units only (KiB, MiB, GiB) so that `1MiB` means
one thing; decimal `MB` is refused rather than guessed. Instants must carry a zone: keys from
two countries in different time zones are compared, and a naive time would silently shift a
validity window by seven hours.

The parsers raise ValueError whose message says what was expected but not what was given:
only the caller knows whether the input may be echoed (a value read from an environment
variable may be a secret), so the caller adds the "got ..." part.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

DURATION_UNITS: dict[str, timedelta] = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
SIZE_UNITS: dict[str, int] = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
# Every size is a limit on something held in memory or on disk; past this it is a typo, and
# a 30-digit size would overflow the 64-bit integers of the libraries it is handed to.
MAX_SIZE = 1024 * 1024**3
MAX_SIZE_TEXT = "1024GiB"
# A 64-bit count of anything is 20 digits; more is a typo, and past 4,300 Python refuses.
_MAX_AMOUNT_DIGITS = 20

DURATION_EXPECTED = "expected a duration such as 500ms, 30s, 10m, 2h or 7d"
SIZE_EXPECTED = "expected a size such as 512KiB, 1MiB, 16MiB or a whole number of bytes"
INSTANT_EXPECTED = (
    "expected a date and time with a zone, such as 2026-11-23T00:00:00Z or "
    "2026-11-23T07:00:00+07:00"
)

# "ms" must come before "m" so that 500ms is not read as 500 minutes followed by junk.
_DURATION_PART = r"(\d+)(ms|s|m|h|d)"
_DURATION = re.compile(rf"(?:{_DURATION_PART})+")
_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB)?")


def parse_duration(text: str) -> timedelta:
    """`30s` -> 30 seconds; parts may be combined (`1h30m`). Zero and negative are refused."""
    if not _DURATION.fullmatch(text):
        raise ValueError(DURATION_EXPECTED)
    try:
        total = sum(
            (
                int(amount) * DURATION_UNITS[unit]
                for amount, unit in re.findall(_DURATION_PART, text)
            ),
            timedelta(),
        )
    except (OverflowError, ValueError):  # ValueError: past Python's 4,300-digit int limit
        raise ValueError(f"{DURATION_EXPECTED}, at most 999999999d") from None
    if total <= timedelta():
        raise ValueError(f"{DURATION_EXPECTED}, longer than zero")
    return total


def format_duration(duration: timedelta) -> str:
    """The shortest exact text form, so that formatting and parsing round-trip."""
    milliseconds, remainder = divmod(duration, timedelta(milliseconds=1))
    if remainder or milliseconds <= 0:
        raise ValueError("expected a positive duration in whole milliseconds")
    for unit in ("d", "h", "m", "s"):
        unit_ms = DURATION_UNITS[unit] // timedelta(milliseconds=1)
        if milliseconds % unit_ms == 0:
            return f"{milliseconds // unit_ms}{unit}"
    return f"{milliseconds}ms"


def parse_size(text: str) -> int:
    """`1MiB` -> 1048576; a bare number is bytes. Zero is refused: every size here is a limit."""
    match = _SIZE.fullmatch(text)
    if match is None:
        hint = (
            " (units are KiB, MiB, GiB: powers of 1024)" if re.search(r"[kKmMgG]B$", text) else ""
        )
        raise ValueError(SIZE_EXPECTED + hint)
    amount, unit = match.groups()
    if len(amount) > _MAX_AMOUNT_DIGITS:
        raise ValueError(f"{SIZE_EXPECTED}, at most {MAX_SIZE_TEXT}")
    size = int(amount) * SIZE_UNITS[unit or "B"]
    if size <= 0:
        raise ValueError(f"{SIZE_EXPECTED}, larger than zero")
    if size > MAX_SIZE:
        raise ValueError(f"{SIZE_EXPECTED}, at most {MAX_SIZE_TEXT}")
    return size


def parse_instant(text: str) -> datetime:
    """ISO 8601 with a zone (`Z` or `+07:00`) -> an aware datetime in UTC."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(INSTANT_EXPECTED) from None
    return to_utc(parsed)


def to_utc(value: date) -> datetime:
    """A datetime with a zone -> the same instant in UTC; a date or naive time is refused."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(INSTANT_EXPECTED)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the largest datetime
        raise ValueError(INSTANT_EXPECTED) from None


def format_instant(instant: datetime) -> str:
    """UTC with a `Z` suffix: the form the example configs and generated snippets use."""
    return to_utc(instant).isoformat().replace("+00:00", "Z")
