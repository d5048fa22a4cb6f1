"""Latin forms of names, for formats that need one when the source has none.

Vietnamese: the name without diacritics (đ becomes d), which is how Vietnamese names are
written in passports' machine-readable zones and in Cambodian police records. Khmer-style
Latin forms put the family name first in upper case (`SOK Dara`); Vietnamese and the
highland peoples' names (Jrai, Bahnar) are already family name first, so the first word is
upper-cased. Romanising Khmer script has no single accepted scheme, so it is not guessed:
when a Khmer-script name has no Latin form, the encoder reports it instead.
"""

from __future__ import annotations

import unicodedata

_SPECIAL = str.maketrans({"đ": "d", "Đ": "D"})


def without_diacritics(name: str) -> str:
    """`Rơ Châm Y Phăn` -> `Ro Cham Y Phan`."""
    decomposed = unicodedata.normalize("NFD", name.translate(_SPECIAL))
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def family_first_latin(name: str) -> str:
    """`Nguyễn Văn Hùng` -> `NGUYEN Van Hung`: Latin, family name (first word) upper-cased."""
    words = without_diacritics(name).split()
    if not words:
        return ""
    return " ".join([words[0].upper(), *words[1:]])


def is_latin_script(name: str) -> bool:
    """True when every letter is Latin (with or without diacritics)."""
    return all(not c.isalpha() or unicodedata.name(c, "").startswith("LATIN") for c in name)
