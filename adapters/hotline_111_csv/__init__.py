"""`hotline-111-csv`: call records the national anti-trafficking hotline 111 exports as CSV.

One row is one alert, and a file may hold thousands, so a bad row is reported (as `line N`,
the row's first physical line, with problems at `line L, column C (Header)`, L being the
physical line where that field starts) and the other rows still convert. Column positions are
taken from the header row, matched by name, because exports from different spreadsheet
templates do not always keep the spec's order. Unknown columns are not errors; a value in one
is reported as a warning on that row's message.

Choices where the export says nothing:
- The hotline has no marking column: every alert is HANDLING_RESTRICTED. That is this
  format's rule, not a missing value, so no "default applied" warning is added.
- The export has no action and no time of writing: every row is ACTION_ISSUE, and issued_at
  is the time the call was received. The call id is both call_id and sender_reference.
- A caller with neither name nor phone leaves `caller` unset; an empty name with a phone is
  an anonymous caller.
- Victims are anchored on `Nạn nhân`: every `|`-separated entry there must be a name, and
  `Năm sinh nạn nhân` / `Giới tính nạn nhân` either hold one entry per name (an entry may be
  empty: unknown year, sex not recorded) or are empty altogether. A birth year becomes a
  partial canonical Date (month and day 0). The Latin form is derived for Latin-script names
  only; romanising Khmer script is not guessed.
- A call id used by an earlier converted row of the same file makes the later row a bad row:
  the export promises unique ids, and sending both would make two alerts of one call.
- Problems name columns by the spec's header; an unknown column is named by its own header
  only when that looks like a header (one short line, no quoting fault), because a file
  without a header row, or with a quote never closed, puts call data where headers should be.

The gateway only reads this format (alerts leave it in canonical form), so `encode` exists for
`gateway convert` and for round-trip tests. It writes what the hotline's exporter writes (UTF-8
with BOM, CRLF, quoting only when needed), so decoding a sample and encoding it again gives
the sample's bytes; formulas are neutralised the way OWASP recommends (see `table`). A row
needs a call id (sender_reference when call_id is empty), a time
(issued_at when received_at is unset), and a channel, category and urgency the export has
words for; a message without them cannot be written (CannotEncode), and in
particular CHANNEL_MESSAGING is refused rather than guessed as Zalo or Facebook. Persons that
have no column (suspects, persons without a role, victims without any name) are left out and
every field of theirs is reported, under the person's own index, as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from adapters.base import (
    CannotEncode,
    Decoded,
    DecodeResult,
    DocumentInvalid,
    Encoded,
    Problem,
    RecordError,
)
from adapters.common.limits import EXPORT_LIMITS, check_deadline, check_size
from adapters.common.localtime import (
    PARTNER_ZONE,
    from_timestamp,
    parse_local,
    to_timestamp,
)
from adapters.common.loss import lost_fields
from adapters.common.names import family_first_latin, is_latin_script
from adapters.common.text import ascii_digits, nfc
from adapters.hotline_111_csv import columns as col
from adapters.hotline_111_csv.table import RawRow, read_rows, read_text, write_document
from gateway.wire import Kind, canonical

FORMAT_ID = "hotline-111-csv"

_TIME = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})")
_YEAR = re.compile(r"\d{4}")
_PROVINCE = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_PERSON_PATH = re.compile(r"^hotline_alert\.persons\[(\d+)\]")

_HEADER_MAX = 40
_EXPECTED_TIME = "expected a local time (UTC+7) dd/mm/yyyy HH:MM"
_EXPECTED_PROVINCE = "expected an ISO 3166-2 province code (VN-30, KH-16) or nothing"


class _Layout:
    """Which column holds what, from the header row."""

    def __init__(self, header: RawRow) -> None:
        self.width = len(header.fields)
        self.names: list[str] = []
        self.positions: dict[str, int] = {}
        self.unknown: list[int] = []
        problems: list[Problem] = []
        for index, cell in enumerate(header.fields):
            # A BOM that survived decoding (a second one, or a file saved twice) is not a name.
            text = nfc(cell.text.lstrip("\ufeff"))
            known = col.HEADER_KEYS.get(col.key(text))
            faulty = any(at == index for at, _ in header.faults)
            # Locations name an unknown column by its header only when it looks like one: a
            # broken quote or a file without a header row would put data (names, phones) here.
            plausible = not faulty and len(text) <= _HEADER_MAX and text.isprintable()
            self.names.append(known or (text if plausible else ""))
            if known is None:
                self.unknown.append(index)
            elif known in self.positions:
                problems.append(
                    Problem(
                        self.where(index, header),
                        f"expected each column once; `{known}` is also column "
                        f"{self.positions[known] + 1}",
                    )
                )
            else:
                self.positions[known] = index
        problems[:0] = (Problem(self.where(index, header), fault) for index, fault in header.faults)
        problems.extend(
            Problem(f"line {header.line}", f"expected a column headed `{name}` (`;`-separated)")
            for name in col.HEADERS
            if name not in self.positions
        )
        if problems:
            raise DocumentInvalid(problems)

    def where(self, index: int, row: RawRow) -> str:
        line = row.fields[index].line if index < len(row.fields) else row.last_line
        name = self.names[index] if index < len(self.names) else ""
        place = f"line {line}, column {index + 1}"
        return f"{place} ({name})" if name else place


class _RowReader:
    """One data row's fields by header, and the problems found in it."""

    def __init__(self, row: RawRow, layout: _Layout) -> None:
        self.row = row
        self.layout = layout
        self.problems: list[Problem] = []

    def where(self, header: str) -> str:
        return self.layout.where(self.layout.positions[header], self.row)

    def text(self, header: str) -> str:
        return nfc(self.row.fields[self.layout.positions[header]].text)

    def fail(self, header: str, message: str) -> None:
        self.problems.append(Problem(self.where(header), message))

    def structure_ok(self) -> bool:
        """False (with problems) when the row's fields cannot be trusted to be in place."""
        row, layout = self.row, self.layout
        for index, fault in row.faults:
            self.problems.append(Problem(layout.where(index, row), fault))
        count = len(row.fields)
        if row.faults:
            # A quote never closed swallows the following fields: a count would only repeat it.
            return False
        if count < layout.width:
            self.problems.append(
                Problem(
                    layout.where(count, row),
                    f"expected {layout.width} fields separated by `;`; "
                    f"the row ends after column {count}",
                )
            )
        elif count > layout.width:
            self.problems.append(
                Problem(
                    layout.where(layout.width, row),
                    f"expected {layout.width} fields separated by `;`; the row has {count} "
                    "(is a field holding `;` not quoted?)",
                )
            )
        return not self.problems

    def code(self, header: str, codes: col.Codes[col.V]) -> col.V | None:
        found = codes.get(col.key(self.text(header)))
        if found is None:
            self.fail(header, codes.expected)
        return found

    def received(self) -> datetime | None:
        text = " ".join(ascii_digits(self.text(col.RECEIVED)).split())
        match = _TIME.fullmatch(text)
        if match is not None:
            day, month, year, hour, minute = match.groups()
            try:
                return parse_local(f"{day}/{month}/{year} {hour}:{minute}", col.TIME_PATTERN)
            except (ValueError, OverflowError):
                pass
        self.fail(col.RECEIVED, _EXPECTED_TIME)
        return None

    def victims(self) -> list[canonical.InvolvedPerson]:
        names_text = self.text(col.VICTIM_NAMES)
        names = [nfc(name) for name in names_text.split(col.LIST_SEPARATOR)] if names_text else []
        if any(not name for name in names):
            self.fail(col.VICTIM_NAMES, "expected a victim name between every two `|`")
        years = self.aligned(col.VICTIM_YEARS, len(names))
        sexes = self.aligned(col.VICTIM_SEXES, len(names))
        if years is None or sexes is None:
            return []

        persons: list[canonical.InvolvedPerson] = []
        bad_year = bad_sex = False
        for name, year_text, sex_text in zip(names, years, sexes, strict=True):
            person = canonical.Person(name=name)
            if is_latin_script(name):
                person.name_latin = family_first_latin(name)
            year = ascii_digits(year_text)
            if year:
                if _YEAR.fullmatch(year) and int(year) > 0:
                    person.birth_date.year = int(year)
                else:
                    bad_year = True
            if sex_text:
                sex = col.SEX_CODES.get(col.key(sex_text))
                if sex is None:
                    bad_sex = True
                else:
                    person.sex = sex
            persons.append(canonical.InvolvedPerson(role=canonical.ROLE_VICTIM, person=person))
        if bad_year:
            self.fail(
                col.VICTIM_YEARS,
                "expected a birth year yyyy for each victim, separated by `|`, "
                "an entry left empty when the year is not known",
            )
        if bad_sex:
            self.fail(
                col.VICTIM_SEXES,
                f"{col.SEX_CODES.expected} for each victim, separated by `|`, "
                "an entry left empty when not recorded",
            )
        return persons

    def aligned(self, header: str, victims: int) -> list[str] | None:
        """The column's `|`-separated entries, one per victim; all empty when the field is."""
        text = self.text(header)
        if not text:
            return [""] * victims
        entries = [nfc(entry) for entry in text.split(col.LIST_SEPARATOR)]
        if len(entries) != victims:
            column = self.layout.positions[col.VICTIM_NAMES] + 1
            self.fail(
                header,
                f"expected one `|`-separated entry per victim named in column {column} "
                f"({col.VICTIM_NAMES}), or nothing; found {_count(len(entries), 'entry')} "
                f"for {_count(victims, 'name')}",
            )
            return None
        return entries


