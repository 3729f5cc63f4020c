"""The server-side SVG charts."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from webapp.web import charts
from webapp.web.plots import (
    Chart,
    Marker,
    Series,
    format_number,
    log_ticks,
    nice_ticks,
    render_bars,
    render_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    # Inline SVG in HTML has no namespace declaration; add one to parse it as XML.
    return ET.fromstring(
        svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    )


def polyline_points(svg: str) -> list[list[tuple[float, float]]]:
    root = parse(svg)
    lines = []
    for element in root.iter(f"{SVG}polyline"):
        pairs = element.attrib["points"].split()
        lines.append([tuple(map(float, pair.split(","))) for pair in pairs])
    return lines  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.0, 100.0, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
        (-23.7, -2.1, [-20.0, -15.0, -10.0, -5.0]),
        (3.0, 3.0, [2.8, 3.0, 3.2]),
    ],
)
def test_nice_ticks(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high, 5) == pytest.approx(expected)


def test_outward_ticks_frame_the_range() -> None:
    assert nice_ticks(-23.7, -2.1, 5, outward=True) == pytest.approx(
        [-25.0, -20.0, -15.0, -10.0, -5.0, 0.0]
    )
    assert nice_ticks(0.0, 1.0, 5, outward=True) == pytest.approx(
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    )


def test_log_ticks_are_decades_or_finer_when_narrow() -> None:
    assert log_ticks(0.1, 10.0) == pytest.approx([0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0])
    assert log_ticks(0.01, 1000.0) == pytest.approx(
        [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
    )


def test_format_number() -> None:
    assert [format_number(v) for v in (0, 0.1, 2.0, 1000.0, 1e6, -1234.5)] == [
        "0",
        "0.1",
        "2",
        "1000",
        "1e+06",
        "-1234",
    ]


def test_points_map_to_the_plot_area_monotonically() -> None:
    svg = render_chart(
        Chart("t", "x", "y", series=[Series("s", [1, 2, 3], [0.0, 0.5, 1.0])])
    )
    (line,) = polyline_points(svg)
    xs = [x for x, _ in line]
    ys = [y for _, y in line]
    assert xs == sorted(xs)
    # SVG y grows downwards: a rising curve has falling y coordinates.
    assert ys == sorted(ys, reverse=True)


def test_log_axis_spaces_decades_equally() -> None:
    svg = render_chart(
        Chart(
            "t",
            "x",
            "y",
            log_x=True,
            series=[Series("s", [0.1, 1.0, 10.0], [1, 2, 3])],
        )
    )
    (line,) = polyline_points(svg)
    (x0, _), (x1, _), (x2, _) = line
    assert x1 - x0 == pytest.approx(x2 - x1, abs=0.2)


def test_missing_values_break_the_line() -> None:
    svg = render_chart(
        Chart(
            "t",
            "x",
            "y",
            series=[Series("s", [1, 2, 3, 4, 5], [1.0, None, 2.0, math.inf, 3.0])],
        )
    )
    assert polyline_points(svg) == []
    assert len(parse(svg).findall(f".//{SVG}circle")) == 3


def test_marker_and_labels_are_rendered_and_escaped() -> None:
    svg = render_chart(
        Chart(
            "A <title>",
            "x & y",
            "y",
            series=[Series("<s>", [1, 2], [1, 2])],
            markers=[Marker(1.5, "chosen <1.5>")],
        )
    )
    root = parse(svg)
    assert root.attrib["role"] == "img"
    assert root.find(f"{SVG}title").text == "A <title>"  # type: ignore[union-attr]
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "x & y" in texts
    assert "chosen <1.5>" in texts
    assert (
        len([e for e in root.iter(f"{SVG}line") if "chart-marker" in e.attrib["class"]])
        == 2
    )


def test_empty_chart_says_no_data() -> None:
    assert "No data to plot" in render_chart(Chart("t", "x", "y", series=[]))


def test_cv_chart_marks_the_chosen_bandwidth_on_the_grid() -> None:
    metrics = {
        "bandwidth": 1.0,
        "cv": {
            "bandwidths": [0.1, 1.0, 10.0],
            "mean_log_likelihood": [-5.0, -1.0, -3.0],
            "fold_log_likelihood": [[-5.0, -1.0, -3.0], [-5.5, -1.5, -2.5]],
        },
    }
    svg = charts.cv_chart([charts.Labelled("m", metrics)])
    lines = polyline_points(svg)
    assert len(lines) == 3
    root = parse(svg)
    marker = next(
        e for e in root.iter(f"{SVG}line") if "chart-marker" in e.attrib["class"]
    )
    mean = next(
        e
        for e in root.iter(f"{SVG}polyline")
        if "chart-line" in e.attrib["class"].split()
    )
    middle_x = float(mean.attrib["points"].split()[1].split(",")[0])
    assert float(marker.attrib["x1"]) == pytest.approx(middle_x, abs=0.1)
    rows = charts.cv_table(metrics)
    assert [row["chosen"] for row in rows] == [False, True, False]


def test_bars_highlight_the_requested_digit() -> None:
    svg = render_bars(
        list(range(10)),
        [0, 0, 3, 1, 0, 0, 0, 0, 0, 0],
        title="t",
        x_label="x",
        y_label="y",
        highlight=2,
    )
    bars = re.findall(r'<rect class="chart-bar series-0 ([^"]*)"', svg)
    assert bars[2] == "series-1"
    assert [bar for index, bar in enumerate(bars) if index != 2] == [""] * 9


def labelled_y_range(root: ET.Element) -> tuple[float, float, list[float]]:
    """The top and bottom of the y axis's labelled grid lines, and their labels."""
    ys = [
        float(line.attrib["y1"])
        for line in root.iter(f"{SVG}line")
        if "chart-grid" in line.attrib["class"]
        and line.attrib["y1"] == line.attrib["y2"]
    ]
    labels = [
        float(text.text or "")
        for text in root.iter(f"{SVG}text")
        if "chart-tick" in text.attrib["class"] and text.attrib["text-anchor"] == "end"
    ]
    return min(ys), max(ys), labels


