"""The SVG charts: well-formed, text escaped, bars and points scaled to the axis."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from webapp.charts import BOTTOM, HEIGHT, TOP, bar_chart, divisions, line_chart, nice_max

NS = {"svg": "http://www.w3.org/2000/svg"}
PLOT_H = HEIGHT - TOP - BOTTOM
BASE = HEIGHT - BOTTOM  # the y of the x axis


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall("svg:rect[@class='bar']", NS)


@pytest.mark.parametrize(
    ("largest", "expected"),
    [(0, 1), (-3, 1), (1, 1), (3, 5), (7, 10), (10, 10), (11, 20), (0.3, 0.5), (180, 200)],
)
def test_nice_max(largest: float, expected: float) -> None:
    assert nice_max(largest) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("top", "whole", "expected"),
    [(1, True, 1), (2, True, 2), (5, True, 5), (10, True, 5), (20, True, 4), (50, True, 5),
     (100, False, 5), (1, False, 5), (0.5, False, 5), (200, True, 4)],
)  # fmt: skip
def test_grid_lines_fall_on_round_numbers(top: float, whole: bool, expected: int) -> None:
    assert divisions(top, whole) == expected


def test_counts_get_whole_tick_labels() -> None:
    root = parse(bar_chart(["a", "b"], [1, 3], title="t"))  # axis 0..5
    ticks = [
        t.text
        for t in root.iter("{http://www.w3.org/2000/svg}text")
        if t.get("text-anchor") == "end"
    ]
    assert ticks == ["0", "1", "2", "3", "4", "5"]


def test_text_is_escaped_everywhere() -> None:
    evil = '<script>alert("x")</script> & "quotes"'
    for svg in (
        bar_chart([evil, "b"], [1, 2], title=evil),
        line_chart([evil, "b"], [1, None], title=evil),
    ):
        assert "<script>" not in svg
        root = parse(svg)  # still well-formed XML
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert root.find("svg:title", NS) is not None
        assert root.find("svg:title", NS).text == evil  # type: ignore[union-attr]
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert evil in texts


def test_bars_are_scaled_to_the_nice_maximum() -> None:
    root = parse(bar_chart(["a", "b", "c"], [0, 4, 8], title="t"))
    heights = [float(b.get("height", "nan")) for b in bars(root)]
    # 8 → axis maximum 10: the 8 bar fills 80 % of the plot, the 4 bar 40 %.
    assert heights == pytest.approx([0, 0.4 * PLOT_H, 0.8 * PLOT_H], abs=0.1)
    for b, h in zip(bars(root), heights, strict=True):
        assert float(b.get("y", "nan")) + h == pytest.approx(BASE, abs=0.1)
    assert [b.get("data-value") for b in bars(root)] == ["0", "4", "8"]
    labels = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"0", "2", "4", "6", "8", "10"} <= labels  # the y axis runs 0 to 10 by 2


def test_a_given_maximum_and_values_above_it_are_capped() -> None:
    root = parse(bar_chart(["a", "b"], [50, 150], title="t", y_max=100))
    heights = [float(b.get("height", "nan")) for b in bars(root)]
    assert heights == pytest.approx([PLOT_H / 2, PLOT_H], abs=0.1)


def test_many_labels_are_thinned_but_every_bar_is_drawn() -> None:
    labels = [f"{h:02d}" for h in range(24)]
    root = parse(bar_chart(labels, [float(h) for h in range(24)], title="hours"))
    assert len(bars(root)) == 24
    shown = [t.text for t in root.findall("svg:text[@class='x-label']", NS)]
    assert shown == labels[::2]


def test_empty_and_all_zero_charts_draw_an_axis() -> None:
    for svg in (bar_chart([], [], title="none"), bar_chart(["a"], [0], title="zero")):
        root = parse(svg)
        assert root.findall("svg:line", NS)


def test_line_breaks_at_missing_values_and_scales_points() -> None:
    root = parse(
        line_chart(["d1", "d2", "d3", "d4", "d5"], [50, 100, None, 0, 25], title="t", y_max=100)
    )
    lines = root.findall("svg:polyline", NS)
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    points = root.findall("svg:circle", NS)
    assert [p.get("data-value") for p in points] == ["50", "100", "0", "25"]
    ys = [float(p.get("cy", "nan")) for p in points]
    assert ys == pytest.approx([BASE - PLOT_H / 2, BASE - PLOT_H, BASE, BASE - PLOT_H / 4], abs=0.1)
    tips = [p.find("svg:title", NS).text for p in points]  # type: ignore[union-attr]
    assert tips[0] == "d1: 50"


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        bar_chart(["a"], [1, 2], title="t")
    with pytest.raises(ValueError):
        bar_chart(["a"], [-1], title="t")
    with pytest.raises(ValueError):
        line_chart(["a"], [math.nan], title="t")
