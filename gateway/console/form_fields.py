"""Reading one posted console form field by field, collecting errors as message ids.

Every reader method returns a usable value (empty when the field is wrong) and records at
most one error per field name, so a form is read to its end and every error is shown beside
its own field at once. Errors are gettext msgids marked with N_ (the template translates
them in the reader's language); they say what was expected and never quote what was typed,
which may be a victim's name.

Text is NFC with surrounding space removed, as the adapters make it; Khmer digits are
accepted wherever digits are expected (dates, times, phone numbers), since a Khmer keyboard
types them. Local times are UTC+7, the zone of both countries of the federation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TypeVar, cast

from google.protobuf.timestamp_pb2 import Timestamp
from multidict import MultiMapping

from adapters.common.localtime import PARTNER_ZONE, from_timestamp, to_timestamp
from adapters.common.names import family_first_latin, is_latin_script
from adapters.common.text import ascii_digits, nfc
from gateway.console.i18n import N_
from gateway.wire import canonical

LOCAL_ZONE = PARTNER_ZONE
Form = MultiMapping[str]
_Enum = TypeVar("_Enum", bound=int)

NAME_CHARS = 200
MIN_YEAR, MAX_YEAR = 2000, 2100  # of times entered (planned, received)
SHORT_CHARS = 200
LONG_CHARS = 4000

SEXES: dict[str, canonical.Sex.ValueType] = {
    "female": canonical.SEX_FEMALE,
    "male": canonical.SEX_MALE,
    "unknown": canonical.SEX_UNKNOWN,
}
NEEDS: dict[str, canonical.Need.ValueType] = {
    "medical": canonical.NEED_MEDICAL,
    "psychological": canonical.NEED_PSYCHOLOGICAL,
    "legal": canonical.NEED_LEGAL,
    "interpreter": canonical.NEED_INTERPRETER,
}
BORDER_GATES = ("VN-LETHANH", "KH-OYADAV", "VN-BOY")
PROVINCES = ("VN-30", "VN-28", "KH-16", "KH-19")
COUNTRIES = ("VN", "KH", "LA")
HANDLINGS: dict[str, canonical.Handling.ValueType] = {
    "normal": canonical.HANDLING_NORMAL,
    "restricted": canonical.HANDLING_RESTRICTED,
    "victim_protected": canonical.HANDLING_VICTIM_PROTECTED,
}

_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,23}$")
_LOCAL_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")
_LINE_BREAKS = frozenset("\n\r\t")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})

MSG_NAME = N_("Enter the name as written in the person's own script")
MSG_NAME_LATIN = N_("Enter the Latin form of the name, family name first (for example SOK Dara)")
MSG_LATIN_ONLY = N_("Enter the Latin form in Latin letters only")
MSG_TOO_LONG = N_("This text is too long: shorten it")
MSG_CONTROL = N_("Enter plain text, without control characters")
MSG_CHOICE = N_("Choose one of the values in the list")
MSG_BIRTH_DATE = N_("Enter the birth date as yyyy-mm-dd, or the year alone as yyyy")
MSG_DATE = N_("Enter the date as yyyy-mm-dd")
MSG_DATE_FUTURE = N_("Enter a date that is not in the future")
MSG_DATE_PAST = N_("Enter a date that is not in the past")
MSG_TIME = N_("Enter the date and time (local time, UTC+7)")
MSG_TIME_FUTURE = N_("Enter a time in the future")
MSG_TIME_PAST = N_("Enter a time that is not in the future")
MSG_PHONE = N_("Enter a phone number: digits, spaces and an optional leading +")


def local_input(stamp: Timestamp) -> str:
    """A canonical instant as the value of an <input type=datetime-local> (UTC+7)."""
    return from_timestamp(stamp).astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M")


def date_input(value: canonical.Date) -> str:
    """A partial canonical date as the text a date field takes back (yyyy, yyyy-mm, ...)."""
    if not value.year:
        return ""
    parts = [f"{value.year:04d}"]
    if value.month:
        parts.append(f"{value.month:02d}")
        if value.day:
            parts.append(f"{value.day:02d}")
    return "-".join(parts)


def code_of(values: Mapping[str, int], number: int) -> str:
    """The form value of an enum number ('' when it has none)."""
    return next((code for code, value in values.items() if value == number), "")


class FormReader:
    """Reads fields of one posted form; errors maps field names to msgids."""

    def __init__(self, form: Form, *, now: datetime) -> None:
        self.form = form
        self.now = now
        self.errors: dict[str, str] = {}

    def fail(self, name: str, msgid: str) -> None:
        """Record an error for a field (the first one found stays)."""
        self.errors.setdefault(name, msgid)

    def raw(self, name: str) -> str:
        return self.form.get(name, "").strip()

    def present(self, *names: str) -> bool:
        """True when any of the fields holds something other than white space."""
        return any(value.strip() for name in names for value in self.form.getall(name, []))

    def text(
        self,
        name: str,
        *,
        required: str | None = None,
        max_chars: int = SHORT_CHARS,
        multiline: bool = False,
    ) -> str:
        """A text field, NFC; required is the msgid shown when it is empty."""
        value = nfc(self.form.get(name, ""))
        if not value:
            if required is not None:
                self.fail(name, required)
            return ""
        allowed = _LINE_BREAKS if multiline else frozenset()
        if any(
            unicodedata.category(char) in _REFUSED_CATEGORIES and char not in allowed
            for char in value
        ):
            self.fail(name, MSG_CONTROL)
            return ""
        if len(value) > max_chars:
            self.fail(name, MSG_TOO_LONG)
            return ""
        return value

    def choice(
        self, name: str, values: Mapping[str, _Enum], *, required: str | None = None
    ) -> _Enum:
        """An enum from a select; 0 (unspecified) when empty or wrong."""
        code = self.raw(name)
        if code in values:
            return values[code]
        if code:
            self.fail(name, MSG_CHOICE)
        elif required is not None:
            self.fail(name, required)
        return cast(_Enum, 0)

    def code(self, name: str, codes: tuple[str, ...], *, required: str | None = None) -> str:
        """A code from a fixed list (border gate, province, country); '' when empty or wrong."""
        value = self.raw(name)
        if not value:
            if required is not None:
                self.fail(name, required)
            return ""
        if value not in codes:
            self.fail(name, MSG_CHOICE)
            return ""
        return value

    def choices(self, name: str, values: Mapping[str, _Enum]) -> list[_Enum]:
        """Every checked box of a group, in the list's order."""
        checked = {value.strip() for value in self.form.getall(name, []) if value.strip()}
        if checked - set(values):
            self.fail(name, MSG_CHOICE)
        return [number for code, number in values.items() if code in checked]

    def flag(self, name: str) -> bool:
        return self.raw(name) == "on"

    def local_time(
        self, name: str, *, required: str | None = None, future: bool | None = None
    ) -> Timestamp | None:
        """A datetime-local field (UTC+7) as a canonical instant; future=True wants a time
        after now, future=False one not after now."""
        text = ascii_digits(self.raw(name))
        if not text:
            if required is not None:
                self.fail(name, required)
            return None
        for pattern in _LOCAL_TIME_FORMATS:
            try:
                naive = datetime.strptime(text, pattern)
            except ValueError:
                continue
            if not MIN_YEAR <= naive.year <= MAX_YEAR:
                break  # a typing slip (year 0202), not a time anyone plans or reports
            instant = naive.replace(tzinfo=LOCAL_ZONE)
            if future is True and instant <= self.now:
                self.fail(name, MSG_TIME_FUTURE)
                return None
            if future is False and instant > self.now:
                self.fail(name, MSG_TIME_PAST)
                return None
            return to_timestamp(instant)
        self.fail(name, MSG_TIME)
        return None

    def date(
        self,
        name: str,
        *,
        expected: str = MSG_DATE,
        partial: bool = False,
        not_after_today: bool = False,
        not_before_today: bool = False,
    ) -> canonical.Date | None:
        """A date field: yyyy-mm-dd, or with partial also yyyy-mm and yyyy."""
        text = ascii_digits(self.raw(name))
        if not text:
            return None
        match = _DATE.match(text)
        if match is None or (not partial and match.group(3) is None):
            self.fail(name, expected)
            return None
        year, month, day = (int(part) if part else 0 for part in match.groups())
        try:
            date(year, month or 1, day or 1)
        except ValueError:
            self.fail(name, expected)
            return None
        today = self.now.astimezone(LOCAL_ZONE).date()
        earliest = date(year, month or 1, day or 1)
        if not_after_today and earliest > today:
            self.fail(name, MSG_DATE_FUTURE)
            return None
        if not_before_today and date(year, month or 12, day or 28) < today:
            self.fail(name, MSG_DATE_PAST)
            return None
        return canonical.Date(year=year, month=month, day=day)

    def phone(self, name: str) -> str:
        value = ascii_digits(self.text(name, max_chars=32))
        if value and not _PHONE.match(value):
            self.fail(name, MSG_PHONE)
            return ""
        return value

    def person(self, prefix: str, person: canonical.Person) -> bool:
        """Fill person from `<prefix>name`, `name_latin`, `sex`, `birth_date`; False (and no
        error) when the slot is empty, since empty slots are ignored."""
        fields = [f"{prefix}{suffix}" for suffix in ("name", "name_latin", "sex", "birth_date")]
        if not self.present(*fields):
            return False
        name = self.text(f"{prefix}name", required=MSG_NAME, max_chars=NAME_CHARS)
        latin = self.text(f"{prefix}name_latin", max_chars=NAME_CHARS)
        if latin and not is_latin_script(latin):
            self.fail(f"{prefix}name_latin", MSG_LATIN_ONLY)
        elif name and not latin:
            if is_latin_script(name):
                # A Vietnamese name's Latin form is the name without diacritics; a Khmer
                # one has no single romanisation, so the officer must write it.
                latin = family_first_latin(name)
            else:
                self.fail(f"{prefix}name_latin", MSG_NAME_LATIN)
        person.name = name
        person.name_latin = latin
        person.sex = self.choice(f"{prefix}sex", SEXES)
        born = self.date(
            f"{prefix}birth_date", expected=MSG_BIRTH_DATE, partial=True, not_after_today=True
        )
        if born is not None:
            person.birth_date.CopyFrom(born)
        return True

    def indexes(self, prefix: str, limit: int) -> list[int]:
        """The slot numbers below limit of the fields named <prefix>N-... in the form."""
        return sorted(index for index in slots_used(self.form, prefix) if index < limit)


def slots_used(form: Iterable[str], prefix: str) -> set[int]:
    """The slot numbers N of the fields named <prefix>N-... among the posted field names."""
    used = set()
    for key in form:
        if key.startswith(prefix):
            number, dash, _ = key[len(prefix) :].partition("-")
            index = slot_number(number)
            if dash and index is not None:
                used.add(index)
    return used


def slot_number(text: str) -> int | None:
    """A slot number posted in a field name or a query: ASCII digits, short enough to be
    one (str.isdigit() also accepts superscripts, which int() refuses, and int() refuses
    4,300 digits and more: `victims-<5,000 nines>-name` must be ignored, not a 500); None
    otherwise."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def person_fields(prefix: str, person: canonical.Person) -> list[tuple[str, str]]:
    """The form fields that refill a person's slot."""
    return [
        (f"{prefix}name", person.name),
        (f"{prefix}name_latin", person.name_latin),
        (f"{prefix}sex", code_of(SEXES, person.sex)),
        (f"{prefix}birth_date", date_input(person.birth_date)),
    ]
