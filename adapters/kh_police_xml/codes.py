"""The code lists and value patterns of kh-police-xml, shared by the decoder and the encoder.

Both directions read the same tables so that a code can never be written that the decoder
would refuse, nor decoded into something the encoder cannot write back.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Final

from adapters.common.localtime import PARTNER_ZONE
from gateway.wire import Kind, canonical

FORMAT_ID: Final = "kh-police-xml"
NAMESPACE: Final = "urn:kh:police:liaison:1"
ROOT: Final = "Notice"

KIND_CODES: Final[dict[str, Kind]] = {
    "WANTED": Kind.WANTED_PERSON_NOTICE,
    "HANDOVER": Kind.VICTIM_HANDOVER,
    "ALERT": Kind.HOTLINE_ALERT,
}
CODE_OF_KIND: Final[dict[Kind, str]] = {kind: code for code, kind in KIND_CODES.items()}

# NEW is not listed for handovers on purpose: the decoder accepts it as PROPOSE with a
# warning, and the encoder never writes it for a handover.
NOTICE_ACTIONS: Final[dict[str, canonical.Action.ValueType]] = {
    "NEW": canonical.ACTION_ISSUE,
    "UPDATE": canonical.ACTION_UPDATE,
    "CANCEL": canonical.ACTION_CANCEL,
}
HANDOVER_ACTIONS: Final[dict[str, canonical.Action.ValueType]] = {
    "PROPOSE": canonical.ACTION_PROPOSE,
    "ACCEPT": canonical.ACTION_ACCEPT,
    "REJECT": canonical.ACTION_REJECT,
    "COMPLETE": canonical.ACTION_COMPLETE,
    "UPDATE": canonical.ACTION_UPDATE,
    "CANCEL": canonical.ACTION_CANCEL,
}
# A canonical action the kind's code list lacks is written as its nearest code; the loss
# check then reports the change, because decoding gives the nearest action back.
NEAREST_NOTICE_ACTION: Final[dict[canonical.Action.ValueType, str]] = {
    canonical.ACTION_ISSUE: "NEW",
    canonical.ACTION_PROPOSE: "NEW",
    canonical.ACTION_UPDATE: "UPDATE",
    canonical.ACTION_ACCEPT: "UPDATE",
    canonical.ACTION_COUNTER_PROPOSE: "UPDATE",
    canonical.ACTION_REJECT: "UPDATE",
    canonical.ACTION_COMPLETE: "UPDATE",
    canonical.ACTION_CANCEL: "CANCEL",
}
NEAREST_HANDOVER_ACTION: Final[dict[canonical.Action.ValueType, str]] = {
    canonical.ACTION_PROPOSE: "PROPOSE",
    canonical.ACTION_ISSUE: "PROPOSE",
    canonical.ACTION_ACCEPT: "ACCEPT",
    canonical.ACTION_COUNTER_PROPOSE: "UPDATE",
    canonical.ACTION_REJECT: "REJECT",
    canonical.ACTION_COMPLETE: "COMPLETE",
    canonical.ACTION_UPDATE: "UPDATE",
    canonical.ACTION_CANCEL: "CANCEL",
}

CLASSIFICATIONS: Final[dict[str, canonical.Handling.ValueType]] = {
    "NORMAL": canonical.HANDLING_NORMAL,
    "RESTRICTED": canonical.HANDLING_RESTRICTED,
    "PROTECTED": canonical.HANDLING_VICTIM_PROTECTED,
}
# Safer than normal when the sender said nothing: victims' data for handovers, liaison
# officers only for the rest.
DEFAULT_CLASSIFICATION: Final[dict[Kind, str]] = {
    Kind.WANTED_PERSON_NOTICE: "RESTRICTED",
    Kind.VICTIM_HANDOVER: "PROTECTED",
    Kind.HOTLINE_ALERT: "RESTRICTED",
}

SEXES: Final[dict[str, canonical.Sex.ValueType]] = {
    "M": canonical.SEX_MALE,
    "F": canonical.SEX_FEMALE,
    "U": canonical.SEX_UNKNOWN,
}
REQUESTS: Final[dict[str, canonical.Request.ValueType]] = {
    "ARREST": canonical.REQUEST_ARREST,
    "LOCATE": canonical.REQUEST_LOCATE,
    "INFORM": canonical.REQUEST_INFORM,
}
NEEDS: Final[dict[str, canonical.Need.ValueType]] = {
    "MEDICAL": canonical.NEED_MEDICAL,
    "PSYCHOLOGICAL": canonical.NEED_PSYCHOLOGICAL,
    "LEGAL": canonical.NEED_LEGAL,
    "INTERPRETER": canonical.NEED_INTERPRETER,
}
ROLES: Final[dict[str, canonical.Role.ValueType]] = {
    "VICTIM": canonical.ROLE_VICTIM,
    "SUSPECT": canonical.ROLE_SUSPECT,
}
CHANNELS: Final[dict[str, canonical.Channel.ValueType]] = {
    "PHONE": canonical.CHANNEL_PHONE,
    "MESSAGING": canonical.CHANNEL_MESSAGING,
    "WALK_IN": canonical.CHANNEL_WALK_IN,
}
# Zalo and Facebook are messaging services the format does not name; writing them as
# MESSAGING narrows the value, which the loss check reports.
CHANNEL_CODE: Final[dict[canonical.Channel.ValueType, str]] = {
    canonical.CHANNEL_PHONE: "PHONE",
    canonical.CHANNEL_ZALO: "MESSAGING",
    canonical.CHANNEL_FACEBOOK: "MESSAGING",
    canonical.CHANNEL_MESSAGING: "MESSAGING",
    canonical.CHANNEL_WALK_IN: "WALK_IN",
}
CATEGORIES: Final[dict[str, canonical.Category.ValueType]] = {
    "SUSPECTED_TRAFFICKING": canonical.CATEGORY_SUSPECTED_TRAFFICKING,
    "MISSING": canonical.CATEGORY_MISSING,
    "RESCUE": canonical.CATEGORY_RESCUE,
    "INFORMATION": canonical.CATEGORY_INFORMATION,
}
URGENCIES: Final[dict[str, canonical.Urgency.ValueType]] = {
    "CRITICAL": canonical.URGENCY_CRITICAL,
    "HIGH": canonical.URGENCY_HIGH,
    "NORMAL": canonical.URGENCY_NORMAL,
}

# [0-9], never \d: \d also matches Thai, Lao and other digits that ascii_digits leaves alone.
DATE_RE: Final = re.compile(r"([0-9]{2})-([0-9]{2})-([0-9]{4})")
YEAR_RE: Final = re.compile(r"[0-9]{4}")
TIME_RE: Final = re.compile(r"[0-9]{2}-[0-9]{2}-[0-9]{4} [0-9]{2}:[0-9]{2}")
TIME_PATTERN: Final = "%d-%m-%Y %H:%M"
COUNTRY_RE: Final = re.compile(r"[A-Z]{2}")
PROVINCE_RE: Final = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
KH_ID_RE: Final = re.compile(r"[0-9]{9}")
PASSPORT_RE: Final = re.compile(r"[A-Za-z0-9]+")

EXPECT_DATE: Final = "expected a date dd-mm-yyyy (ASCII or Khmer digits)"
EXPECT_BIRTH: Final = "expected a date dd-mm-yyyy or a birth year yyyy (ASCII or Khmer digits)"
EXPECT_TIME: Final = "expected a time dd-mm-yyyy HH:MM, local time UTC+7 (ASCII or Khmer digits)"
EXPECT_COUNTRY: Final = "expected an ISO 3166-1 alpha-2 country code (VN, KH, LA)"
EXPECT_PROVINCE: Final = "expected an ISO 3166-2 province code (KH-16, VN-30)"
EXPECT_KH_ID: Final = "expected a Cambodian ID card number of 9 digits (ASCII or Khmer digits)"
EXPECT_PASSPORT: Final = "expected a passport number of ASCII letters and digits"


def full_date(value: canonical.Date) -> str | None:
    """`dd-mm-yyyy` for a fully known, real calendar date; None when it cannot be written."""
    try:
        date(value.year, value.month, value.day)
    except (ValueError, OverflowError):  # uint32 parts can exceed what date() takes
        return None
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


def birth_date(value: canonical.Date) -> str | None:
    """A full date, or the year alone when only the year is usable.

    The format has no month-and-year form, so a month without a day is dropped (and the
    loss check reports it) rather than written in a shape the partner would refuse.
    """
    written = full_date(value)
    if written is not None:
        return written
    if 1 <= value.year <= 9999:
        return f"{value.year:04d}"
    return None


def local_time(instant: datetime) -> str | None:
    """`dd-mm-yyyy HH:MM` in UTC+7, written by hand so years below 1000 keep four digits."""
    try:
        local = instant.astimezone(PARTNER_ZONE)
    except OverflowError:
        return None
    return f"{local.day:02d}-{local.month:02d}-{local.year:04d} {local.hour:02d}:{local.minute:02d}"


def _in_khmer_block(char: str) -> bool:
    # Khmer (U+1780-U+17FF) and Khmer Symbols (U+19E0-U+19FF).
    return "\u1780" <= char <= "\u17ff" or "\u19e0" <= char <= "\u19ff"


def is_khmer_script(name: str) -> bool:
    """True when the name has letters and every letter is Khmer.

    Khmer vowel signs are combining marks, not letters, so only letters are tested; they
    sit in the Khmer block anyway.
    """
    letters = [c for c in name if unicodedata.category(c).startswith("L")]
    return bool(letters) and all(_in_khmer_block(c) for c in letters)
