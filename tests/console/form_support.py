"""What the console's form tests share: the instant they compose at, the two peers, a full
notice and a full alert as posted, and a posted form made from a sample with some fields
changed."""

from __future__ import annotations

from datetime import UTC, datetime

from multidict import MultiDict

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PEER = "kh-ratanakiri-police"
POLICE = "vn-gialai-police"


def form_with(base: list[tuple[str, str]], **changes: str | None) -> MultiDict[str]:
    """base with fields replaced (None removes them); keys use __ for -."""
    replaced = {key.replace("__", "-"): value for key, value in changes.items()}
    fields = [(k, v) for k, v in base if k not in replaced]
    fields += [(k, v) for k, v in replaced.items() if v is not None]
    return MultiDict(fields)


NOTICE: list[tuple[str, str]] = [
    ("to", POLICE),
    ("action", "issue"),
    ("sender_reference", "125/TB-PC02"),
    ("handling", "restricted"),
    ("subject-name", "Lê Văn Tám"),
    ("subject-name_latin", "LE Van Tam"),
    ("subject-sex", "male"),
    ("subject-birth_date", "1985-07"),
    ("subject-birth_place", "Pleiku"),
    ("subject-nationality", "VN"),
    ("subject-ethnicity", "Kinh"),
    ("subject-description", "Sẹo ở tay trái"),
    ("subject-document_type", "vn_citizen_id"),
    ("subject-document_number", "064085001234"),
    ("subject-document_country", "VN"),
    ("offence-legal_basis", "VN-PC2015-150"),
    ("offence-summary", "Mua bán người"),
    ("warrant-number", "12/QĐ-CSĐT"),
    ("warrant-issuing_authority", "Cơ quan CSĐT Công an tỉnh Gia Lai"),
    ("warrant-issued_on", "2026-10-02"),
    ("last_known_location", "Ia Pnôn, Đức Cơ"),
    ("last_known_province", "VN-30"),
    ("request", "arrest"),
    ("caveat", "Có thể mang hung khí"),
    ("valid_until", "2027-10-02"),
]
ALERT: list[tuple[str, str]] = [
    ("to", POLICE),
    ("action", "issue"),
    ("sender_reference", ""),
    ("handling", "victim_protected"),
    ("call_id", "111-2026-0042"),
    ("received_at", "2026-11-30T15:20"),
    ("channel", "zalo"),
    ("category", "suspected_trafficking"),
    ("urgency", "high"),
    ("place", "Bến xe Đức Cơ"),
    ("province", "VN-30"),
    ("summary", "Người gọi thấy hai thiếu nữ bị đưa lên xe"),
    ("caller-name", "Ẩn danh"),
    ("caller-phone", "0905 123 456"),
    ("persons-0-role", "victim"),
    ("persons-0-name", "Ksor H'Bia"),
    ("persons-0-name_latin", "KSOR H'Bia"),
    ("persons-0-sex", "female"),
    ("persons-0-birth_date", "2010"),
    ("persons-1-role", ""),
    ("persons-1-name", ""),
]
