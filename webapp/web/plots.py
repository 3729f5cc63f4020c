"""Server-side SVG line charts for the model version and compare pages.

Pure Python on JSON-able metrics (lists of floats): views and templates never touch
numpy, and the page needs no charting library or network access.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from django.utils.safestring import SafeString, mark_safe

# The palette itself lives in the stylesheet (.series-N) so dark mode can recolour
# the plots without re-rendering them.
SERIES_COLOURS = 4
# Height of a legend row, and the space above the first, in the chart's units.
_LEGEND_ROW = 24
_LEGEND_GAP = 10


@dataclass(frozen=True)
class Series:
    """One line of a chart; ``None``/non-finite values break the line."""

    label: str
    xs: Sequence[object]
    ys: Sequence[object]
    colour: int = 0
    faint: bool = False
    points: bool = False


@dataclass(frozen=True)
class Marker:
    """A vertical rule, e.g. the chosen bandwidth."""

    x: float
    label: str
    colour: int = 0


@dataclass
class Chart:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    log_x: bool = False
    y_min: float | None = None
    y_max: float | None = None
    width: int = 560
    height: int = 320
    description: str = ""
    key: str = ""


def to_float(value: object) -> float | None:
    """``value`` as a finite float, or ``None``; metrics may hold None or strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def nice_ticks(
    low: float, high: float, target: int = 5, *, outward: bool = False
) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) within [low, high].

    With ``outward`` the first and last ticks lie at or beyond the ends, so an
    axis drawn from them frames every point with a labelled line.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw_step = (high - low) / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = magnitude
    for multiple in (1.0, 2.0, 2.5, 5.0, 10.0):
        step = multiple * magnitude
        if step >= raw_step:
            break
    if outward:
        first = math.floor(low / step + 1e-9) * step
        high = math.ceil(high / step - 1e-9) * step
    else:
        first = math.ceil(low / step - 1e-9) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9:
        # Snap to the step grid so labels don't show 0.30000000000000004.
        ticks.append(round(value / step) * step)
        value += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Decades between ``low`` and ``high`` (both > 0), with 2 and 5 when narrow."""
    if low <= 0 or high <= 0:
        return []
    first = math.floor(math.log10(low) + 1e-9)
    last = math.ceil(math.log10(high) - 1e-9)
    multiples = (1.0, 2.0, 5.0) if last - first <= 2 else (1.0,)
    ticks = []
    for exponent in range(first, last + 1):
        for multiple in multiples:
            value = multiple * 10.0**exponent
            if low * (1 - 1e-9) <= value <= high * (1 + 1e-9):
                ticks.append(value)
    if len(ticks) < 2:
        ticks = sorted({low, high})
    return ticks


def format_number(value: float) -> str:
    """A short axis label: 0.1, 2, 1000, 1e+05, -1234.5."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.0e}"
    text = f"{value:.4g}"
    return text


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


class _Scale:
    def __init__(
        self, low: float, high: float, start: float, end: float, log: bool
    ) -> None:
        self.log = log
        self.low = math.log10(low) if log else low
        self.high = math.log10(high) if log else high
        if self.high == self.low:
            self.low -= 0.5
            self.high += 0.5
        self.start = start
        self.end = end

    def __call__(self, value: float) -> float:
        position = math.log10(value) if self.log else value
        fraction = (position - self.low) / (self.high - self.low)
        return self.start + fraction * (self.end - self.start)


def _y_grid(
    ticks: Sequence[float], y_scale: Callable[[float], float], left: float, right: float
) -> list[str]:
    """A horizontal grid line and a label at each of ``ticks``, from left to right."""
    return [
        f'<line class="chart-grid" x1="{left}" x2="{right}" '
        f'y1="{y_scale(tick):.1f}" y2="{y_scale(tick):.1f}"/>'
        f'<text class="chart-tick" x="{left - 6}" y="{y_scale(tick) + 4:.1f}" '
        f'text-anchor="end">{_attr(format_number(tick))}</text>'
        for tick in ticks
    ]


def _points(series: Series, log_x: bool) -> list[list[tuple[float, float]]]:
    """Finite (x, y) runs of ``series``; a missing value starts a new run."""
    runs: list[list[tuple[float, float]]] = [[]]
    for raw_x, raw_y in zip(series.xs, series.ys, strict=False):
        x, y = to_float(raw_x), to_float(raw_y)
        if x is None or y is None or (log_x and x <= 0):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x, y))
    return [run for run in runs if run]


