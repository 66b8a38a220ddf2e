"""Charts drawn on the server as inline SVG: no script, no library, nothing fetched.

Each chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>`,
and the page shows the same figures in a table beside it: the picture is for the eye,
the table for everyone. Texts arrive translated and formatted; everything is escaped.
Colours keep 3:1 against white (WCAG 1.4.11); series differ in lightness, and lines in
dashes too, not by hue alone.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 400
HEIGHT = 240
FONT = 12
# Room for the axis texts: left for values, bottom for periods, top for the legend.
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 30, 36
CHAR_WIDTH = 6.6  # an average glyph at FONT px, to keep labels from overlapping

# Series colours, dark to light: green, amber, blue (each at least 3:1 on white).
COLOURS = ("#0b5d3b", "#a15c00", "#1a56db")
DASHES = ("", "6 4", "2 3")
INK = "#1b1f1d"
GRID = "#c9d3ce"
REFERENCE = "#9b1c1c"


@dataclass(frozen=True)
class Series:
    """One line or one kind of bar: its name in the legend and a value per label."""

    name: str
    values: Sequence[float | None]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values from at most `low` to at least `high`, about `count` of them
    (steps of 1, 2, 2.5 or 5 times a power of ten), always including zero in range."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low < 1e-9:  # nothing to tell apart (all about zero): a plain scale of 1
        low, high = (-1.0 if low < 0 else 0.0), (1.0 if high > 0 or low == 0 else 0.0)
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    # Multiples of the step, rounded to its precision (no 0.30000000000000004).
    digits = max(0, 2 - math.floor(math.log10(step)))
    ticks = [round(index * step, digits) for index in range(first, last + 1)]
    if ticks[-1] < high:  # a value too small for the step to round up to it
        ticks.append(round(ticks[-1] + step, digits))
    if ticks[0] > low:
        ticks.insert(0, round(ticks[0] - step, digits))
    return ticks


def _svg(parts: list[str]) -> Markup:
    # Every text went through `escape` (`_text`, `_open`); the rest is numbers and constants.
    return Markup("".join(parts))  # noqa: S704


def _text(x: float, y: float, content: str, anchor: str = "middle", extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT}"'
        f' fill="{INK}"{extra}>{escape(content)}</text>'
    )


def _label_step(labels: Sequence[str], slot: float) -> int:
    """Show every n-th label so that they do not overlap."""
    widest = max((len(label) for label in labels), default=1) * CHAR_WIDTH + 6
    return max(1, math.ceil(widest / slot)) if slot > 0 else 1


class _Frame:
    """The plotting area and its value scale."""

    def __init__(self, ticks: list[float], slots: int, legend_rows: int = 1) -> None:
        self.top = TOP if legend_rows else 10
        self.bottom = HEIGHT - BOTTOM
        self.left, self.right = LEFT, WIDTH - RIGHT
        self.low, self.high = ticks[0], ticks[-1]
        self.ticks = ticks
        self.slot = (self.right - self.left) / max(slots, 1)

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.bottom - share * (self.bottom - self.top)

    def x(self, index: int) -> float:
        return self.left + self.slot * (index + 0.5)


def _open(chart_id: str, title: str, description: str) -> list[str]:
    ident = escape(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' role="img" aria-labelledby="{ident}-title {ident}-desc" focusable="false">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
    ]


def _axes(frame: _Frame, labels: Sequence[str], value_text: Callable[[float], str]) -> list[str]:
    parts = ['<g aria-hidden="true">']
    for tick in frame.ticks:
        y = frame.y(tick)
        colour = INK if tick == 0 else GRID
        parts.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}"'
            f' stroke="{colour}" stroke-width="1"/>'
        )
        parts.append(_text(frame.left - 6, y + FONT / 3, value_text(tick), anchor="end"))
    step = _label_step(labels, frame.slot)
    for index, label in enumerate(labels):
        if (len(labels) - 1 - index) % step == 0:  # the latest period always named
            parts.append(_text(frame.x(index), frame.bottom + FONT + 6, label))
    parts.append("</g>")
    return parts


def _legend(series: Sequence[Series], kind: str) -> list[str]:
    parts = ['<g aria-hidden="true">']
    x = float(LEFT)
    for index, one in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        if kind == "line":
            dash = DASHES[index % len(DASHES)]
            dashed = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{x:.1f}" y1="14" x2="{x + 18:.1f}" y2="14" stroke="{colour}"'
                f' stroke-width="3"{dashed}/>'
            )
        else:
            parts.append(_swatch(x, 8, index))
        parts.append(_text(x + 24, 18, one.name, anchor="start"))
        x += 24 + len(one.name) * CHAR_WIDTH + 16
    parts.append("</g>")
    return parts


def _swatch(x: float, y: float, index: int) -> str:
    colour = COLOURS[index % len(COLOURS)]
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="14" height="12" fill="{colour}"/>'


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[float], str],
    reference: float | None = None,
) -> Markup:
    """Lines over periods; a missing value breaks the line. `reference` draws a level
    to compare with (1.0 for coverage: as much held as owed)."""
    values = [v for one in series for v in one.values if v is not None]
    if reference is not None:
        values.append(reference)
    frame = _Frame(nice_ticks(min(values, default=0), max(values, default=1)), len(labels))
    parts = _open(chart_id, title, description)
    parts += _axes(frame, labels, value_text)
    if reference is not None:
        y = frame.y(reference)
        parts.append(
            f'<line aria-hidden="true" x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}"'
            f' y2="{y:.1f}" stroke="{REFERENCE}" stroke-width="1.5" stroke-dasharray="4 3"/>'
        )
    for index, one in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        dash = DASHES[index % len(DASHES)]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        for run in _runs(one.values):
            points = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in run)
            if len(run) > 1:
                parts.append(
                    f'<polyline aria-hidden="true" points="{points}" fill="none"'
                    f' stroke="{colour}" stroke-width="3"{dashed} stroke-linejoin="round"/>'
                )
            for i, v in run:
                parts.append(
                    f'<circle aria-hidden="true" cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}"'
                    f' r="4" fill="{colour}"/>'
                )
    if len(series) > 1:
        parts += _legend(series, "line")
    parts.append("</svg>")
    return _svg(parts)


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Consecutive known values, as (index, value) runs."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[float], str],
) -> Markup:
    """Bars side by side for each label, one per series."""
    values = [v for one in series for v in one.values if v is not None]
    frame = _Frame(nice_ticks(min(values, default=0), max(values, default=1)), len(labels))
    parts = _open(chart_id, title, description)
    parts += _axes(frame, labels, value_text)
    width = frame.slot * 0.8 / max(len(series), 1)
    zero = frame.y(0)
    for index, one in enumerate(series):
        for position, value in enumerate(one.values):
            if value is None:
                continue
            x = frame.x(position) - frame.slot * 0.4 + width * index
            y = min(frame.y(value), zero)
            height = abs(frame.y(value) - zero)
            parts.append(
                f'<rect aria-hidden="true" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}"'
                f' height="{height:.1f}" fill="{COLOURS[index % len(COLOURS)]}"/>'
            )
    parts += _legend(series, "bar")
    parts.append("</svg>")
    return _svg(parts)


def horizontal_bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    values: Sequence[float],
    value_text: Callable[[float], str],
) -> Markup:
    """One bar per label, longest first as given, each with its value written at its end."""
    row = 28
    label_width = min(max((len(label) for label in labels), default=1) * CHAR_WIDTH + 8, 150)
    value_width = max((len(value_text(v)) for v in values), default=1) * CHAR_WIDTH + 8
    height = max(len(labels), 1) * row + 12
    left, right = label_width, WIDTH - value_width
    top = max(values, default=0) or 1
    ident = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}"'
        f' role="img" aria-labelledby="{ident}-title {ident}-desc" focusable="false">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(description)}</desc>',
        '<g aria-hidden="true">',
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 6 + index * row
        length = max(value, 0) / top * (right - left - 4)
        parts.append(_text(left - 6, y + row / 2 + FONT / 3, label, anchor="end"))
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 4:.1f}" width="{length:.1f}" height="{row - 8}"'
            f' fill="{COLOURS[0]}"/>'
        )
        parts.append(_text(left + length + 4, y + row / 2 + FONT / 3, value_text(value), "start"))
    parts.append(f'<line x1="{left}" y1="4" x2="{left}" y2="{height - 4}" stroke="{INK}"/>')
    parts.append("</g></svg>")
    return _svg(parts)
