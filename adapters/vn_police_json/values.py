"""The value syntaxes of vn-police-json, each read and written by one pair of functions.

The encoder only writes a value that the matching reader accepts (a reader returns None for
what the format cannot hold), so an encoded document always decodes again, and whatever the
encoder had to leave out shows up in the loss check instead of as a broken document.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from adapters.common.localtime import PARTNER_ZONE, from_timestamp, to_timestamp
from adapters.common.text import ascii_digits
from gateway.wire import canonical

DATE_EXPECTED = "expected a date dd/mm/yyyy, 00 for an unknown day or month"
TIME_EXPECTED = "expected a time dd/mm/yyyy HH:MM, local time (UTC+7)"
CITIZEN_ID_EXPECTED = "expected a citizen ID number (CCCD) of 12 digits"
PASSPORT_EXPECTED = "expected a passport number of 1 to 20 letters A-Z and digits"
PROVINCE_EXPECTED = "expected an ISO 3166-2 province code such as VN-30 or KH-16"

# Digits are matched as [0-9] after Khmer numerals are folded: `\d` would also let through
# the digits of every other script, which int() accepts but no partner writes.
_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_TIME = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4}) ([0-9]{2}):([0-9]{2})")
_CITIZEN_ID = re.compile(r"[0-9]{12}")
_PASSPORT = re.compile(r"[A-Z0-9]{1,20}")
_PROVINCE = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")


def _is_date(year: int, month: int, day: int) -> bool:
    """A partial date the format can write: the year is always known, a day needs its month."""
    if not 1 <= year <= 9999 or not 0 <= month <= 12 or day < 0:
        return False
    if month == 0:
        return day == 0
    return day <= calendar.monthrange(year, month)[1]


def read_date(text: str) -> canonical.Date | None:
    """`00/03/1988` -> Date(1988, 3, 0); None when it is not a date of the format."""
    match = _DATE.fullmatch(ascii_digits(text))
    if match is None:
        return None
    day, month, year = (int(part) for part in match.groups())
    if not _is_date(year, month, day):
        return None
    return canonical.Date(year=year, month=month, day=day)


def write_date(date: canonical.Date) -> str | None:
    if not _is_date(date.year, date.month, date.day):
        return None
    return f"{date.day:02d}/{date.month:02d}/{date.year:04d}"


def read_time(text: str) -> Timestamp | None:
    """Local `dd/mm/yyyy HH:MM` (UTC+7) -> UTC instant; None when not a time of the format."""
    match = _TIME.fullmatch(ascii_digits(text))
    if match is None:
        return None
    day, month, year, hour, minute = (int(part) for part in match.groups())
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=PARTNER_ZONE)
        return to_timestamp(local)
    except (ValueError, OverflowError):  # no such day, or before year 1 once in UTC
        return None


def write_time(stamp: Timestamp) -> str | None:
    """UTC instant -> local `dd/mm/yyyy HH:MM`; seconds are dropped (the loss check says so).

    Written by hand rather than with strftime, whose %Y does not pad years before 1000.
    """
    try:
        local = from_timestamp(stamp).astimezone(PARTNER_ZONE)
    except (ValueError, OverflowError):  # out of the Timestamp range, or past 9999 locally
        return None
    return f"{local.day:02d}/{local.month:02d}/{local.year:04d} {local.hour:02d}:{local.minute:02d}"


def read_citizen_id(text: str) -> str | None:
    # Clerks group the 12 digits for reading (`064 088 001 234`); the number is the digits.
    number = "".join(ascii_digits(text).split())
    return number if _CITIZEN_ID.fullmatch(number) else None


def read_passport(text: str) -> str | None:
    # Passport numbers are printed in capitals; case carries no meaning.
    number = "".join(ascii_digits(text).split()).upper()
    return number if _PASSPORT.fullmatch(number) else None


def read_province(text: str) -> str | None:
    return text if _PROVINCE.fullmatch(text) else None


def read_phone(text: str) -> str:
    return ascii_digits(text)


def read_call_id(text: str) -> str:
    # The call id is matched against the hotline's own exports, which write ASCII digits.
    return ascii_digits(text)
