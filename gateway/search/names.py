"""Name forms: one person's name, written in Vietnamese, Khmer script or Latin letters, family
name first or last, brought to forms that compare. Pure: no I/O, no state.

Design notes:
- fold(): NFC, Khmer digits to ASCII, Khmer script romanised (see below), đ -> d, NFKD with
  the combining marks removed (Vietnamese tones and vowel marks), lower case, apostrophes
  dropped (H'Yến -> hyen), anything else not a letter or digit -> a space, and the tokens
  sorted: "SOK Dara", "Dara Sok" and "sok dara" fold alike, as do family-first Vietnamese
  and family-last Latin forms.
- Khmer: anyascii romanises letter by letter; what it gets wrong for names (measured on the
  partner samples and the pairs in tests/search/test_names.py) is put right here:
  * ា after a second-series consonant is "ea" (សុភា -> sophea, not sopha), unless a
    muusikatoan (៉) moves the consonant to the first series (រ៉ា -> ra); likewise ិ is
    "i" / "e", ុ "u" / "o" and ឹ "oe" / "a" by series (ប៊ិញ -> binh, ហ៊ុង -> hung,
    ត្រឹន -> tran: Vietnamese â and ơ are written with ឹ);
  * between two base consonants, the inherent vowel anyascii leaves out is written "a"
    (សុផល -> sophal, not sophl; រតនា -> ratanea), except after a word's first ហ, the H' of
    Jrai and Ba Na names;
  * nikahit (ំ) and reahmuk (ះ) are "m" and "h", with an "a" only after a bare consonant
    (សំណាង -> samnang, មុំ -> mum);
  * the bantoc (់) and the other sign marks are dropped, not spelt (ចាន់ -> chan, not chana);
  * then, on the romanised words: "ei" -> "i" (ធី -> thi), "ae" -> "e" (សែន -> sen),
    a final "kh" -> "k" (សុខ -> sok), and a Vietnamese name's "ngv"/"hv" + "ie" written by
    Cambodian police -> "nguye"/"huye" (ង្វៀន -> nguyen).
- skeleton(): a looser, phonetic form of a folded name for tolerance across
  transliterations and misspellings: aspirated digraphs lose their h (ph/p, th/t, kh/k,
  ch/c, ...), c/k/q -> k, y -> i, w/v -> u (Cambodian police write Vietnamese "u"/"uy" with
  វ), x -> s, a word's initial d/gi/z/j/y -> i (Vietnamese D and Gi are said, and written in
  Khmer script, as Y: Dương -> យឿង), dd/ll/... collapse, vowel runs of two collapse to their
  first letter, and the H' of Jrai and Ba Na women's names goes (H'Nhung -> nhung).
- Scoring (score_name): rapidfuzz ratios, 0-100, best of the folded forms (exact letters),
  the skeletons (scaled by 0.95: a phonetic match is a little less sure) and the token set
  ratio of the folded forms and of the skeletons (scaled by 0.93 and 0.9: all the query's
  words appear, e.g. a partial name; only against names with at least as many distinct
  words, else "Kông Y" would be "in" the query "Kông Y Khánh"). The index runs
  the same scorers in bulk (process.cdist over preprocessed arrays): see
  gateway.search.index.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from anyascii import anyascii
from rapidfuzz import fuzz

_KHMER = re.compile(r"[\u1780-\u17ff\u19e0-\u19ff]+")
_KHMER_DIGITS = {0x17E0 + i: str(i) for i in range(10)}
# Consonants of the second series (o-series): their inherent and ā vowels are read
# differently, which UNGEGN and the usual name spellings write ("ea" for ា).
_SECOND_SERIES = frozenset("គឃងជឈញឌឍទធនពភមយរលវ")
_MUUSIKATOAN = "\u17c9"  # ៉ : moves a second-series consonant to the first
_TRIISAP = "\u17ca"  # ៊ : moves a first-series consonant to the second
_COENG = "\u17d2"  # ្ : the next consonant is a subscript
_AA = "\u17b6"  # ា
_I = "\u17b7"  # ិ
_U = "\u17bb"  # ុ
_OE = "\u17b9"  # ឹ
_FINAL_SIGNS = {"\u17c6": "m", "\u17c7": "h"}  # ំ nikahit, ះ reahmuk
# Signs that anyascii spells as letters but that names do not write in Latin letters.
_SILENT_SIGNS = frozenset("\u17c8\u17c9\u17ca\u17cb\u17cc\u17cd\u17ce\u17cf\u17d0\u17d1")
_APOSTROPHES = "'\u2019\u02bc\u2018`\u00b4"
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _romanise_khmer(text: str) -> str:
    """One run of Khmer script in Latin letters, with the name rules above."""
    out: list[str] = []
    second = False  # the series of the last base consonant
    word_start_h = False
    previous = ""
    bare = False  # the last consonant (with its subscripts) has no vowel yet
    word_start = True
    for char in text:
        consonant = "\u1780" <= char <= "\u17a2"
        if consonant and previous != _COENG:
            # Two base consonants in a row: the first is said with its inherent vowel
            # (សុផល -> sophal, កុសល -> kosal), written "a" in names. Not after a word's
            # first ហ: the H' of Jrai and Ba Na names (ហយ៉េន, H'Yến).
            if bare and not (word_start_h and out and out[-1] == "h"):
                out.append("a")
            word_start_h = word_start and char == "\u17a0"
            second = char in _SECOND_SERIES
            bare = True
            word_start = False
        elif char.isspace():
            bare, word_start, word_start_h = False, True, False
        elif char not in (_COENG, _MUUSIKATOAN, _TRIISAP) and not (
            consonant and previous == _COENG
        ):
            bare = False  # a vowel, a sign or anything else after the consonant
        if char == _MUUSIKATOAN:
            second = False
        elif char == _TRIISAP:
            second = True
        if char == _AA:
            out.append("ea" if second else "a")
        elif char == _I:
            out.append("i" if second else "e")
        elif char == _U:
            out.append("u" if second else "o")
        elif char == _OE:
            out.append("oe" if second else "a")
        elif char in _FINAL_SIGNS:
            # After a vowel sign only the final sound (ុំ -> um); after a bare consonant
            # with its inherent vowel (សំ -> sam).
            vowel = "\u17b6" <= previous <= "\u17c5"
            out.append(_FINAL_SIGNS[char] if vowel else "a" + _FINAL_SIGNS[char])
        elif char not in _SILENT_SIGNS:
            out.append(anyascii(char))
        previous = char
    words = "".join(out).lower().split()
    return " ".join(_khmer_word(word) for word in words)


_KHMER_WORD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^ngvie"), "nguye"),
    (re.compile(r"^hvie"), "huye"),
    (re.compile(r"mng"), "ng"),  # ាំង: the nikahit before ង is not said apart
    (re.compile(r"oea"), "uo"),
    (re.compile(r"ei"), "i"),
    (re.compile(r"ae"), "e"),
    (re.compile(r"kh$"), "k"),
)


def _khmer_word(word: str) -> str:
    for pattern, replacement in _KHMER_WORD_RULES:
        word = pattern.sub(replacement, word)
    return word


def romanise(name: str) -> str:
    """A name's Khmer script in Latin letters, words in their written order and capitalised
    (ង្វៀន ធី ឡាន -> Nguyen Thi Lan): shown beside a name written in Khmer script only, for
    readers who cannot read it. Display only; matching compares fold()."""
    text = unicodedata.normalize("NFC", name).translate(_KHMER_DIGITS)
    text = _KHMER.sub(lambda run: " " + _romanise_khmer(run.group()) + " ", text)
    return " ".join(word.capitalize() for word in text.split())


def fold(name: str) -> str:
    """The comparable form of a name: lower-case ASCII letters and digits, tokens sorted."""
    text = unicodedata.normalize("NFC", name).translate(_KHMER_DIGITS)
    text = _KHMER.sub(lambda run: " " + _romanise_khmer(run.group()) + " ", text)
    text = text.replace("đ", "d").replace("Đ", "D")
    text = "".join(
        char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char)
    )
    for apostrophe in _APOSTROPHES:
        text = text.replace(apostrophe, "")
    text = text.lower()
    if not text.isascii():
        text = anyascii(text).lower()  # any other script: letters rather than nothing
    return " ".join(sorted(_NOT_ALNUM.sub(" ", text).split()))


_SKELETON_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"h+"), "h"),
    # Jrai and Ba Na women's names: H'Nhung folds to hnhung, and is searched as Nhung.
    (re.compile(r"^h(?=[^aeiou])"), ""),
    (re.compile(r"ngh"), "ng"),
    (re.compile(r"([ptkcdgbs])h"), r"\1"),
    (re.compile(r"^(gi|[dzjy])"), "i"),
    (re.compile(r"x"), "s"),
    (re.compile(r"tr"), "c"),
    (re.compile(r"[cq]"), "k"),
    (re.compile(r"y"), "i"),
    (re.compile(r"[wv]"), "u"),
    (re.compile(r"([a-z])\1+"), r"\1"),
    (re.compile(r"([aeiou])[aeiou]"), r"\1"),
)


def skeleton_word(word: str) -> str:
    for pattern, replacement in _SKELETON_RULES:
        word = pattern.sub(replacement, word)
    return word


def skeleton(folded: str) -> str:
    """The phonetic skeleton of a folded name, tokens sorted again (they may now tie)."""
    return " ".join(sorted(skeleton_word(word) for word in folded.split()))


@dataclass(frozen=True, slots=True)
class NameForms:
    """What matching compares of one written name."""

    folded: str
    skeleton: str


def forms(name: str) -> NameForms:
    folded = fold(name)
    return NameForms(folded, skeleton(folded))


SKELETON_WEIGHT = 0.95
TOKEN_SET_WEIGHT = 0.9
FOLDED_TOKEN_SET_WEIGHT = 0.93


def score_name(query: NameForms, candidate: NameForms) -> float:
    """How alike two names are, 0-100 (the index computes the same in bulk)."""
    if not query.folded or not candidate.folded:
        return 0.0
    scores = [
        fuzz.ratio(query.folded, candidate.folded),
        SKELETON_WEIGHT * fuzz.ratio(query.skeleton, candidate.skeleton),
    ]
    # Whole words: only when the candidate has at least as many distinct words as the query.
    if len(set(candidate.folded.split())) >= len(set(query.folded.split())):
        scores.append(
            FOLDED_TOKEN_SET_WEIGHT * fuzz.token_set_ratio(query.folded, candidate.folded)
        )
        scores.append(TOKEN_SET_WEIGHT * fuzz.token_set_ratio(query.skeleton, candidate.skeleton))
    return max(scores)


_DOCUMENT = re.compile(r"[^0-9A-Z]+")


def document_number(text: str) -> str:
    """A document number as compared: ASCII digits and upper-case letters only (Khmer and
    full-width digits become ASCII; spaces, dashes and dots go)."""
    text = unicodedata.normalize("NFKC", text).translate(_KHMER_DIGITS).upper()
    return _DOCUMENT.sub("", text)
