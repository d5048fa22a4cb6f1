"""The hotline's CSV dialect: bytes to text, text to rows that know their physical lines, and back.

The standard `csv` module would split the records, but it only reports how many lines it has
consumed after a whole record, not where each field starts; a problem must name the physical
line of the field it is about, and a quoted summary may span several lines before the column
in question. The dialect is small (`;`, `"` quoting with doubled quotes, CRLF or LF), so a
reader that records the line of every field is shorter than working around `csv`.

The reader never gives up on a record: syntax faults (a quote inside an unquoted field,
text after a closing quote, a quote never closed) are attached to the field where they occur
and the reader goes on, so one bad row costs one row.

Bounds (EXPORT_LIMITS): rows and fields per row are counted as they are read and the document
is refused at the first one too many (DocumentTooComplex with the line), so a file of a
million `;` never becomes a million fields; a field longer than the bound is a fault of its
row only.

Formulas: a cell that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`,
a tab or a carriage return) is written the way OWASP recommends for CSV injection: with a
leading `'` and quoted, so that a hostile peer's `=HYPERLINK(...)` reaches the operator as
text. The reader takes that `'` off again, so decode(encode(m)) keeps the content: a field
that starts with one or more `'` followed by one of those characters loses one `'`, and the
writer adds one to every field of that shape, so a value that really begins `'=` survives too.
Hotline exports themselves never start a cell with `'` (the spreadsheet hides such a quote).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from adapters.base import DocumentInvalid, Problem
from adapters.common.limits import EXPORT_LIMITS, DecodeLimits, check_deadline, too_complex

SEPARATOR = ";"
QUOTE = '"'
ROW_END = "\r\n"
# Spreadsheets write a line break inside a cell as a bare LF, whatever ends the rows.
FIELD_LINE_BREAK = "\n"

# The unrolled form `"[^"]*(?:""[^"]*)*"` matches in linear time even when the closing quote
# is missing; the naive `(?:[^"]+|"")*` backtracks exponentially on that input.
_QUOTED = re.compile(r'"([^"]*(?:""[^"]*)*)"')
_UNQUOTED = re.compile(r"[^;\r\n]*")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
FORMULA_STARTS = "=+-@\t\r"
# A cell the writer neutralised: one or more `'`, then a character that starts a formula (or
# LF, which is what a CR in a quoted field is read as).
_NEUTRALISED = re.compile("'+[" + re.escape(FORMULA_STARTS + "\n") + "]")

_ENCODING_EXPECTED = "expected UTF-8 text (with or without a byte-order mark) or Windows-1258"


@dataclass(frozen=True)
class Field:
    """One field as written: its text (quotes removed, line breaks as LF) and where it starts."""

    text: str
    line: int


@dataclass
class RawRow:
    """One record: its first physical line, its fields, and syntax faults by field index."""

    line: int
    last_line: int = 0
    fields: list[Field] = field(default_factory=list)
    faults: list[tuple[int, str]] = field(default_factory=list)

    def is_blank(self) -> bool:
        return not self.faults and all(not f.text.strip() for f in self.fields)


def read_text(data: bytes) -> str:
    """The document's text: BOM means UTF-8; else UTF-8 if it decodes; else Windows-1258.

    Older hotline machines export Windows-1258, and a Windows-1258 file with Vietnamese letters
    is practically never valid UTF-8, so trying UTF-8 first is a safe detection.
    """
    if b"\x00" in data:
        # UTF-16 exports and binary files: neither encoding below would fail on them.
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DocumentInvalid([Problem(f"line {line}", f"{_ENCODING_EXPECTED}; found NUL bytes")])
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: len(codecs.BOM_UTF8) + error.start].count(b"\n") + 1
            raise DocumentInvalid(
                [Problem(f"line {line}", "expected UTF-8 after the byte-order mark")]
            ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DocumentInvalid([Problem(f"line {line}", _ENCODING_EXPECTED)]) from None


def _line_breaks(text: str) -> int:
    return len(_LINE_BREAK.findall(text))


def _formula_free(value: str) -> bool:
    return not value.startswith(tuple(FORMULA_STARTS)) and _NEUTRALISED.match(value) is None


def read_rows(text: str, limits: DecodeLimits = EXPORT_LIMITS) -> list[RawRow]:
    """Every record of the text, blank lines included (the caller decides what blank means).

    DocumentTooComplex when it holds more rows, or a row more fields, than limits allow."""
    rows: list[RawRow] = []
    pos, line, end = 0, 1, len(text)
    while pos < end:
        if len(rows) >= limits.max_nodes:
            raise too_complex("rows", f"line {line}", f"expected at most {limits.max_nodes} rows")
        if len(rows) % 1000 == 999:
            check_deadline(f"line {line}")
        row = RawRow(line=line)
        while True:
            index, field_line = len(row.fields), line
            if index >= limits.max_columns:
                raise too_complex(
                    "columns", f"line {line}", f"expected at most {limits.max_columns} fields"
                )
            if text.startswith(QUOTE, pos):
                quoted = _QUOTED.match(text, pos)
                if quoted is None:
                    value = text[pos + 1 :]
                    row.faults.append(
                        (
                            index,
                            'expected a closing `"`; the quoted field runs to the end of the file',
                        )
                    )
                    pos = end
                else:
                    value = quoted.group(1).replace('""', '"')
                    pos = quoted.end()
                    if pos < end and text[pos] not in ";\r\n":
                        row.faults.append(
                            (index, 'expected `;` or the end of the line after a closing `"`')
                        )
                        tail = _UNQUOTED.match(text, pos)
                        pos = tail.end() if tail else pos
                line += _line_breaks(value)
                value = _LINE_BREAK.sub(FIELD_LINE_BREAK, value)
            else:
                unquoted = _UNQUOTED.match(text, pos)
                value = unquoted.group() if unquoted else ""
                pos += len(value)
                if QUOTE in value:
                    row.faults.append(
                        (index, 'expected a field holding `"` to be quoted, with `"` doubled')
                    )
            if len(value) > limits.max_field_chars:
                row.faults.append(
                    (index, f"expected at most {limits.max_field_chars} characters in a field")
                )
                value = value[: limits.max_field_chars]
            if _NEUTRALISED.match(value):
                value = value[1:]
            row.fields.append(Field(value, field_line))
            if pos >= end:
                row.last_line = line  # the file ends without a final line break
                break
            if text[pos] == SEPARATOR:
                pos += 1
                continue
            pos += 2 if text.startswith("\r\n", pos) else 1
            row.last_line = line
            line += 1
            break
        rows.append(row)
    return rows


def quote(value: str) -> str:
    """A field as the hotline's exporter writes it: quoted only when it must be, and a
    formula neutralised (see the module's note)."""
    if not _formula_free(value):
        return QUOTE + "'" + value.replace(QUOTE, QUOTE * 2) + QUOTE
    if any(c in value for c in ';"\r\n'):
        return QUOTE + value.replace(QUOTE, QUOTE * 2) + QUOTE
    return value


def write_row(values: list[str]) -> str:
    return SEPARATOR.join(quote(value) for value in values) + ROW_END


def write_document(rows: list[list[str]]) -> bytes:
    """UTF-8 with a byte-order mark (what spreadsheets need to show Vietnamese), CRLF rows."""
    return codecs.BOM_UTF8 + "".join(write_row(row) for row in rows).encode("utf-8")
