"""The server-drawn SVG charts: well-formed, named for assistive technology, escaped, and
drawn to scale (pure functions, no database)."""

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssa.web import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 (our own output)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 10, [0, 2.5, 5, 7.5, 10]),
        (0, 1.37, [0, 0.5, 1, 1.5]),
        (-3, 7, [-5, -2.5, 0, 2.5, 5, 7.5]),
        (0, 0, [0, 0.25, 0.5, 0.75, 1]),
        (250_000, 1_020_000, [0, 500_000, 1_000_000, 1_500_000]),
    ],
)
def test_ticks_are_round_and_cover_the_values(
    low: float, high: float, expected: list[float]
) -> None:
    assert charts.nice_ticks(low, high) == expected


@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
)
def test_ticks_always_include_zero_and_both_ends(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    ticks = charts.nice_ticks(low, high)
    assert ticks[0] <= min(low, 0)
    assert ticks[-1] >= max(high, 0)
    assert 0 in ticks
    assert 2 <= len(ticks) <= 12
    assert ticks == sorted(ticks)


def test_a_line_chart_is_named_described_and_escaped() -> None:
    svg = parse(
        charts.line_chart(
            chart_id="c1",
            title="Coverage <ratio> & co",
            description="Latest: 1.20",
            labels=["Jan 26", "Feb 26", "<b>Mar</b>"],
            series=[charts.Series("Coverage", [0.8, None, 1.2])],
            value_text=lambda v: f"{v:.2f}",
            reference=1.0,
        )
    )
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c1-title c1-desc"
    title = svg.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Coverage <ratio> & co"
    assert title.get("id") == "c1-title"
    desc = svg.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text == "Latest: 1.20"
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "<b>Mar</b>" in texts  # shown as text, never as markup
    # The missing month breaks the line: two lone points, no polyline.
    assert len(list(svg.iter(f"{SVG}circle"))) == 2
    assert list(svg.iter(f"{SVG}polyline")) == []


def test_values_are_drawn_to_scale() -> None:
    svg = parse(
        charts.line_chart(
            chart_id="c2",
            title="t",
            description="d",
            labels=["a", "b", "c"],
            series=[charts.Series("s", [0, 5, 10])],
            value_text=str,
        )
    )
    (line,) = svg.iter(f"{SVG}polyline")
    points = [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert xs == sorted(xs)
    assert ys[0] == pytest.approx(charts.HEIGHT - charts.BOTTOM)  # zero on the axis
    assert ys[2] == pytest.approx(charts.TOP)  # the top tick is 10
    assert ys[1] == pytest.approx((ys[0] + ys[2]) / 2)


def test_a_bar_chart_has_a_bar_per_value_and_a_legend() -> None:
    svg = parse(
        charts.bar_chart(
            chart_id="c3",
            title="Issued and spent",
            description="d",
            labels=["a", "b"],
            series=[
                charts.Series("Issued", [100, 200]),
                charts.Series("Spent", [50, None]),
            ],
            value_text=str,
        )
    )
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("aria-hidden") == "true"]
    assert len(bars) == 3
    heights = sorted(float(r.get("height") or 0) for r in bars)
    assert heights[2] == pytest.approx(2 * heights[1]) == pytest.approx(4 * heights[0])
    assert {"Issued", "Spent"} <= {t.text for t in svg.iter(f"{SVG}text")}


def test_a_horizontal_bar_chart_writes_each_value() -> None:
    svg = parse(
        charts.horizontal_bar_chart(
            chart_id="c4",
            title="By category",
            description="d",
            labels=["Bakery", "Market stall"],
            values=[3_000, 1_500],
            value_text=lambda v: f"€{v / 100:.2f}",
        )
    )
    texts = {t.text for t in svg.iter(f"{SVG}text")}
    assert {"Bakery", "Market stall", "€30.00", "€15.00"} <= texts
    widths = [float(r.get("width") or 0) for r in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1])


def test_a_chart_with_no_values_still_draws() -> None:
    svg = parse(
        charts.line_chart(
            chart_id="c5",
            title="t",
            description="d",
            labels=["a"],
            series=[charts.Series("s", [None])],
            value_text=str,
        )
    )
    assert svg.get("role") == "img"