def _count(number: int, word: str) -> str:
    plural = "entries" if word == "entry" else f"{word}s"
    return f"{number} {word if number == 1 else plural}"


def _decode_row(
    row: RawRow, layout: _Layout, seen: dict[str, int]
) -> tuple[canonical.Message, list[Problem]] | list[Problem]:
    """The row's message and warnings, or its problems."""
    reader = _RowReader(row, layout)
    if not reader.structure_ok():
        return reader.problems

    call_id = ascii_digits(reader.text(col.CALL_ID))
    if not call_id:
        reader.fail(col.CALL_ID, "expected the call id")
    elif call_id in seen:
        reader.fail(
            col.CALL_ID,
            f"expected a call id of its own; the row at line {seen[call_id]} has the same",
        )
    received = reader.received()
    channel = reader.code(col.CHANNEL, col.CHANNEL_CODES)
    category = reader.code(col.CATEGORY, col.CATEGORY_CODES)
    urgency = reader.code(col.URGENCY, col.URGENCY_CODES)
    province = ascii_digits(reader.text(col.PROVINCE)).upper()
    if province and not _PROVINCE.fullmatch(province):
        reader.fail(col.PROVINCE, _EXPECTED_PROVINCE)
    victims = reader.victims()
    if (
        reader.problems
        or received is None
        or channel is None
        or category is None
        or urgency is None
    ):
        return reader.problems

    stamp = to_timestamp(received)
    message = canonical.Message(
        sender_reference=call_id,
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_RESTRICTED,
        issued_at=stamp,
    )
    alert = message.hotline_alert
    alert.call_id = call_id
    alert.received_at.CopyFrom(stamp)
    alert.channel = channel
    alert.category = category
    alert.urgency = urgency
    alert.place = reader.text(col.PLACE)
    alert.province = province
    alert.summary = reader.text(col.SUMMARY)
    caller_name = reader.text(col.CALLER_NAME)
    caller_phone = ascii_digits(reader.text(col.CALLER_PHONE))
    if caller_name or caller_phone:
        alert.caller.name = caller_name
        alert.caller.phone = caller_phone
    alert.persons.extend(victims)

    warnings = [
        Problem(
            layout.where(index, row),
            f"this column is not in the {FORMAT_ID} spec; its value was ignored",
        )
        for index in layout.unknown
        if nfc(row.fields[index].text)
    ]
    seen[call_id] = row.line
    return message, warnings


