"""Generated people and messages for the search tests and the benchmark (bench/search.py).

Realistic name material for the Vietnam-Cambodia border: Kinh Vietnamese names (family,
middle, given) with diacritics; Jrai and Ba Na names (Siu, Ksor, Rah Lan, Nay, Rơ Mah; given
names with H' and Y); Khmer names. Each person has the forms a partner writes: Vietnamese
partners the name with diacritics and its Latin form without; Cambodian police a Khmer-script
form (Vietnamese and highland names spelt in Khmer letters as they hear them, from the
syllable table below) and a romanised one with the family name first in upper case
(NGUYEN Thi Lan, SOK Dara). Deterministic for a seed.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.wire import canonical

# Vietnamese and highland syllables as Cambodian police spell them in Khmer script.
KHMER_SPELLING = {
    "Nguyễn": "ង្វៀន", "Trần": "ត្រឹន", "Lê": "លេ", "Phạm": "ផាម", "Lý": "លី", "Võ": "វ៉ូ",
    "Đặng": "ដាំង", "Bùi": "ប៊ុយ", "Đỗ": "ដូ", "Hồ": "ហូ", "Ngô": "ង៉ោ", "Dương": "យឿង",
    "Đinh": "ឌិញ", "Thị": "ធី", "Văn": "វ៉ាន់", "Đức": "ឌុក", "Minh": "មិញ", "Thanh": "ថាញ់",
    "Kim": "គីម", "Xuân": "សួន", "Lan": "ឡាន", "Mai": "ម៉ៃ", "Hùng": "ហ៊ុង", "Hương": "ហឿង",
    "Linh": "លីញ", "Nam": "ណាម", "Dũng": "យុង", "Tuấn": "ទួន", "Hải": "ហៃ", "Long": "ឡុង",
    "Bình": "ប៊ិញ", "Hạnh": "ហាញ់", "Nga": "ង៉ា", "Quang": "ក្វាង", "Tâm": "តឹម",
    "Phương": "ភឿង", "Trang": "ត្រាង", "Thảo": "ថាវ", "Yến": "យ៉េន", "Nhi": "ញី",
    "Siu": "ស៊ីវ", "Ksor": "ក្សោរ", "Nay": "ណៃ", "Kông": "គុង", "Y": "អ៊ី", "H'": "ហ",
    "Sok": "សុខ", "Chan": "ចាន់", "Keo": "កែវ", "Chea": "ជា", "Meas": "មាស", "Heng": "ហេង",
    "Ouk": "អ៊ុក", "Seng": "សេង", "Nhem": "ញឹម", "Dara": "ដារ៉ា", "Sophea": "សុភា",
    "Sophal": "សុផល", "Sokha": "សុខា", "Vanna": "វណ្ណា", "Bopha": "បុប្ផា", "Rithy": "រិទ្ធី",
    "Pisey": "ពិសី", "Visal": "វិសាល", "Kosal": "កុសល", "Phalla": "ផល្លា", "Chenda": "ចិន្តា",
    # Only in held cases (tests/search/test_search_e2e.py): names no generated person has.
    "Thu": "ធូ", "Hằng": "ហាំង", "Khánh": "ខាញ់", "Vy": "វី", "Thúy": "ធុយ", "Bảo": "បាវ",
    "Ngân": "ង៉ឹន", "Hiền": "ហៀន", "Oanh": "អូញ", "Quỳnh": "ក្វីញ", "Lụa": "លួ",
    "Nhung": "ញុង", "Sương": "សឿង", "Sothea": "សុធា", "Samnang": "សំណាង",
}  # fmt: skip

KINH_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Lý", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
               "Dương", "Đinh")  # fmt: skip
KINH_MIDDLE = {"F": ("Thị", "Thanh", "Kim", "Xuân"), "M": ("Văn", "Đức", "Minh", "Thanh")}
KINH_GIVEN = {
    "F": ("Lan", "Mai", "Hương", "Linh", "Hạnh", "Nga", "Phương", "Trang", "Thảo", "Yến", "Nhi",
          "Tâm"),
    "M": ("Hùng", "Nam", "Dũng", "Tuấn", "Hải", "Long", "Bình", "Quang", "Linh", "Tâm"),
}  # fmt: skip
HIGHLAND_FAMILY = ("Siu", "Ksor", "Nay", "Kông")
HIGHLAND_GIVEN = {
    "F": ("H'Yến", "H'Lan", "H'Mai", "H'Nhi", "H'Linh", "H'Trang"),
    "M": ("Y Hùng", "Y Nam", "Y Long", "Y Bình", "Y Quang"),
}
KHMER_FAMILY = ("Sok", "Chan", "Keo", "Chea", "Meas", "Heng", "Ouk", "Seng", "Nhem")
KHMER_GIVEN = {
    "F": ("Sophea", "Sokha", "Vanna", "Bopha", "Pisey", "Phalla", "Chenda", "Dara"),
    "M": ("Dara", "Sophal", "Rithy", "Visal", "Kosal", "Vanna"),
}
GATES = ("VN-LETHANH", "KH-OYADAV", "VN-BOY", "KH-PHNOMDEN")


def strip_marks(name: str) -> str:
    name = name.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", name) if not unicodedata.combining(c))


def khmer_script(parts: tuple[str, ...]) -> str:
    words = []
    for part in parts:
        if part.startswith("H'"):
            words.append(KHMER_SPELLING["H'"] + KHMER_SPELLING[part[2:]])
        else:
            words.append(" ".join(KHMER_SPELLING[piece] for piece in part.split()))
    return " ".join(words)


@dataclass(frozen=True)
class Person:
    family: str
    given: tuple[str, ...]  # middle and given names, in order
    origin: str  # kinh | highland | khmer
    sex: str  # F | M
    birth_year: int
    document: str

    @property
    def vietnamese(self) -> str:
        """As a Vietnamese officer writes it: family first, with diacritics."""
        return " ".join((self.family, *self.given))

    @property
    def latin(self) -> str:
        """Family name first, in upper case, no diacritics (the Cambodian form)."""
        return " ".join((strip_marks(self.family).upper(), *map(strip_marks, self.given)))

    @property
    def family_last(self) -> str:
        return " ".join((*map(strip_marks, self.given), strip_marks(self.family)))

    @property
    def khmer(self) -> str:
        return khmer_script((self.family, *self.given))

    def written(self, writer: str) -> canonical.Person:
        """The Person a partner sends: Vietnamese (name with diacritics, Latin form) or
        Cambodian (Khmer script, romanised), with the document and birth year."""
        name = self.vietnamese if writer == "vn" else self.khmer
        if self.origin == "khmer" and writer == "vn":
            name = self.latin  # Vietnamese partners write Khmer names in Latin letters
        return canonical.Person(
            name=name,
            name_latin=self.latin,
            sex=canonical.SEX_FEMALE if self.sex == "F" else canonical.SEX_MALE,
            birth_date=canonical.Date(year=self.birth_year),
            identity_documents=[
                canonical.IdentityDocument(
                    type=canonical.DOCUMENT_TYPE_VN_CITIZEN_ID
                    if len(self.document) == 12
                    else canonical.DOCUMENT_TYPE_KH_NATIONAL_ID,
                    number=self.document,
                    issuing_country="VN" if len(self.document) == 12 else "KH",
                )
            ],
        )


def person(rng: random.Random) -> Person:
    sex = rng.choice("FM")
    origin = rng.choices(("kinh", "highland", "khmer"), (5, 3, 2))[0]
    if origin == "kinh":
        family = rng.choice(KINH_FAMILY)
        given: tuple[str, ...] = (rng.choice(KINH_MIDDLE[sex]), rng.choice(KINH_GIVEN[sex]))
    elif origin == "highland":
        family = rng.choice(HIGHLAND_FAMILY)
        given = (rng.choice(HIGHLAND_GIVEN[sex]),)
    else:
        family = rng.choice(KHMER_FAMILY)
        given = (rng.choice(KHMER_GIVEN[sex]),)
        if rng.random() < 0.3:
            given = (*given, rng.choice(KHMER_GIVEN[sex]))
    digits = 12 if origin != "khmer" else 9
    document = "".join(rng.choice("0123456789") for _ in range(digits))
    return Person(family, given, origin, sex, rng.randint(1975, 2012), document)


@dataclass(frozen=True)
class Case:
    number: int
    kind: str  # wanted_person_notice | victim_handover | hotline_alert
    writer: str  # vn | kh: who wrote the message
    persons: tuple[Person, ...]
    gate: str

    def message(self, issued_at: datetime | None = None) -> canonical.Message:
        issued = issued_at or datetime.now(UTC)
        message = canonical.Message(
            case_id=str(uuid.UUID(int=self.number + (1 << 64))),
            sender_reference=f"S-{self.number:06d}",
            action=canonical.ACTION_ISSUE
            if self.kind != "victim_handover"
            else canonical.ACTION_PROPOSE,
            handling=canonical.HANDLING_VICTIM_PROTECTED
            if self.kind == "victim_handover"
            else canonical.HANDLING_RESTRICTED,
        )
        message.issued_at.FromDatetime(issued.replace(tzinfo=None))
        people = [p.written(self.writer) for p in self.persons]
        if self.kind == "wanted_person_notice":
            message.wanted_person_notice.subject.CopyFrom(people[0])
            message.wanted_person_notice.offence.legal_basis = "VN-PC2015-150"
            message.wanted_person_notice.request = canonical.REQUEST_ARREST
        elif self.kind == "victim_handover":
            handover = message.victim_handover
            handover.border_gate = self.gate
            handover.planned_at.FromDatetime(issued.replace(tzinfo=None))
            handover.victims.add(person=people[0], minor=False)
            for child in people[1:]:
                handover.victims[0].accompanying_children.append(child)
            handover.escort.add(name="Trần Văn Escort", rank="Đại úy", unit="BĐBP")
        else:
            alert = message.hotline_alert
            alert.call_id = f"111-{self.number:06d}"
            alert.channel = canonical.CHANNEL_PHONE
            alert.category = canonical.CATEGORY_SUSPECTED_TRAFFICKING
            alert.urgency = canonical.URGENCY_HIGH
            alert.summary = "Generated"
            alert.caller.name = "Người Gọi Điện"
            for index, named in enumerate(people):
                alert.persons.add(
                    role=canonical.ROLE_VICTIM if index == 0 else canonical.ROLE_SUSPECT,
                    person=named,
                )
        return message


def cases(count: int, seed: int = 13) -> list[Case]:
    """count generated cases, deterministic for the seed."""
    rng = random.Random(seed)
    made = []
    for number in range(count):
        kind = rng.choices(("wanted_person_notice", "victim_handover", "hotline_alert"), (3, 4, 3))[
            0
        ]
        extra = 0 if kind == "wanted_person_notice" else rng.choice((0, 0, 1))
        made.append(
            Case(
                number=number,
                kind=kind,
                writer=rng.choice(("vn", "kh")),
                persons=tuple(person(rng) for _ in range(1 + extra)),
                gate=rng.choice(GATES),
            )
        )
    return made
