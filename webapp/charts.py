"""Small server-rendered SVG charts: a bar chart and a line chart, as text.

Pure functions of their data (no Flask, no clock), so a chart is a unit test and the
page needs no chart library. The SVG is self-contained (inline styles, no script, no
external references), so it works as an ``<img>`` source. Every piece of text is
escaped: labels can come from data (kind names, queue names).

Scale: the y axis runs from 0 to a "nice" maximum (1, 2 or 5 × 10ⁿ at or above the
largest value, or the ``y_max`` given), so a bar's height is ``value / maximum`` of the
plot height; grid lines fall on round numbers (whole ones for counts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH = 480
HEIGHT = 200
# Room for the title (top), the y-axis labels (left) and the x-axis labels (bottom).
TOP, RIGHT, BOTTOM, LEFT = 26, 10, 30, 40
MAX_X_LABELS = 12
FONT = "font-family:system-ui,sans-serif;font-size:11px;fill:#1d2330"
BAR_FILL = "#1f6feb"
LINE_STROKE = "#1a7f37"
GRID_STROKE = "#d9dde5"


def _text(value: str) -> str:
    return escape(value, quote=True)


def _num(value: float) -> str:
    """A value as a label: whole numbers without a decimal point."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def nice_max(largest: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``largest`` (1 for nothing to show)."""
    if largest <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(largest))
    for step in (1.0, 2.0, 5.0, 10.0):
        if largest <= step * power * (1 + 1e-9):
            return step * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def divisions(top: float, whole: bool) -> int:
    """Grid steps from 0 to ``top`` (a ``nice_max``) so every tick is a round number: 5
    for 1 and 5 × 10ⁿ, 4 for 2 × 10ⁿ; for whole-number data no step below 1."""
    leading = round(top / 10.0 ** math.floor(math.log10(top)))
    steps = 4 if leading == 2 else 5
    if whole and top / steps < 1:
        return max(1, int(top))
    return steps


def _check(labels: Sequence[str], values: Sequence[float | None]) -> None:
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    for v in values:
        if v is not None and (not math.isfinite(v) or v < 0):
            raise ValueError(f"values must be finite and not negative, got {v!r}")


class _Frame:
    """The plot area and its axes for ``n`` slots from 0 to ``top``."""

    def __init__(self, width: int, height: int, n: int, top: float) -> None:
        self.width, self.height, self.n, self.top = width, height, n, top
        self.x0, self.y0 = LEFT, height - BOTTOM  # the origin, bottom left
        self.plot_w = max(1, width - LEFT - RIGHT)
        self.plot_h = max(1, height - TOP - BOTTOM)

    def slot(self) -> float:
        return self.plot_w / max(1, self.n)

    def x_center(self, i: int) -> float:
        return self.x0 + self.slot() * (i + 0.5)

    def y(self, value: float) -> float:
        return self.y0 - self.plot_h * min(value, self.top) / self.top

    def axes(self, labels: Sequence[str], whole: bool) -> list[str]:
        parts = []
        lines = divisions(self.top, whole)
        for k in range(lines + 1):
            value = self.top * k / lines
            y = self.y(value)
            parts.append(
                f'<line x1="{self.x0}" y1="{y:.1f}" x2="{self.x0 + self.plot_w}" y2="{y:.1f}" '
                f'stroke="{GRID_STROKE}" stroke-width="1"/>'
            )
            parts.append(
                f'<text x="{self.x0 - 4}" y="{y + 4:.1f}" text-anchor="end" style="{FONT}">'
                f"{_text(_num(value))}</text>"
            )
        every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
        for i, label in enumerate(labels):
            if i % every:
                continue
            parts.append(
                f'<text class="x-label" x="{self.x_center(i):.1f}" y="{self.y0 + 16}" '
                f'text-anchor="middle" style="{FONT}">{_text(label)}</text>'
            )
        return parts


def _document(width: int, height: int, title: str, body: list[str]) -> str:
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img">',
            f"<title>{_text(title)}</title>",
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            f'<text x="{LEFT}" y="16" style="{FONT};font-weight:600">{_text(title)}</text>',
            *body,
            "</svg>",
        ]
    )


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
    y_max: float | None = None,
) -> str:
    """One bar per label, each with a tooltip ``label: value``."""
    _check(labels, values)
    frame = _Frame(width, height, len(values), y_max or nice_max(max(values, default=0)))
    body = frame.axes(labels, all(float(v).is_integer() for v in values))
    bar_w = frame.slot() * 0.7
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        top = frame.y(value)
        body.append(
            f'<rect class="bar" data-value="{_text(_num(value))}" '
            f'x="{frame.x_center(i) - bar_w / 2:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
            f'height="{frame.y0 - top:.1f}" fill="{BAR_FILL}">'
            f"<title>{_text(label)}: {_text(_num(value))}</title></rect>"
        )
    return _document(width, height, title, body)


def line_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
    y_max: float | None = None,
) -> str:
    """A line through the values, broken where a value is None (no data that day), with a
    marker and tooltip on each point."""
    _check(labels, values)
    largest = max((v for v in values if v is not None), default=0.0)
    frame = _Frame(width, height, len(values), y_max or nice_max(largest))
    body = frame.axes(labels, all(v is None or float(v).is_integer() for v in values))
    run: list[str] = []
    runs: list[list[str]] = []
    for i, value in enumerate(values):
        if value is None:
            if run:
                runs.append(run)
            run = []
            continue
        run.append(f"{frame.x_center(i):.1f},{frame.y(value):.1f}")
    if run:
        runs.append(run)
    for points in runs:
        body.append(
            f'<polyline class="line" points="{" ".join(points)}" fill="none" '
            f'stroke="{LINE_STROKE}" stroke-width="2"/>'
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        if value is None:
            continue
        body.append(
            f'<circle class="point" data-value="{_text(_num(value))}" '
            f'cx="{frame.x_center(i):.1f}" cy="{frame.y(value):.1f}" r="3" '
            f'fill="{LINE_STROKE}"><title>{_text(label)}: {_text(_num(value))}</title></circle>'
        )
    return _document(width, height, title, body)
