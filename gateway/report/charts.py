"""Server-rendered SVG charts of a report table: horizontal bars, grouped or stacked.

Design notes:
- Pure and small: one function from a Table to SVG text, no plotting library, no I/O.
  Output is deterministic (same table and language, same bytes) so tests compare it and the
  console can inline it: ids are derived from the table key, not random.
- One bar group per row (its labels joined), one series per value column in the unit of
  the first; columns that total others are left out (the caller names them). Bars are
  horizontal so that long labels (Khmer agency names, peer/kind/month triples) read on
  their own line instead of being rotated under the axis.
- Safe to inline under the console's CSP and in a standalone file: presentation attributes
  only (no <style>, no style="" attributes), no script, no event handlers, no links or
  external references; every text escaped.
- Disclosure: a suppressed cell is drawn as a hatched marker of one fixed width reading its
  disclosure marker ("<3", or "x" for a hidden total), never at its height; the value axis
  is scaled on shown values only; no <title>/tooltip carries a number; stacked bars show no
  total. So neither geometry nor text of the SVG depends on a suppressed value.
- Khmer text: the svg's lang attribute and a font-family that puts Noto Sans Khmer first
  (the console serves it; the standalone HTML file embeds the glyphs it uses).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from gateway.console.i18n import N_
from gateway.report.disclosure import COMPLEMENT, SMALL
from gateway.report.model import Cell, Table
from gateway.report.text import ReportText, column_unit

WIDTH = 760
MARK_WIDTH = 28  # every suppressed marker, whatever it stands for
MAX_ROWS = 200  # a chart taller than this helps nobody: the table below still shows all
FONT_SIZE = 12
BAR = 14  # bar thickness
GROUP_GAP = 10
PALETTE = ("#0b4f8a", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7a6f00", "#555555")
HATCH_INK = "#a1121b"
FONTS = {
    "km": "Noto Sans Khmer, Khmer OS System, Khmer UI, sans-serif",
    "other": "system-ui, Segoe UI, Roboto, Arial, Noto Sans, Noto Sans Khmer, sans-serif",
}
MSG_SUPPRESSED_LEGEND = N_("fewer than 3: not shown")
MSG_COMPLEMENT_LEGEND = N_("total not shown")
_AXIS_NAMES = {
    "count": N_("Number"),
    "seconds": N_("Time"),
    "percent": N_("Percent"),
}


@dataclass(frozen=True)
class _Layout:
    plot_left: int
    plot_width: int


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _id(table: Table) -> str:
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in table.key)
    return f"chart-{safe or 'table'}"


def _text_width(text: str) -> int:
    """A rough width in px: enough to lay labels out without measuring fonts."""
    return int(len(text) * FONT_SIZE * 0.6) + 8


def _nice_step(top: float, ticks: int = 5) -> float:
    raw = top / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _drawn(cell: Cell) -> bool:
    return cell.suppressed or cell.value > 0


def _shown(cell: Cell) -> float:
    return 0.0 if cell.suppressed else max(cell.value, 0.0)


def chart_svg(table: Table, text: ReportText, *, totals: frozenset[int] = frozenset()) -> str:
    """The chart of `table` as an <svg> element ("" when the table has no chart); `totals`:
    the value columns that total others (gateway.report.aggregate.RELATIONS), not charted:
    a stacked bar of members and their total would count everything twice."""
    if table.chart == "none" or not table.rows or not table.columns or len(table.rows) > MAX_ROWS:
        return ""
    if not set(range(len(table.columns))) - totals:
        return ""
    stacked = table.chart == "stacked_bar"
    # One value axis: only the columns in the first column's unit are charted (a median time
    # beside a percentage would share no scale); the table shows them all.
    unit = column_unit(table, min(set(range(len(table.columns))) - totals, default=0))
    charted = [
        index
        for index in range(len(table.columns))
        if column_unit(table, index) == unit and index not in totals
    ]
    columns = [table.columns[index] for index in charted]
    # Rows with nothing to draw (every charted cell a shown zero) stay in the table only; the
    # choice looks at shown values alone, so it says nothing about a hidden one.
    kept = [
        (row, tuple(row.cells[index] for index in charted if index < len(row.cells)))
        for row in table.rows
    ]
    kept = [(row, cells) for row, cells in kept if any(_drawn(cell) for cell in cells)]
    if not kept:
        return ""
    rows = [cells for _row, cells in kept]
    series = len(columns)
    names = [" · ".join(text.label(label) for label in row.labels) for row, _cells in kept]
    title = text.label(table.title)
    # Each row's label sits on its own line above its bars: no width guessed for Khmer text.
    layout = _Layout(16, WIDTH - 16 - 110)

    # The value axis: shown values only (a suppressed value must not stretch it).
    if stacked:
        top_value = max(sum(_shown(cell) for cell in cells) for cells in rows)
    else:
        top_value = max((_shown(cell) for cells in rows for cell in cells), default=0.0)
    divisor = 1.0
    if unit == "seconds":  # ticks at whole minutes or hours, as the labels will read
        divisor = 3600.0 if top_value >= 2 * 3600 else 60.0 if top_value >= 120 else 1.0
    step = _nice_step(top_value / divisor) * divisor if top_value > 0 else 1.0
    axis_top = step * max(1, math.ceil(top_value / step))
    scale = layout.plot_width / axis_top

    # The title is the page's heading beside the chart; the svg carries it as <title> only.
    parts: list[str] = []
    y = 6

    # Legend: the series (when more than one) and the suppressed marker.
    legend: list[tuple[str, str]] = []
    if series > 1:
        legend = [
            (PALETTE[index % len(PALETTE)], text.label(column))
            for index, column in enumerate(columns)
        ]
    x = 0
    for colour, name in legend:
        width = 18 + _text_width(name)
        if x and x + width > WIDTH:
            x, y = 0, y + FONT_SIZE + 8
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{y + 11}">{escape(name)}</text>'
        )
        x += width + 10
    keys = []
    if any(cell.suppressed and not cell.complement for cells in rows for cell in cells):
        keys.append(f"{SMALL}: {text._(MSG_SUPPRESSED_LEGEND)}")
    if any(cell.suppressed and cell.complement for cells in rows for cell in cells):
        keys.append(f"{COMPLEMENT}: {text._(MSG_COMPLEMENT_LEGEND)}")
    for name in keys:
        width = 18 + _text_width(name)
        if x and x + width > WIDTH:
            x, y = 0, y + FONT_SIZE + 8
        parts.append(
            f'<rect class="suppressed-key" x="{x}" y="{y}" width="12" height="12" '
            f'fill="url(#{_id(table)}-hatch)" stroke="{HATCH_INK}"/>'
            f'<text x="{x + 16}" y="{y + 11}">{escape(name)}</text>'
        )
        x += width + 10
    if legend or keys:
        y += FONT_SIZE + 12

    plot_top = y
    group = BAR if stacked else BAR * series
    for cells, name in zip(rows, names, strict=True):
        parts.append(
            f'<text class="row-label" x="{layout.plot_left}" y="{y + FONT_SIZE}">'
            f"{escape(name)}</text>"
        )
        y += FONT_SIZE + 4
        if stacked:
            parts.append(_stacked_bar(cells, text, table, layout=layout, y=y, scale=scale))
        else:
            for index, cell in enumerate(cells):
                colour = PALETTE[index % len(PALETTE)]
                parts.append(
                    _bar(
                        cell,
                        text,
                        table,
                        layout=layout,
                        y=y + index * BAR,
                        scale=scale,
                        colour=colour,
                    )
                )
        y += group + GROUP_GAP

    # The value axis under the bars, with its ticks and name.
    axis_y = y
    parts.append(
        f'<line x1="{layout.plot_left}" y1="{plot_top - 4}" x2="{layout.plot_left}" '
        f'y2="{axis_y}" stroke="#3d4a63"/>'
        f'<line x1="{layout.plot_left}" y1="{axis_y}" '
        f'x2="{layout.plot_left + layout.plot_width}" y2="{axis_y}" stroke="#3d4a63"/>'
    )
    ticks = round(axis_top / step)
    for index in range(ticks + 1):
        value = step * index
        tick_x = layout.plot_left + value * scale
        parts.append(
            f'<line x1="{tick_x:.1f}" y1="{axis_y}" x2="{tick_x:.1f}" y2="{axis_y + 4}" '
            f'stroke="#3d4a63"/><text x="{tick_x:.1f}" y="{axis_y + 6 + FONT_SIZE}" '
            f'text-anchor="middle">{escape(text.amount(value, unit, like=axis_top))}</text>'
        )
    y = axis_y + 10 + 2 * FONT_SIZE
    parts.append(
        f'<text x="{layout.plot_left + layout.plot_width / 2:.1f}" y="{y + 4}" '
        f'text-anchor="middle" font-style="italic">{escape(text._(_AXIS_NAMES[unit]))}</text>'
    )
    height = y + 12
    font = FONTS["km"] if text.language == "km" else FONTS["other"]
    chart_id = _id(table)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" id="{chart_id}" '
        f'lang="{text.language}" role="img" aria-labelledby="{chart_id}-title" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'font-family="{_attr(font)}" font-size="{FONT_SIZE}" fill="#14213d">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<defs><pattern id="{chart_id}-hatch" width="6" height="6" '
        f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#fde6e7"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{HATCH_INK}" stroke-width="2"/>'
        f"</pattern></defs>" + "".join(parts) + "</svg>"
    )


def _marker(table: Table, cell: Cell, text: ReportText, x: float, y: float) -> str:
    """The fixed-size hatched marker of a suppressed cell (its value is never used)."""
    return (
        f'<g class="suppressed" data-suppressed="true">'
        f'<rect x="{x:.1f}" y="{y}" width="{MARK_WIDTH}" height="{BAR - 1}" '
        f'fill="url(#{_id(table)}-hatch)" stroke="{HATCH_INK}"/>'
        f'<text x="{x + MARK_WIDTH + 3:.1f}" y="{y + BAR - 3}" fill="{HATCH_INK}" '
        f'font-size="{FONT_SIZE - 1}" font-weight="bold">{escape(text.value(cell))}</text></g>'
    )


def _bar(
    cell: Cell,
    text: ReportText,
    table: Table,
    *,
    layout: _Layout,
    y: float,
    scale: float,
    colour: str,
) -> str:
    if cell.suppressed:
        return _marker(table, cell, text, layout.plot_left + 1, y)
    width = max(cell.value, 0.0) * scale
    value = escape(text.amount(cell.value, cell.unit))
    return (
        f'<rect class="bar" x="{layout.plot_left}" y="{y}" width="{width:.1f}" '
        f'height="{BAR - 1}" fill="{colour}"/>'
        f'<text x="{layout.plot_left + width + 4:.1f}" y="{y + BAR - 3}" '
        f'font-size="{FONT_SIZE - 1}">{value}</text>'
    )


def _stacked_bar(
    cells: tuple[Cell, ...],
    text: ReportText,
    table: Table,
    *,
    layout: _Layout,
    y: float,
    scale: float,
) -> str:
    """Shown segments from the axis, then one marker per suppressed segment; no total."""
    parts: list[str] = []
    x = float(layout.plot_left)
    for index, cell in enumerate(cells):
        if cell.suppressed or cell.value <= 0:
            continue
        width = cell.value * scale
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y}" width="{width:.1f}" height="{BAR - 1}" '
            f'fill="{PALETTE[index % len(PALETTE)]}" stroke="#ffffff" stroke-width="0.5"/>'
        )
        x += width
    for cell in cells:
        if cell.suppressed:
            parts.append(_marker(table, cell, text, x + 2, y))
            x += MARK_WIDTH + 24  # room for the marker's text
    return "".join(parts)


__all__ = ["MARK_WIDTH", "chart_svg"]
