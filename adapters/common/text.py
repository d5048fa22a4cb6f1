"""Unicode normalisation and digits.

Older Vietnamese clients send decomposed text (NFD), Windows-1258 exports write tone marks as
combining characters, and Khmer documents mix Khmer and ASCII digits: everything is NFC with
ASCII digits once decoded, so equal strings compare equal and ids match across systems.
"""

from __future__ import annotations

import unicodedata

_KHMER_DIGITS = str.maketrans("០១២៣៤៥៦៧៨៩", "0123456789")


def nfc(text: str) -> str:
    """NFC form, surrounding white space removed."""
    return unicodedata.normalize("NFC", text).strip()


def ascii_digits(text: str) -> str:
    """Khmer numerals (០-៩) replaced by ASCII digits; other characters kept."""
    return text.translate(_KHMER_DIGITS)