def test_bar_axis_reaches_the_tallest_bar() -> None:
    counts = [0, 1, 54, 3, 0, 7, 0, 0, 0, 2]
    root = parse(
        render_bars(list(range(10)), counts, title="t", x_label="x", y_label="y")
    )
    top, bottom, labels = labelled_y_range(root)
    assert max(labels) >= 54
    bars = [
        rect for rect in root.iter(f"{SVG}rect") if "chart-bar" in rect.attrib["class"]
    ]
    tops = [float(bar.attrib["y"]) for bar in bars]
    assert min(tops) >= top - 0.05
    for bar, count in zip(bars, counts, strict=True):
        height = float(bar.attrib["height"])
        assert float(bar.attrib["y"]) + height == pytest.approx(bottom, abs=0.1)
        # Heights are proportional to the counts: the tallest is not cut off.
        assert height == pytest.approx((bottom - top) * count / max(labels), abs=0.15)


@pytest.mark.parametrize(
    ("ys", "y_min", "y_max"),
    [
        ([0.2, 0.7, 1.3], 0.0, 1.0),
        ([-0.4, 0.5, 0.9], 0.0, 1.0),
        ([-812.0, -96.5, -120.0], None, None),
    ],
)
def test_line_axes_cover_every_point(
    ys: list[float], y_min: float | None, y_max: float | None
) -> None:
    chart = Chart(
        "t", "x", "y", series=[Series("s", [1, 2, 3], ys)], y_min=y_min, y_max=y_max
    )
    root = parse(render_chart(chart))
    top, bottom, labels = labelled_y_range(root)
    assert min(labels) <= min(ys)
    assert max(labels) >= max(ys)
    (line,) = polyline_points(render_chart(chart))
    assert all(top - 0.05 <= y <= bottom + 0.05 for _, y in line)
    frame = root.find(f"{SVG}rect")
    assert frame is not None
    left = float(frame.attrib["x"])
    right = left + float(frame.attrib["width"])
    assert all(left - 0.05 <= x <= right + 0.05 for x, _ in line)
