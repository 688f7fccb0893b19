"""Inline SVG charts for the dashboard: no script, no external file, readable when printed.

Each function takes plain numbers and returns markup that is safe to insert (every label is escaped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

INK = "#1c2833"
MUTED = "#5d6d7e"
GRID = "#e5e8eb"


@dataclass(frozen=True)
class Series:
    """One named series of a column chart, one value per category."""

    name: str
    colour: str
    values: Sequence[int]


def _empty(message: str) -> Markup:
    return Markup('<p class="empty">{}</p>').format(message)


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, colour: str = "#2e86c1",
              value_format: str = "{:,.0f}", notes: Sequence[str] | None = None, maximum: float | None = None,
              label_width: int = 240, bar_width: int = 360) -> Markup:
    """Horizontal bars, one per (label, value); ``notes`` adds a grey remark after each value (e.g. ``n=12``)."""
    if not items:
        return _empty("Nothing to show yet.")
    row, value_width = 24, 110
    top = max(maximum or 0.0, max(value for _, value in items)) or 1.0
    width, height = label_width + bar_width + value_width, row * len(items) + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}"><title>{escape(title)}</title>']
    for index, (label, value) in enumerate(items):
        y = index * row + 3
        length = max(0.0, value / top * bar_width)
        shown = label if len(label) <= 34 else label[:33] + "…"
        note = f' <tspan fill="{MUTED}">{escape(notes[index])}</tspan>' if notes else ""
        parts.append(
            f'<g><title>{escape(label)}: {escape(value_format.format(value))}</title>'
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{escape(shown)}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 8}" rx="2" fill="{colour}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 15}">{escape(value_format.format(value))}{note}</text>'
            f'</g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(categories: Sequence[str], series: Sequence[Series], *, title: str, height: int = 180,
                 column_width: int = 22) -> Markup:
    """Stacked columns, one per category (e.g. a day), with a legend; labels thinned out when crowded."""
    if not categories or not any(any(s.values) for s in series):
        return _empty("Nothing to show yet.")
    left, bottom, legend = 40, 34, 22
    step = column_width + 6
    width = left + step * len(categories) + 10
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top = max(totals) or 1
    plot = height - bottom - legend
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {max(width, 320)} '
             f'{height}" width="{max(width, 320)}" height="{height}"><title>{escape(title)}</title>']
    x_legend = left
    for s in series:
        parts.append(f'<rect x="{x_legend}" y="4" width="12" height="12" fill="{s.colour}"/>'
                     f'<text x="{x_legend + 16}" y="15">{escape(s.name)}</text>')
        x_legend += 26 + 8 * len(s.name)
    base = legend + plot
    for fraction in (0.0, 0.5, 1.0):
        y = base - fraction * plot
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">'
                     f'{round(top * fraction):,}</text>')
    every = max(1, len(categories) // 10)
    for index, category in enumerate(categories):
        x = left + index * step + 3
        y = float(base)
        details = ", ".join(f"{s.name} {s.values[index]:,}" for s in series)
        parts.append(f'<g><title>{escape(category)}: {escape(details)}</title>')
        for s in series:
            value = s.values[index]
            if value:
                h = value / top * plot
                y -= h
                parts.append(f'<rect x="{x}" y="{y:.1f}" width="{column_width}" height="{h:.1f}" fill="{s.colour}"/>')
        parts.append("</g>")
        if index % every == 0:
            parts.append(f'<text x="{x + column_width / 2:.1f}" y="{base + 16}" text-anchor="middle" '
                         f'fill="{MUTED}">{escape(category)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
