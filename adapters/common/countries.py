"""Country names as Vietnamese systems write them, and ISO 3166-1 alpha-2 codes."""

from __future__ import annotations

from adapters.common.text import nfc

VIETNAMESE_NAMES: dict[str, str] = {
    "VN": "Việt Nam",
    "KH": "Campuchia",
    "LA": "Lào",
    "CN": "Trung Quốc",
    "TH": "Thái Lan",
    "MM": "Myanmar",
}
_BY_NAME = {nfc(name).casefold(): code for code, name in VIETNAMESE_NAMES.items()}
_ALIASES = {"viet nam": "VN", "vietnam": "VN", "cambodia": "KH", "lao": "LA", "laos": "LA"}


def iso_from_vietnamese(name: str) -> str | None:
    """`Việt Nam` -> `VN`; None when unknown."""
    key = nfc(name).casefold()
    return _BY_NAME.get(key) or _ALIASES.get(key)


def vietnamese_from_iso(code: str) -> str | None:
    return VIETNAMESE_NAMES.get(code)
