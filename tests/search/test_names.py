"""Name forms, table-driven: pairs that must match (one person written two ways: Khmer script,
Vietnamese with and without diacritics, family name first or last, apostrophes, common
misspellings) and pairs that must not (different people). The partner samples' names
(../shared/partners) are among them."""

from __future__ import annotations

import pytest

from gateway.search.matcher import MIN_NAME_SCORE
from gateway.search.names import document_number, fold, forms, romanise, score_name

SAME = [
    # Partner samples: kh-police-xml writes Khmer script and UNGEGN-style Latin.
    ("សុខ ដារ៉ា", "SOK Dara"),
    ("ចាន់ សុភា", "CHAN Sophea"),
    ("ង្វៀន ធី ឡាន", "NGUYEN Thi Lan"),
    ("ង្វៀន ធី ឡាន", "Nguyễn Thị Lan"),
    ("RAH LAN H'Bia", "Rah Lan H'Bia"),
    ("Rah Lan H'Bia", "H'Bia Rah Lan"),
    ("Siu H'Yến", "Siu Hyen"),
    ("Siu H'Yến", "SIU H'Yen"),
    ("Kpă H'Ngọc", "Kpa H'Ngoc"),
    ("Nguyễn Văn Hùng", "NGUYEN Van Hung"),
    ("Nguyễn Văn Hùng", "Hung Nguyen Van"),
    ("Rơ Châm Y Phăn", "Ro Cham Y Phan"),
    ("Siu Thị Mai", "SIU Thi Mai"),
    ("Ksor Y Bhin", "Y Bhin Ksor"),
    ("Ksor H'Lan", "KSOR H Lan"),
    ("Rah Lan Thị Hoa", "Rah Lan Thi Hoa"),
    # Vietnamese names in Khmer script, as Cambodian police write them.
    ("ត្រឹន ធី ហឿង", "Trần Thị Hương"),
    ("ដាំង វ៉ាន់ ហ៊ុង", "Đặng Văn Hùng"),
    ("យឿង ធី ញុង", "Dương Thị Nhung"),
    ("ឌិញ មិញ ទួន", "Đinh Minh Tuấn"),
    ("ប៊ុយ ធី ហាំង", "Bùi Thị Hằng"),
    ("ស៊ីវ ហយ៉េន", "Siu H'Yến"),
    ("ក្សោរ អ៊ី ហ៊ុង", "Ksor Y Hùng"),
    ("លេ ធី ក្វីញ", "Lê Thị Quỳnh"),
    ("ផាម ឌុក ប៊ិញ", "Phạm Đức Bình"),
    # Khmer names, romanised or not.
    ("កែវ សុផល", "KEO Sophal"),
    ("ហេង វណ្ណា", "HENG Vanna"),
    ("ញឹម ពិសី", "NHEM Pisey"),
    ("សុខ សំណាង", "SOK Samnang"),
    ("ជា សុធា", "Sothea Chea"),
    ("មាស បុប្ផា", "MEAS Bopha"),
    ("ចាន់ វិសាល", "Visal Chan"),
    ("កុសល", "Kosal"),
    ("រតនា", "Ratana"),
    ("សុវណ្ណ", "Sovann"),
    # Order, case, punctuation, digits.
    ("NGUYEN, Thi Lan", "lan nguyen thi"),
    ("Nguyễn  Thị   Lan", "Nguyen-Thi-Lan"),
    ("H\u2019Yến", "H'Yen"),
    # Misspellings an officer makes.
    ("Nguyen Thi Lan", "Nguyen Thi Lanh"),
    ("Nguyen Van Hung", "Nguyen Van Hun"),
    ("Tran Thi Huong", "Tran Thi Houng"),
    ("Sok Dara", "Sokh Darah"),
    ("Chan Sophea", "Chan Sopha"),
    ("Siu H'Yen", "Siu Hien"),
    ("Lê Thị Phương", "Le Thi Phuong"),
    ("Nguyen Thi Thuy", "Nguyen Thi Thuy"),
]

DIFFERENT = [
    ("Nguyễn Thị Lan", "Trần Văn Hùng"),
    ("SOK Dara", "CHAN Sophea"),
    ("Siu H'Yến", "Ksor Y Bhin"),
    ("Rah Lan H'Bia", "Nay Y Long"),
    ("ចាន់ សុភា", "Heng Vanna"),
    ("Lê Thị Mai", "Phạm Đức Bình"),
    ("Kpă H'Ngọc", "Đinh Minh Tuấn"),
    ("Keo Sophal", "Meas Bopha"),
]


@pytest.mark.parametrize(("one", "other"), SAME)
def test_forms_of_one_name_match(one: str, other: str) -> None:
    assert score_name(forms(one), forms(other)) >= MIN_NAME_SCORE, (forms(one), forms(other))


@pytest.mark.parametrize(("one", "other"), DIFFERENT)
def test_different_people_do_not(one: str, other: str) -> None:
    assert score_name(forms(one), forms(other)) < MIN_NAME_SCORE, (forms(one), forms(other))


@pytest.mark.parametrize(
    ("written", "folded"),
    [
        ("សុខ ដារ៉ា", "dara sok"),
        ("ចាន់ សុភា", "chan sophea"),
        ("ង្វៀន ធី ឡាន", "lan nguyen thi"),
        ("H'Yến", "hyen"),
        ("Đặng Văn Đức", "dang duc van"),
        ("NGUYEN Thi Lan", "lan nguyen thi"),
        ("Lan Nguyen Thi", "lan nguyen thi"),
        ("លេខ ១២៣", "123 lek"),
        ("កែវ សុផល", "kev sophal"),
        ("ស៊ីវ ហយ៉េន", "hyen siv"),
        ("", ""),
        ("  ,,  ", ""),
    ],
)
def test_fold(written: str, folded: str) -> None:
    assert fold(written) == folded


@pytest.mark.parametrize(
    ("written", "normalised"),
    [("0123 4567-89", "0123456789"), ("០១០៤៥៦៧៨៩", "010456789"), ("ab.12 c", "AB12C"), ("", "")],
)
def test_document_number(written: str, normalised: str) -> None:
    assert document_number(written) == normalised


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("ង្វៀន ធី ឡាន", "Nguyen Thi Lan"),
        ("សុខ ដារ៉ា", "Sok Dara"),
        ("ចាន់ សុភា", "Chan Sophea"),
        ("Trần Văn Hùng", "Trần Văn Hùng"),  # no Khmer: left as written
    ],
)
def test_romanise_keeps_the_written_order(written: str, shown: str) -> None:
    assert romanise(written) == shown
