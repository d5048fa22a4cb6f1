"""The console's languages: gettext catalogues, dates, times and digits per reader.

Design notes:
- Each console part owns its catalogue file (locale/<lang>/LC_MESSAGES/<part>.po), so merges
  never touch one shared file; at start-up every *.po of a language is read with Babel and
  merged into one in-memory Translations (no compiled .mo files to keep in step).
- Python code marks text with `N_()` (a no-op that the catalogue test extracts); templates
  translate with `_()`. Untranslated entries fall back to the English msgid, never to blank.
- Dates and times follow the reader, not the sender: vi dd/MM/yyyy, km the same with Khmer
  digits (Babel's km data uses Latin digits, so digits are transliterated), en d MMM yyyy.
  Both countries keep UTC+7 all year, so times are shown in that fixed offset.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from importlib import resources

from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from gateway.console.context import CONSOLE_LANGUAGES, ConsoleLanguage

# Indochina Time: Viet Nam and Cambodia, no daylight saving.
LOCAL_TIME = timezone(timedelta(hours=7), "UTC+7")
DEFAULT_LANGUAGE: ConsoleLanguage = "en"
# The language of a node's own country when neither the reader nor their cookie says.
COUNTRY_LANGUAGES: Mapping[str, ConsoleLanguage] = {"VN": "vi", "KH": "km"}

_KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")

# Babel patterns per reader (CLDR syntax). Vietnamese officers write dates day first with
# two-digit day and month; Khmer official documents do the same, in Khmer digits.
_DATETIME_PATTERNS: Mapping[ConsoleLanguage, str] = {
    "vi": "dd/MM/yyyy HH:mm",
    "km": "dd/MM/yyyy HH:mm",
    "en": "d MMM yyyy, HH:mm",
}
_DATE_PATTERNS: Mapping[ConsoleLanguage, str] = {
    "vi": "dd/MM/yyyy",
    "km": "dd/MM/yyyy",
    "en": "d MMM yyyy",
}
_MONTH_PATTERNS: Mapping[ConsoleLanguage, str] = {
    "vi": "MM/yyyy",
    "km": "MM/yyyy",
    "en": "MMM yyyy",
}


def N_(message: str) -> str:  # noqa: N802 - the gettext convention extractors look for
    """Marks `message` as a msgid for the catalogues; translated later, in the reader's
    language, by the template that shows it."""
    return message


def as_language(value: str | None) -> ConsoleLanguage | None:
    """`value` if it is one of the console's languages."""
    for language in CONSOLE_LANGUAGES:
        if value == language:
            return language
    return None


def _catalogue_files(language: str) -> list[resources.abc.Traversable]:
    folder = resources.files("gateway.console") / "locale" / language / "LC_MESSAGES"
    if not folder.is_dir():
        return []
    return sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".po")),
        key=lambda entry: entry.name,
    )


def load_catalogue(language: str) -> Catalog:
    """Every *.po of `language` merged into one catalogue (fuzzy entries left out)."""
    merged = Catalog(locale=language)
    for entry in _catalogue_files(language):
        with entry.open("rb") as po:
            catalogue = read_po(po, locale=language)
        for message in catalogue:
            if message.id and not message.fuzzy:
                merged.add(message.id, message.string, context=message.context)
    return merged


def load_translations(language: str) -> Translations:
    """The gettext Translations of `language`, compiled in memory from its catalogues."""
    compiled = io.BytesIO()
    write_mo(compiled, load_catalogue(language))
    compiled.seek(0)
    return Translations(compiled)


def digits(value: object, language: str) -> str:
    """`value` as text with the reader's digits (Khmer digits for km)."""
    text = str(value)
    return text.translate(_KHMER_DIGITS) if language == "km" else text


def _language(language: str) -> ConsoleLanguage:
    return as_language(language) or DEFAULT_LANGUAGE


def format_local_datetime(moment: datetime, language: str) -> str:
    """An aware datetime in local time (UTC+7), in the reader's convention."""
    reader = _language(language)
    text = format_datetime(moment, _DATETIME_PATTERNS[reader], tzinfo=LOCAL_TIME, locale=reader)
    return digits(text, reader)


def format_partial_date(value: object, language: str) -> str:
    """A canonical blg.v1.Date (or a datetime.date) that may be known only to the year or
    the month (0 means unknown for any part); "" when unknown or None."""
    if value is None:
        return ""
    reader = _language(language)
    year, month, day = (int(getattr(value, part, 0) or 0) for part in ("year", "month", "day"))
    if not year:
        return ""
    if not month:
        return digits(f"{year:04d}", reader)
    try:
        if not day:
            text = format_date(date(year, month, 1), _MONTH_PATTERNS[reader], locale=reader)
        else:
            text = format_date(date(year, month, day), _DATE_PATTERNS[reader], locale=reader)
    except ValueError:
        # An impossible date from a partner is shown as sent rather than hidden.
        text = "/".join(f"{part:02d}" for part in (day, month) if part) + f"/{year:04d}"
    return digits(text, reader)


__all__ = [
    "COUNTRY_LANGUAGES",
    "DEFAULT_LANGUAGE",
    "LOCAL_TIME",
    "N_",
    "as_language",
    "digits",
    "format_local_datetime",
    "format_partial_date",
    "load_catalogue",
    "load_translations",
]
