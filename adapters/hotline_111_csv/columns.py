"""The export's columns and code lists, in the words the hotline's spreadsheet uses.

Headers and coded values are compared after NFC, with runs of white space collapsed and case
folded: the words are typed by hand into spreadsheet templates, and `Điện thoại` typed as
`điện thoại` or in decomposed form means the same thing.
"""

from __future__ import annotations

from typing import TypeVar

from adapters.common.text import nfc
from gateway.wire import canonical

CALL_ID = "Mã cuộc gọi"
RECEIVED = "Thời điểm nhận"
CHANNEL = "Kênh"
CATEGORY = "Phân loại"
URGENCY = "Mức độ"
PLACE = "Địa điểm"
PROVINCE = "Tỉnh"
SUMMARY = "Nội dung"
CALLER_NAME = "Người báo tin"
CALLER_PHONE = "SĐT người báo tin"
VICTIM_NAMES = "Nạn nhân"
VICTIM_YEARS = "Năm sinh nạn nhân"
VICTIM_SEXES = "Giới tính nạn nhân"

# The spec's order, which is also the order the encoder writes.
HEADERS: tuple[str, ...] = (
    CALL_ID,
    RECEIVED,
    CHANNEL,
    CATEGORY,
    URGENCY,
    PLACE,
    PROVINCE,
    SUMMARY,
    CALLER_NAME,
    CALLER_PHONE,
    VICTIM_NAMES,
    VICTIM_YEARS,
    VICTIM_SEXES,
)

TIME_PATTERN = "%d/%m/%Y %H:%M"
LIST_SEPARATOR = "|"

CHANNELS: dict[str, canonical.Channel.ValueType] = {
    "Điện thoại": canonical.CHANNEL_PHONE,
    "Zalo": canonical.CHANNEL_ZALO,
    "Facebook": canonical.CHANNEL_FACEBOOK,
    "Trực tiếp": canonical.CHANNEL_WALK_IN,
}
CATEGORIES: dict[str, canonical.Category.ValueType] = {
    "Nghi mua bán người": canonical.CATEGORY_SUSPECTED_TRAFFICKING,
    "Mất tích": canonical.CATEGORY_MISSING,
    "Cầu cứu": canonical.CATEGORY_RESCUE,
    "Cung cấp thông tin": canonical.CATEGORY_INFORMATION,
}
URGENCIES: dict[str, canonical.Urgency.ValueType] = {
    "Khẩn cấp": canonical.URGENCY_CRITICAL,
    "Cao": canonical.URGENCY_HIGH,
    "Bình thường": canonical.URGENCY_NORMAL,
}
SEXES: dict[str, canonical.Sex.ValueType] = {
    "Nam": canonical.SEX_MALE,
    "Nữ": canonical.SEX_FEMALE,
    "Không rõ": canonical.SEX_UNKNOWN,
}


def key(text: str) -> str:
    """The form in which headers and coded values are compared."""
    return " ".join(nfc(text).split()).casefold()


V = TypeVar("V")


class Codes(dict[str, V]):
    """A code list looked up by `key`, that remembers how to say what it expects."""

    def __init__(self, words: dict[str, V]) -> None:
        super().__init__((key(word), value) for word, value in words.items())
        self.words = {value: word for word, value in words.items()}
        listed = list(words)
        self.expected = "expected " + ", ".join(listed[:-1]) + " or " + listed[-1]


CHANNEL_CODES = Codes(CHANNELS)
CATEGORY_CODES = Codes(CATEGORIES)
URGENCY_CODES = Codes(URGENCIES)
SEX_CODES = Codes(SEXES)
HEADER_KEYS = {key(header): header for header in HEADERS}
