"""Small server-rendered SVG charts: a line over months, and stacked bars.

People read trends from a picture; the numbers stay exact elsewhere. Values are Decimals;
they become floats here only to place pixels. Every chart is an `<svg role="img">` named
by its `<title>` and described by its `<desc>`; pages print the same numbers in a table
beside it, for screen readers and for anyone who wants the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

__all__ = ["Stack", "line_chart", "stacked_bar_chart", "axis_ticks", "PALETTE"]

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 40
# Colour-blind-safe (Okabe-Ito), dark enough on white for lines and bars.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


@dataclass(frozen=True)
class Stack:
    """One layer of a stacked bar chart: its name and a value per label."""

    name: str
    values: tuple[Decimal, ...]


def axis_ticks(top: Decimal, count: int = 4) -> list[Decimal]:
    """Return evenly spaced round tick values from 0 that reach at least `top`."""
    if top <= 0:
        return [Decimal(0), Decimal(1)]
    raw = top / count
    scale = Decimal(10) ** raw.adjusted()
    step = next(s * scale for s in _STEPS if s * scale >= raw)
    ticks = [Decimal(0)]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def _tick_label(value: Decimal) -> str:
    """Short axis labels: 250000 → 250k, 1500000 → 1.5M, 2.5 → 2.5."""
    for size, suffix in ((Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if abs(value) >= size:
            return f"{(value / size).normalize():f}{suffix}"
    return f"{value.normalize():f}"


def _frame(chart_id: str, title: str, desc: str, ticks: list[Decimal], labels: Sequence[str],
           unit: str) -> list[str]:
    """The svg element, its title and description, the grid and both axes' labels."""
    top = ticks[-1]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'class="chart" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
             f'id="{chart_id}">',
             f'<title id="{chart_id}-title">{escape(title)}</title>',
             f'<desc id="{chart_id}-desc">{escape(desc)}</desc>']
    for tick in ticks:
        y = _y(tick, top)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#d0d0d0" stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="#333">{escape(_tick_label(tick))}</text>')
    if unit:
        parts.append(f'<text x="4" y="12" font-size="11" fill="#333">'
                     f'{escape(unit)}</text>')
    for index, label in enumerate(labels):
        parts.append(f'<text x="{_x(index, len(labels)):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle" font-size="11" fill="#333">{escape(label)}</text>')
    return parts


def _x(index: int, count: int) -> float:
    band = (WIDTH - LEFT - RIGHT) / max(count, 1)
    return LEFT + band * (index + 0.5)


def _y(value: Decimal, top: Decimal) -> float:
    plot = HEIGHT - TOP - BOTTOM
    return TOP + plot * (1 - float(value / top)) if top > 0 else float(HEIGHT - BOTTOM)


def line_chart(chart_id: str, title: str, desc: str, labels: Sequence[str],
               values: Sequence[Decimal | None], unit: str = "") -> Markup:
    """Return a line chart of `values` over `labels`; a None value leaves a gap."""
    known = [value for value in values if value is not None]
    ticks = axis_ticks(max(known, default=Decimal(0)))
    parts = _frame(chart_id, title, desc, ticks, labels, unit)
    top = ticks[-1]
    runs: list[list[str]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        runs[-1].append(f"{_x(index, len(values)):.1f},{_y(value, top):.1f}")
    for run in runs:
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" '
                         f'stroke="{PALETTE[0]}" stroke-width="2.5"/>')
    for index, value in enumerate(values):
        if value is not None:
            parts.append(f'<circle cx="{_x(index, len(values)):.1f}" '
                         f'cy="{_y(value, top):.1f}" r="3.5" fill="{PALETTE[0]}">'
                         f'<title>{escape(labels[index])}: {escape(f"{value:f}")}</title>'
                         f'</circle>')
    if not known:
        parts.append(f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" '
                     f'font-size="13" fill="#333">No data yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bar_chart(chart_id: str, title: str, desc: str, labels: Sequence[str],
                      stacks: Sequence[Stack], unit: str = "") -> Markup:
    """Return bars over `labels`, each the sum of `stacks` drawn bottom up, with a legend."""
    totals = [sum((stack.values[i] for stack in stacks), Decimal(0)) for i in range(len(labels))]
    ticks = axis_ticks(max(totals, default=Decimal(0)))
    top = ticks[-1]
    parts = _frame(chart_id, title, desc, ticks, labels, unit)
    band = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    for index in range(len(labels)):
        base = Decimal(0)
        for layer, stack in enumerate(stacks):
            value = stack.values[index]
            if value <= 0:
                continue
            y_top, y_base = _y(base + value, top), _y(base, top)
            parts.append(f'<rect x="{_x(index, len(labels)) - band * 0.35:.1f}" '
                         f'y="{y_top:.1f}" width="{band * 0.7:.1f}" '
                         f'height="{max(y_base - y_top, 0.5):.1f}" '
                         f'fill="{PALETTE[layer % len(PALETTE)]}">'
                         f'<title>{escape(labels[index])}, {escape(stack.name)}: '
                         f'{escape(f"{value:f}")}</title></rect>')
            base += value
    x = LEFT
    for layer, stack in enumerate(stacks):  # the legend, under the month labels
        parts.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" '
                     f'fill="{PALETTE[layer % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11" fill="#333">'
                     f'{escape(stack.name)}</text>')
        x += 24 + 7 * len(stack.name)
    parts.append("</svg>")
    return Markup("".join(parts))
