"""Every msgid the report's modules mark with N_() (titles, labels, units, notes) is in the
console's vi, km and en catalogues: the report is read in all three, and the console's own
catalogue test (tests/console/test_catalogues.py) looks only under gateway/console."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_python

from gateway.console.context import CONSOLE_LANGUAGES
from gateway.console.i18n import load_catalogue
from tests.console.test_catalogues import TRANSLATED, MsgId, missing

REPORT = Path(str(resources.files("gateway.report")))


def report_msgids() -> list[tuple[str, MsgId]]:
    found: list[tuple[str, MsgId]] = []
    for module in sorted(REPORT.glob("*.py")):
        with module.open("rb") as source:
            for lineno, _function, message, _comments in extract_python(
                source, {"N_": None}, [], {}
            ):
                if isinstance(message, str):
                    found.append((f"{module.name}:{lineno}", message))
    return found


def test_the_extractor_finds_the_renderers_ids() -> None:
    found = {msgid for _where, msgid in report_msgids()}
    assert "Nothing to report in this period." in found  # html_format.py
    assert "%(value)s h" in found  # text.py


@pytest.mark.parametrize("language", CONSOLE_LANGUAGES)
def test_every_report_msgid_is_in_the_catalogue(language: str) -> None:
    catalogue = load_catalogue(language)
    problems = sorted(
        f"{where}: {reason}: {msgid!r}"
        for where, msgid in report_msgids()
        if (reason := missing(catalogue, msgid, translated=language in TRANSLATED))
    )
    assert not problems, f"{language} catalogue:\n" + "\n".join(problems)
