"""Partner local time (UTC+7, no zone written) to and from canonical UTC instants.

Both countries of the first federation use UTC+7 all year, with no daylight saving, so a
fixed offset is exact; a partner in another zone would get its own constant here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf.timestamp_pb2 import Timestamp

PARTNER_ZONE = timezone(timedelta(hours=7), "UTC+7")


def parse_local(text: str, pattern: str) -> datetime:
    """Local wall-clock text (strptime pattern) to an aware UTC datetime; ValueError if bad."""
    naive = datetime.strptime(text, pattern)  # the zone is implied by the format
    return naive.replace(tzinfo=PARTNER_ZONE).astimezone(UTC)


def format_local(instant: datetime, pattern: str) -> str:
    """An aware instant as partner local wall-clock text."""
    return instant.astimezone(PARTNER_ZONE).strftime(pattern)


def to_timestamp(instant: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(instant.astimezone(UTC).replace(tzinfo=None))
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime().replace(tzinfo=UTC)