def render_chart(chart: Chart) -> SafeString:
    """The chart as an accessible inline ``<svg>`` (role=img, title, description)."""
    runs = {id(s): _points(s, chart.log_x) for s in chart.series}
    all_points = [p for s in chart.series for run in runs[id(s)] for p in run]
    marker_xs = [
        m.x
        for m in chart.markers
        if math.isfinite(m.x) and (m.x > 0 or not chart.log_x)
    ]
    width, height = chart.width, chart.height
    title = _attr(chart.title)
    description = _attr(chart.description or chart.title)
    if not all_points:
        return mark_safe(
            f'<svg class="chart chart-empty" viewBox="0 0 {width} 80" role="img" '
            f'aria-label="{title}: no data"><title>{title}</title>'
            f'<text x="{width / 2}" y="45" text-anchor="middle" class="chart-note">'
            "No data to plot</text></svg>"
        )
    xs = [p[0] for p in all_points] + marker_xs
    ys = [p[1] for p in all_points]
    x_low, x_high = min(xs), max(xs)
    # A fixed range (0 to 1 for fractions) still widens to cover every point.
    y_low = min([*ys, *([chart.y_min] if chart.y_min is not None else [])])
    y_high = max([*ys, *([chart.y_max] if chart.y_max is not None else [])])
    if chart.log_x:
        x_ticks = log_ticks(x_low, x_high)
    else:
        x_ticks = nice_ticks(x_low, x_high, 6)
        x_low, x_high = min(x_ticks[0], x_low), max(x_ticks[-1], x_high)
    y_ticks = nice_ticks(y_low, y_high, 5, outward=True)
    y_low, y_high = min(y_ticks[0], y_low), max(y_ticks[-1], y_high)

    # Room for tick labels drawn half again as large on phones (studio.css).
    left, right, top, bottom = 88, 16, 16, 52
    legend = [s for s in chart.series if not s.faint] + [
        Series(m.label, [], [], m.colour) for m in chart.markers
    ]
    legend_rows = len(legend) if len(legend) > 1 or chart.markers else 0
    legend_height = _LEGEND_ROW * legend_rows + (_LEGEND_GAP if legend_rows else 0)
    total_height = height + legend_height
    x_scale = _Scale(x_low, x_high, left, width - right, chart.log_x)
    y_scale = _Scale(y_low, y_high, height - bottom, top, False)

    chart_id = "chart-" + _slug(chart.key or chart.title)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {total_height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{title}</title>',
        f'<desc id="{chart_id}-desc">{description}</desc>',
        f'<rect class="chart-frame" x="{left}" y="{top}" '
        f'width="{width - left - right}" height="{height - top - bottom}"/>',
    ]
    parts.extend(_y_grid(y_ticks, y_scale, left, width - right))
    for tick in x_ticks:
        x = x_scale(tick)
        parts.append(
            f'<line class="chart-grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" '
            f'y2="{height - bottom}"/>'
            f'<line class="chart-axis" x1="{x:.1f}" x2="{x:.1f}" '
            f'y1="{height - bottom}" y2="{height - bottom + 5}"/>'
            f'<text class="chart-tick" x="{x:.1f}" y="{height - bottom + 18}" '
            f'text-anchor="middle">{_attr(format_number(tick))}</text>'
        )
    parts.append(
        f'<line class="chart-axis" x1="{left}" x2="{width - right}" '
        f'y1="{height - bottom}" y2="{height - bottom}"/>'
        f'<line class="chart-axis" x1="{left}" x2="{left}" y1="{top}" '
        f'y2="{height - bottom}"/>'
        f'<text class="chart-label" x="{(left + width - right) / 2:.1f}" '
        f'y="{height - 10}" text-anchor="middle">{_attr(chart.x_label)}</text>'
        f'<text class="chart-label" transform="translate(16 '
        f'{(top + height - bottom) / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{_attr(chart.y_label)}</text>"
    )
    # Faint lines (per-fold curves) first so the main lines stay on top.
    for series in sorted(chart.series, key=lambda s: not s.faint):
        css = f"series-{series.colour % SERIES_COLOURS}"
        css += " chart-line-faint" if series.faint else " chart-line"
        for run in runs[id(series)]:
            coordinates = " ".join(f"{x_scale(x):.1f},{y_scale(y):.1f}" for x, y in run)
            if len(run) == 1:
                x, y = run[0]
                parts.append(
                    f'<circle class="{css} chart-point" cx="{x_scale(x):.1f}" '
                    f'cy="{y_scale(y):.1f}" r="3"/>'
                )
            else:
                parts.append(
                    f'<polyline class="{css}" fill="none" points="{coordinates}">'
                    f"<title>{_attr(series.label)}</title></polyline>"
                )
            if series.points and len(run) > 1:
                for x, y in run:
                    parts.append(
                        f'<circle class="{css} chart-point" cx="{x_scale(x):.1f}" '
                        f'cy="{y_scale(y):.1f}" r="2.5"/>'
                    )
    for marker in chart.markers:
        if not math.isfinite(marker.x) or (chart.log_x and marker.x <= 0):
            continue
        x = x_scale(marker.x)
        css = f"series-{marker.colour % SERIES_COLOURS}"
        parts.append(
            f'<line class="chart-marker {css}" x1="{x:.1f}" x2="{x:.1f}" '
            f'y1="{top}" y2="{height - bottom}"><title>{_attr(marker.label)}</title>'
            "</line>"
        )
    for row, item in enumerate(legend if legend_rows else []):
        y = height + _LEGEND_GAP + _LEGEND_ROW * row + 4
        css = f"series-{item.colour % SERIES_COLOURS}"
        is_marker = row >= len(legend) - len(chart.markers)
        swatch = "chart-marker" if is_marker else "chart-line"
        parts.append(
            f'<line class="{swatch} {css}" x1="{left}" x2="{left + 24}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="chart-legend" x="{left + 32}" y="{y + 4:.1f}">'
            f"{_attr(item.label)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _slug(text: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
    return slug[:40] or "chart"


def render_bars(
    labels: Sequence[object],
    values: Sequence[object],
    *,
    title: str,
    x_label: str,
    y_label: str,
    highlight: object = None,
    width: int = 560,
    height: int = 240,
    key: str = "",
) -> SafeString:
    """A vertical bar chart; the bar whose label equals ``highlight`` is accented."""
    numbers = [to_float(value) or 0.0 for value in values]
    chart_id = "chart-" + _slug(key or title)
    left, right, top, bottom = 56, 16, 16, 48
    # Outward: the top tick, and so the axis, reaches the tallest bar.
    y_ticks = nice_ticks(0.0, max([*numbers, 1.0]), 4, outward=True)
    y_scale = _Scale(0.0, y_ticks[-1], height - bottom, top, False)
    slot = (width - left - right) / max(len(numbers), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{_attr(title)}</title>',
        f'<desc id="{chart_id}-desc">'
        + _attr(
            "; ".join(
                f"{label}: {format_number(value)}"
                for label, value in zip(labels, numbers, strict=False)
            )
        )
        + "</desc>",
    ]
    parts.extend(_y_grid(y_ticks, y_scale, left, width - right))
    for index, (label, value) in enumerate(zip(labels, numbers, strict=False)):
        x = left + index * slot
        y = y_scale(value)
        colour = "series-1" if highlight is not None and label == highlight else ""
        parts.append(
            f'<rect class="chart-bar series-0 {colour}" x="{x + slot * 0.15:.1f}" '
            f'y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{max(height - bottom - y, 0):.1f}" rx="2">'
            f"<title>{_attr(label)}: {_attr(format_number(value))}</title></rect>"
            f'<text class="chart-tick" x="{x + slot / 2:.1f}" '
            f'y="{height - bottom + 16}" text-anchor="middle">{_attr(label)}</text>'
        )
    parts.append(
        f'<line class="chart-axis" x1="{left}" x2="{width - right}" '
        f'y1="{height - bottom}" y2="{height - bottom}"/>'
        f'<text class="chart-label" x="{(left + width - right) / 2:.1f}" '
        f'y="{height - 8}" text-anchor="middle">{_attr(x_label)}</text>'
        f'<text class="chart-label" transform="translate(14 '
        f'{(top + height - bottom) / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{_attr(y_label)}</text>"
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))
