"""The server-drawn charts: bars as long as their values, names escaped, no style
attributes (the strict CSP refuses them)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from app import charts

BAR = re.compile(
    r'text-anchor="end">([^<]*)</text>'
    r'<rect [^>]*class="chart-track"/>'
    r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"[^>]*/>'
    r'<text [^>]*class="chart-value">([\d,]+)</text>'
)


def bars(svg: str) -> dict[str, tuple[float, int]]:
    """Each bar's label -> (drawn length, printed value), read from the SVG."""
    return {
        label: (float(width), int(value.replace(",", "")))
        for label, width, value in BAR.findall(svg)
    }


def test_bars_are_as_long_as_their_values_and_carry_them_as_text():
    svg = str(
        charts.bar_chart(
            title="Deliveries",
            bars=[charts.Bar("Sent", 1500), charts.Bar("Failed", 300), charts.Bar("Skipped", 0)],
        )
    )
    drawn = bars(svg)
    assert [v for _, v in drawn.values()] == [1500, 300, 0]
    assert drawn["Sent"][0] == 5 * drawn["Failed"][0] > 0
    assert drawn["Skipped"][0] == 0
    assert 'role="img" aria-label="Deliveries"' in svg
    assert ">1,500</text>" in svg


def test_all_zero_bars_draw_nothing_long_and_names_are_escaped():
    svg = str(charts.bar_chart(title='Say "hi" <b>', bars=[charts.Bar("<script>", 0)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'aria-label="Say &quot;hi&quot; &lt;b&gt;"' in svg
    assert bars(svg) == {"&lt;script&gt;": (0.0, 0)}


def test_no_chart_uses_a_style_attribute():
    days = [date(2024, 5, 1) + timedelta(days=n) for n in range(3)]
    line = charts.line_chart(title="Growth", days=days, series=[charts.Series("Food", [1, 2, 3])])
    bar = charts.bar_chart(title="Report", bars=[charts.Bar("Clicked", 4, 1)])
    for svg in (str(line), str(bar)):
        assert "style=" not in svg
    assert 'class="swatch swatch-0"' in str(line)
    assert 'fill="#d55e00"' in str(bar)  # the palette's second colour
