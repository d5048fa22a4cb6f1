"""The CSV format: UTF-8 with BOM, a section per table, labels in the reader's language from
the catalogues (every report msgid translated in vi and km), hidden cells as their marker."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_python

from gateway.console.i18n import load_catalogue
from gateway.report.csv_format import render_csv
from gateway.report.disclosure import TotalOf, protect
from gateway.report.formats import FORMATS
from gateway.report.model import Cell, Label, Report, Row, Table

REPORT = Path(__file__).resolve().parents[2] / "gateway" / "report"


def _report() -> Report:
    table = Table(
        "victims_by_sex_age",
        Label("Victims handed over and received by sex and age group"),
        (Label("Direction"), Label("Sex")),
        (Label("0-11", translate=False), Label("Total"), Label("Median delivery time")),
        (
            Row(
                (Label("Handed over"), Label("Female")),
                (Cell(1.0, 1), Cell(1.0, 1), Cell(61.4, 5, "seconds")),
            ),
            Row(
                (Label("Received"), Label("Male")),
                (Cell(7.0, 7), Cell(7.0, 7), Cell(9, 2, "seconds")),
            ),
        ),
    )
    return Report(
        "vn-gialai-police",
        date(2026, 7, 1),
        date(2026, 12, 31),
        datetime(2026, 12, 1, tzinfo=UTC),
        (protect(table, [TotalOf((0,), 1)]),),
    )


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_csv_is_registered() -> None:
    assert FORMATS["csv"] is render_csv


@pytest.mark.parametrize(
    ("language", "title", "header", "female"),
    [
        ("en", "Exchange report", "Median delivery time (seconds)", "Female"),
        ("vi", "Báo cáo trao đổi thông tin", "Thời gian chuyển (trung vị) (giây)", "Nữ"),
        ("km", "របាយការណ៍ការផ្លាស់ប្តូរព័ត៌មាន", "រយៈពេលបញ្ជូន (មធ្យមភាគ) (វិនាទី)", "ស្រី"),
    ],
)
def test_sections_in_the_readers_language(
    language: str, title: str, header: str, female: str
) -> None:
    rows = _rows(render_csv(_report(), language))
    assert rows[0] == [title]
    assert rows[2][1:] == ["2026-07-01", "2026-12-31"]
    start = rows.index([]) + 1
    section = rows[start : start + 4]
    assert section[1][-1] == header
    assert section[2][1] == female
    assert section[2][2:] == ["<3", "x", "61.4"]
    assert section[3][2:] == ["7", "7", "<3"]  # a median of 2 items is hidden
    assert rows[-2][0] == "<3"
    assert rows[-1][0] == "x"


def _report_msgids() -> set[str]:
    found: set[str] = set()
    for module in ("aggregate.py", "csv_format.py"):
        with (REPORT / module).open("rb") as source:
            for _line, _function, message, _comments in extract_python(
                source, {"N_": None}, [], {}
            ):
                if isinstance(message, str):
                    found.add(message)
    return found


@pytest.mark.parametrize("language", ["vi", "km", "en"])
def test_every_report_msgid_is_in_the_catalogue(language: str) -> None:
    catalogue = load_catalogue(language)
    ids = _report_msgids()
    assert len(ids) > 40
    missing = sorted(i for i in ids if not getattr(catalogue.get(i), "string", ""))
    assert not missing, missing
