"""Small charts drawn on the server as inline SVG: no JavaScript, no CDN, and they print.

A chart is a picture for people who would rather look than read; the page shows the
same numbers as text next to it, so the SVG itself only needs a name (role="img").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from markupsafe import Markup

# Okabe-Ito: told apart by people with the common kinds of colour blindness. The legend's
# swatches use the same colours by index (.swatch-0 ... in style.css): no style attributes.
PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"]
# Each line also has its own dash pattern, so lines with equal values (drawn on top of
# each other) still both show, and colour is never the only difference.
DASHES = ["", "9 5", "3 4", "12 4 3 4", "6 3", "2 6", "14 6"]


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]  # one per day, oldest first

    @property
    def latest(self) -> int:
        return self.values[-1] if self.values else 0


def nice_ceiling(value: int) -> int:
    """A round number at or above `value`, for the top of the y axis."""
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value


def line_chart(
    *,
    title: str,
    days: Sequence[date | datetime],
    series: Sequence[Series],
    width: int = 640,
    label_format: str | Callable[[date], str] = "%b %d",
) -> Markup:
    """Lines over days (or hours: datetimes and a `label_format` such as "%d %H:00", or a
    function that words a day in the reader's language), one per series, with a y axis
    from zero and a legend."""
    height, left, right, top, bottom = 240, 44, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_ceiling(max((max(s.values, default=0) for s in series), default=0))
    count = max(len(days) - 1, 1)

    def x(i: int) -> float:
        return left + plot_w * i / count

    def y(v: int) -> float:
        return top + plot_h * (1 - v / top_value)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    steps = 4 if top_value % 4 == 0 else 5
    for tick in range(steps + 1):
        value = top_value * tick // steps
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'class="chart-grid"/>'
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:,}</text>'
        )
    if days:
        for i in sorted({0, len(days) // 2, len(days) - 1}):
            anchor = "start" if i == 0 else "end" if i == len(days) - 1 else "middle"
            label = (
                label_format(days[i]) if callable(label_format) else days[i].strftime(label_format)
            )
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">'
                f"{escape(label)}</text>"
            )
    for n, s in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        dash = DASHES[n % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'stroke-linejoin="round"{dash_attr}/>'
        )
        if s.values:
            parts.append(
                f'<circle cx="{x(len(s.values) - 1):.1f}" cy="{y(s.latest):.1f}" r="3.5" '
                f'fill="{colour}"/>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<li><span class="swatch swatch-{n % len(PALETTE)}"></span>'
        f"{escape(s.label)}: <strong>{s.latest:,}</strong></li>"
        for n, s in enumerate(series)
    )
    return Markup("".join(parts) + f'<ul class="chart-legend">{legend}</ul>')  # noqa: S704


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    colour: int = 0  # index into PALETTE


def bar_chart(*, title: str, bars: Sequence[Bar], width: int = 640) -> Markup:
    """Horizontal bars from zero, one per row, each labelled and with its value at its end."""
    row, gap, left, right, top = 26, 10, 110, 70, 4
    height = top + len(bars) * (row + gap)
    plot_w = width - left - right
    top_value = nice_ceiling(max((b.value for b in bars), default=0))
    parts = [
        f'<svg class="chart chart-bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, bar in enumerate(bars):
        y = top + i * (row + gap)
        length = plot_w * bar.value / top_value
        colour = PALETTE[bar.colour % len(PALETTE)]
        parts.append(
            f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
            f'<rect x="{left}" y="{y}" width="{plot_w}" height="{row}" class="chart-track"/>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{row}" fill="{colour}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + row / 2 + 4:.1f}" class="chart-value">'
            f"{bar.value:,}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704
