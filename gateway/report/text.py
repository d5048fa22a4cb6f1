"""How a report's labels and numbers read in vi, km or en: shared by every renderer (SVG
charts, HTML, XLSX headers, the console page) so they all say the same thing.

Design notes:
- Label texts are gettext msgids translated with the console's catalogues
  (gateway/console/i18n.py), loaded once per process and language; literal labels (peer
  ids, months) are shown as they are.
- A suppressed cell (gateway.report.model.Cell.suppressed) reads its disclosure marker
  (gateway.report.disclosure.marker: "<3", or "x" for a total hidden to protect its members)
  in every language and format: `value()` never looks at its value, so no renderer that
  goes through here can show it.
- Numbers follow the reader: grouping and decimal signs from CLDR (Babel), Khmer digits for
  km. Durations are shown in seconds, minutes or hours, whichever reads best.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from babel.numbers import format_decimal
from babel.support import Translations

from gateway.console.context import ConsoleLanguage
from gateway.console.i18n import DEFAULT_LANGUAGE, N_, as_language, digits, load_translations
from gateway.report.disclosure import SMALL, marker
from gateway.report.model import Cell, Label, Table, Unit

SUPPRESSED_MARK = SMALL
SUPPRESSED_NOTE = N_(
    "<3: fewer than 3 people or messages. The number is not shown, so that nobody can be "
    "picked out."
)
COMPLEMENT_NOTE = N_("x: a total not shown, so that it does not give a small number away.")
_SECONDS = N_("%(value)s s")
_MINUTES = N_("%(value)s min")
_HOURS = N_("%(value)s h")
_PERCENT = N_("%(value)s%%")


@functools.cache
def _translations(language: ConsoleLanguage) -> Translations:
    return load_translations(language)


@dataclass(frozen=True)
class ReportText:
    """A report's words and numbers in one language."""

    language: ConsoleLanguage
    gettext: Callable[[str], str]

    @classmethod
    def of(cls, language: str) -> ReportText:
        reader = as_language(language) or DEFAULT_LANGUAGE
        return cls(reader, _translations(reader).ugettext)

    def _(self, message: str) -> str:
        return self.gettext(message)

    def label(self, label: Label) -> str:
        return self.gettext(label.text) if label.translate else label.text

    def number(self, value: float, decimals: int = 0) -> str:
        pattern = "#,##0" if decimals == 0 else "#,##0." + "0" * decimals
        amount = round(value, decimals) if decimals else round(value)
        return digits(format_decimal(amount, format=pattern, locale=self.language), self.language)

    def amount(self, value: float, unit: Unit, *, like: float | None = None) -> str:
        """`value` in `unit` as the reader writes it; a duration in the seconds, minutes or
        hours that suit `like` (an axis's top, so that all its ticks share one) or itself."""
        if unit == "percent":
            return self.gettext(_PERCENT) % {"value": self.number(value, 1)}
        if unit == "seconds":
            size = value if like is None else like
            if size < 120:
                return self.gettext(_SECONDS) % {"value": self.number(value)}
            if size < 2 * 3600:
                return self.gettext(_MINUTES) % {"value": self.number(value / 60)}
            return self.gettext(_HOURS) % {"value": self.number(value / 3600, 1)}
        return self.number(value)

    def value(self, cell: Cell) -> str:
        """What a table shows for `cell`: its disclosure marker when suppressed."""
        hidden = marker(cell)
        if hidden is not None:
            return hidden
        return self.amount(cell.value, cell.unit)


def column_unit(table: Table, index: int) -> Unit:
    """The unit of a value column: its first cell's ("count" for an empty column)."""
    for row in table.rows:
        if index < len(row.cells):
            return row.cells[index].unit
    return "count"


__all__ = ["COMPLEMENT_NOTE", "SUPPRESSED_MARK", "SUPPRESSED_NOTE", "ReportText", "column_unit"]