class Hotline111Csv:
    format_id = FORMAT_ID
    media_type = "text/csv"
    kinds = frozenset({Kind.HOTLINE_ALERT})
    many_per_document = True

    def decode(self, data: bytes) -> DecodeResult:
        check_size(data, EXPORT_LIMITS)
        rows = [row for row in read_rows(read_text(data), EXPORT_LIMITS) if not row.is_blank()]
        if not rows:
            raise DocumentInvalid(
                [Problem("line 1", "expected a header row: " + ";".join(col.HEADERS))]
            )
        layout = _Layout(rows[0])
        messages: list[Decoded] = []
        rejected: list[RecordError] = []
        seen: dict[str, int] = {}
        for number, row in enumerate(rows[1:], 1):
            if number % 1000 == 0:
                check_deadline(f"line {row.line}")
            outcome = _decode_row(row, layout, seen)
            record = f"line {row.line}"
            if isinstance(outcome, list):
                rejected.append(RecordError(record, tuple(outcome)))
            else:
                message, warnings = outcome
                messages.append(Decoded(message, record, tuple(warnings)))
        return DecodeResult(tuple(messages), tuple(rejected))

    def encode(self, message: canonical.Message) -> Encoded:
        values, warnings = self._row(message)
        return Encoded(write_document([list(col.HEADERS), values]), warnings)

    def encode_many(self, messages: Iterable[canonical.Message]) -> Encoded:
        """One document of many alerts (what `gateway convert` writes for a batch).

        Warnings and refusals are located as `messages[i].<canonical path>`.
        """
        rows: list[list[str]] = [list(col.HEADERS)]
        warnings: list[Problem] = []
        for index, message in enumerate(messages):
            try:
                values, lost = self._row(message)
            except CannotEncode as refusal:
                problem = refusal.problem
                raise CannotEncode(
                    Problem(f"messages[{index}].{problem.location}", problem.message)
                ) from None
            rows.append(values)
            warnings.extend(Problem(f"messages[{index}].{p.location}", p.message) for p in lost)
        return Encoded(write_document(rows), tuple(warnings))

    def _row(self, message: canonical.Message) -> tuple[list[str], tuple[Problem, ...]]:
        """The row's fields, and what of the message they could not hold."""
        body = message.WhichOneof("body")
        if body != Kind.HOTLINE_ALERT.value:
            raise CannotEncode(
                Problem(
                    "body",
                    f"expected a hotline_alert; {FORMAT_ID} carries hotline alerts only, "
                    f"not {body or 'a message without a body'}",
                )
            )
        alert = message.hotline_alert
        missing: list[tuple[str, str]] = []

        call_id = ascii_digits(_writable(alert.call_id) or _writable(message.sender_reference))
        if not call_id:
            missing.append(("hotline_alert.call_id", "a call id (or sender_reference)"))
        received = ""
        stamp_path = "hotline_alert.received_at"
        stamp = alert.received_at if alert.HasField("received_at") else None
        if stamp is None and message.HasField("issued_at"):
            stamp, stamp_path = message.issued_at, "issued_at"
        if stamp is None:
            missing.append((stamp_path, "the time the call was received"))
        else:
            try:
                local = from_timestamp(stamp).astimezone(PARTNER_ZONE)
            except (ValueError, OverflowError):
                missing.append((stamp_path, "a time in the years 1 to 9999 (UTC+7)"))
            else:
                # Formatted by hand: strftime does not pad years before 1000 on every platform.
                received = (
                    f"{local.day:02d}/{local.month:02d}/{local.year:04d} "
                    f"{local.hour:02d}:{local.minute:02d}"
                )
        channel = col.CHANNEL_CODES.words.get(alert.channel, "")
        if not channel:
            missing.append(
                (
                    "hotline_alert.channel",
                    "a channel the export names (phone, Zalo, Facebook, "
                    "walk-in); it has no word for another messaging service",
                )
            )
        category = col.CATEGORY_CODES.words.get(alert.category, "")
        if not category:
            missing.append(("hotline_alert.category", "a category"))
        urgency = col.URGENCY_CODES.words.get(alert.urgency, "")
        if not urgency:
            missing.append(("hotline_alert.urgency", "an urgency"))
        if missing:
            location = missing[0][0] if len(missing) == 1 else "hotline_alert"
            expected = "; ".join(
                what if len(missing) == 1 else f"{where}: {what}" for where, what in missing
            )
            needs = "it" if len(missing) == 1 else "them"
            raise CannotEncode(
                Problem(location, f"expected {expected}; every {FORMAT_ID} row needs {needs}")
            )

        province = ascii_digits(_writable(alert.province)).upper()
        kept: list[int] = []
        dropped: list[tuple[int, str]] = []
        names: list[str] = []
        years: list[str] = []
        sexes: list[str] = []
        for index, involved in enumerate(alert.persons):
            person = involved.person
            name = (_writable(person.name) or _writable(person.name_latin)).replace(
                col.LIST_SEPARATOR, "/"
            )
            if involved.role != canonical.ROLE_VICTIM:
                role = "a suspect" if involved.role == canonical.ROLE_SUSPECT else "no role"
                dropped.append(
                    (
                        index,
                        f"{FORMAT_ID} has columns for victims only, not for a "
                        f"person with {role}; it was left out",
                    )
                )
            elif not name:
                dropped.append(
                    (
                        index,
                        f"{FORMAT_ID} writes a victim only with a name; "
                        "this unnamed victim was left out",
                    )
                )
            else:
                kept.append(index)
                names.append(name)
                year = person.birth_date.year
                years.append(f"{year:04d}" if 1 <= year <= 9999 else "")
                sexes.append(col.SEX_CODES.words.get(person.sex, ""))

        values = {
            col.CALL_ID: call_id,
            col.RECEIVED: received,
            col.CHANNEL: channel,
            col.CATEGORY: category,
            col.URGENCY: urgency,
            col.PLACE: _writable(alert.place),
            col.PROVINCE: province if _PROVINCE.fullmatch(province) else "",
            col.SUMMARY: _writable(alert.summary),
            col.CALLER_NAME: _writable(alert.caller.name),
            col.CALLER_PHONE: ascii_digits(_writable(alert.caller.phone)),
            col.VICTIM_NAMES: col.LIST_SEPARATOR.join(names),
            # An all-empty column is how the export writes "none known" for every victim.
            col.VICTIM_YEARS: col.LIST_SEPARATOR.join(years) if any(years) else "",
            col.VICTIM_SEXES: col.LIST_SEPARATOR.join(sexes) if any(sexes) else "",
        }
        row = [values[header] for header in col.HEADERS]
        return row, self._lost(message, row, kept, dropped)

    def _lost(
        self,
        message: canonical.Message,
        row: list[str],
        kept: list[int],
        dropped: list[tuple[int, str]],
    ) -> tuple[Problem, ...]:
        """What did not survive writing and reading back, by the original's field paths."""
        result = self.decode(write_document([list(col.HEADERS), row]))
        if len(result.messages) != 1:
            # The checks above are meant to make this impossible; refuse rather than emit a
            # row the format's own reader rejects.
            reasons = "; ".join(p.message for r in result.rejected for p in r.problems)
            raise CannotEncode(
                Problem("hotline_alert", f"could not be written as a row: {reasons}")
            )
        # The fields the gateway's envelope carries, and the persons written elsewhere or not
        # at all, are taken out so the comparison lines written persons up with read ones.
        original = canonical.Message()
        original.CopyFrom(message)
        original.ClearField("case_id")
        original.ClearField("in_reply_to")
        del original.hotline_alert.persons[:]
        original.hotline_alert.persons.extend(message.hotline_alert.persons[i] for i in kept)

        def renumber(path: str) -> str:
            return _PERSON_PATH.sub(lambda m: f"hotline_alert.persons[{kept[int(m[1])]}]", path)

        warnings = [
            Problem(renumber(p.location), p.message)
            for p in lost_fields(original, result.messages[0].message, FORMAT_ID)
        ]
        for index, reason in dropped:
            left_out = lost_fields(
                message.hotline_alert.persons[index], canonical.InvolvedPerson(), FORMAT_ID
            )
            warnings.extend(
                Problem(f"hotline_alert.persons[{index}].{p.location}", reason) for p in left_out
            )
        return tuple(sorted(warnings, key=_path_order))


def _writable(text: str) -> str:
    """Text as the reader will give it back; NUL is dropped, since it marks a UTF-16 file."""
    return nfc(text.replace("\x00", ""))


def _path_order(problem: Problem) -> tuple[int, str]:
    """Message-level fields first, then persons in their original order."""
    match = _PERSON_PATH.match(problem.location)
    return (int(match[1]) + 1 if match else 0, problem.location)


ADAPTER = Hotline111Csv()

__all__ = ["ADAPTER", "FORMAT_ID", "Hotline111Csv"]
