"""Reads an XLSX back with zipfile and the standard XML parser (no spreadsheet library):
each sheet's name and its cells as (text or number, kind), kind "s" for text, "n" for a
number, "f" for a formula (which our workbooks must never hold)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


@dataclass(frozen=True)
class XlsxCell:
    value: str | float
    kind: str  # "s" text, "n" number, "f" formula


@dataclass(frozen=True)
class XlsxSheet:
    name: str
    cells: dict[tuple[int, int], XlsxCell]  # (row, column), both from 0
    has_column_widths: bool
    frozen: bool

    def row(self, index: int) -> list[str | float]:
        found = sorted(
            (column, cell.value) for (row, column), cell in self.cells.items() if row == index
        )
        return [value for _column, value in found]

    @property
    def height(self) -> int:
        return 1 + max((row for row, _column in self.cells), default=-1)


def _parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number - 1


def xml_parts(data: bytes) -> dict[str, bytes]:
    """Every part of the package but its document properties (they hold times)."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        return {
            name: package.read(name)
            for name in package.namelist()
            if not name.startswith("docProps/")
        }


def read_xlsx(data: bytes) -> list[XlsxSheet]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        strings = []
        if "xl/sharedStrings.xml" in package.namelist():
            for item in _parse(package.read("xl/sharedStrings.xml")).iter(f"{MAIN}si"):
                strings.append("".join(node.text or "" for node in item.iter(f"{MAIN}t")))
        relations = {
            rel.get("Id"): rel.get("Target")
            for rel in _parse(package.read("xl/_rels/workbook.xml.rels"))
        }
        sheets = []
        for sheet in _parse(package.read("xl/workbook.xml")).iter(f"{MAIN}sheet"):
            target = str(relations[sheet.get(f"{RELS}id")])
            root = _parse(package.read(f"xl/{target.removeprefix('/xl/')}"))
            cells: dict[tuple[int, int], XlsxCell] = {}
            for cell in root.iter(f"{MAIN}c"):
                found = _CELL_REF.fullmatch(cell.get("r", ""))
                assert found is not None
                where = (int(found[2]) - 1, _column(found[1]))
                value = cell.find(f"{MAIN}v")
                if cell.find(f"{MAIN}f") is not None:
                    cells[where] = XlsxCell("", "f")
                elif cell.get("t") == "s" and value is not None:
                    cells[where] = XlsxCell(strings[int(value.text or "0")], "s")
                elif cell.get("t") == "inlineStr":
                    cells[where] = XlsxCell(
                        "".join(t.text or "" for t in cell.iter(f"{MAIN}t")), "s"
                    )
                elif value is not None:
                    cells[where] = XlsxCell(float(value.text or "0"), "n")
            sheets.append(
                XlsxSheet(
                    name=str(sheet.get("name")),
                    cells=cells,
                    has_column_widths=root.find(f"{MAIN}cols") is not None,
                    frozen=root.find(f".//{MAIN}pane") is not None,
                )
            )
        return sheets
