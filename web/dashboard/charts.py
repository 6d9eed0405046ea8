"""Charts as inline SVG, drawn on the server: bars, stacked bars, lines and an agent timeline.

Why our own ~200 lines instead of a JavaScript chart library: the pages then need no script
at all (nothing to vendor, audit or keep in step with a CDN-free build), render the same in
any browser or in a plain HTML snapshot, and the numbers sit in the markup — every bar and
point carries ``data-value`` and a ``<title>`` tooltip — so tests and screen readers read
what the eye sees. Every label is escaped: repository and rule names come from outside.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 54, 12, 14, 28
# Full-width charts (timeline, ranked bars) get a wider canvas so their text keeps its size.
WIDE = 1100

# Colour-blind-safe palette (Okabe–Ito), one colour per category and series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
CATEGORY_COLORS = {
    "security": "#D55E00",
    "performance": "#E69F00",
    "quality": "#0072B2",
    "architecture": "#009E73",
}
STATUS_COLORS = {"ok": "#009E73", "failed": "#D55E00", "timeout": "#E69F00"}

Formatter = Callable[[float], str]


def plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.995 or value == 0 else f"${value:.3g}"


def seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}m"


def nice_max(value: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``value``, so gridlines fall on round numbers."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))


@dataclass(frozen=True)
class _Frame:
    n: int
    top: float

    @property
    def plot_w(self) -> float:
        return WIDTH - PAD_L - PAD_R

    @property
    def plot_h(self) -> float:
        return HEIGHT - PAD_T - PAD_B

    def x_band(self, i: int) -> tuple[float, float]:
        band = self.plot_w / max(self.n, 1)
        return PAD_L + i * band, band

    def y(self, value: float) -> float:
        return PAD_T + self.plot_h * (1 - value / self.top)


def _open(kind: str, title: str) -> list[str]:
    return [
        (f'<svg class="chart chart-{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'),
        f"<title>{escape(title)}</title>",
    ]


def _axes(frame: _Frame, labels: Sequence[str], fmt: Formatter) -> list[str]:
    parts = []
    for k in range(5):
        value = frame.top * k / 4
        y = frame.y(value)
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    every = max(1, math.ceil(len(labels) / 8))
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            x, band = frame.x_band(i)
            parts.append(
                f'<text class="tick" x="{x + band / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(label)}</text>'
            )
    return parts


def _empty(parts: list[str], values: Sequence[float | None]) -> None:
    if not any(v for v in values if v is not None):
        parts.append(f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data yet</text>')


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, title: str, fmt: Formatter = plain, color: str = PALETTE[0]
) -> Markup:
    """One bar per label (e.g. reviews per day)."""
    frame = _Frame(len(labels), nice_max(max(values, default=0)))
    parts = _open("bar", title) + _axes(frame, labels, fmt)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x, band = frame.x_band(i)
        y = frame.y(value)
        parts.append(
            f'<rect class="bar" x="{x + band * 0.15:.1f}" y="{y:.1f}" width="{band * 0.7:.1f}" '
            f'height="{frame.y(0) - y:.1f}" fill="{color}" data-label="{escape(label)}" data-value="{value}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
        )
    _empty(parts, values)
    return Markup("".join(parts + ["</svg>"]))


def stacked_bars(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    colors: Mapping[str, str] | None = None,
    fmt: Formatter = plain,
) -> Markup:
    """Per label, one bar stacked from the series (e.g. findings per category per day)."""
    colors = colors or {}
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    frame = _Frame(len(labels), nice_max(max(totals, default=0)))
    parts = _open("stacked", title) + _axes(frame, labels, fmt)
    for i, label in enumerate(labels):
        x, band = frame.x_band(i)
        base = 0.0
        for k, (name, values) in enumerate(series.items()):
            value = values[i]
            if not value:
                continue
            y_top, y_base = frame.y(base + value), frame.y(base)
            parts.append(
                f'<rect class="segment" x="{x + band * 0.15:.1f}" y="{y_top:.1f}" width="{band * 0.7:.1f}" '
                f'height="{y_base - y_top:.1f}" fill="{colors.get(name, PALETTE[k % len(PALETTE)])}" '
                f'data-series="{escape(name)}" data-label="{escape(label)}" data-value="{value}">'
                f"<title>{escape(label)} {escape(name)}: {escape(fmt(value))}</title></rect>"
            )
            base += value
    _empty(parts, totals)
    return Markup("".join(parts + ["</svg>"]))


def line_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    colors: Mapping[str, str] | None = None,
    fmt: Formatter = plain,
) -> Markup:
    """One line per series; a missing value (None) breaks the line instead of dropping to 0."""
    colors = colors or {}
    values = [v for vs in series.values() for v in vs if v is not None]
    frame = _Frame(len(labels), nice_max(max(values, default=0)))
    parts = _open("line", title) + _axes(frame, labels, fmt)
    for k, (name, points) in enumerate(series.items()):
        color = colors.get(name, PALETTE[k % len(PALETTE)])
        runs: list[list[str]] = [[]]
        dots = []
        for i, value in enumerate(points):
            if value is None:
                runs.append([])
                continue
            x, band = frame.x_band(i)
            cx, cy = x + band / 2, frame.y(value)
            runs[-1].append(f"{cx:.1f},{cy:.1f}")
            dots.append(
                f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{color}" '
                f'data-series="{escape(name)}" data-label="{escape(labels[i])}" data-value="{value}">'
                f"<title>{escape(labels[i])} {escape(name)}: {escape(fmt(value))}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="line" fill="none" stroke="{color}" stroke-width="2" points="{" ".join(run)}"/>')
        parts.extend(dots)
    _empty(parts, values)
    return Markup("".join(parts + ["</svg>"]))


def hbar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    fmt: Formatter = plain,
    colors: Sequence[str] | None = None,
) -> Markup:
    """Horizontal bars in the order given (ranked lists with long names: top issues)."""
    row_h, label_w = 26, 300
    height = PAD_T + 8 + row_h * max(len(labels), 1)
    top = nice_max(max(values, default=0))
    plot_w = WIDE - label_w - PAD_R - 60
    parts = [
        (f'<svg class="chart chart-hbar" viewBox="0 0 {WIDE} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = PAD_T + i * row_h
        width = max(plot_w * value / top, 1)
        short = label if len(label) <= 44 else label[:43] + "…"
        color = colors[i] if colors else PALETTE[0]
        parts.append(f'<text class="row-label" x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{escape(short)}</text>')
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 4:.1f}" width="{width:.1f}" height="{row_h - 8}" rx="2" '
            f'fill="{color}" data-label="{escape(label)}" data-value="{value}"><title>{escape(label)}: {escape(fmt(value))}</title></rect>'
        )
        parts.append(f'<text class="value" x="{label_w + width + 6:.1f}" y="{y + row_h / 2 + 4:.1f}">{escape(fmt(value))}</text>')
    if not labels:
        parts.append(f'<text class="empty" x="{WIDE / 2}" y="{height / 2}" text-anchor="middle">no findings</text>')
    return Markup("".join(parts + ["</svg>"]))


@dataclass(frozen=True)
class Span:
    """One agent on the timeline: seconds from the review's start to its start and finish."""

    label: str
    start_s: float
    end_s: float
    status: str
    detail: str = ""


def timeline(spans: Sequence[Span], *, title: str) -> Markup:
    """A Gantt chart: one row per agent, a bar from its start to its finish."""
    row_h, label_w = 28, 120
    height = PAD_T + PAD_B + row_h * max(len(spans), 1)
    end = nice_max(max((s.end_s for s in spans), default=0))
    plot_w = WIDE - label_w - PAD_R - 24
    parts = [
        (f'<svg class="chart chart-timeline" viewBox="0 0 {WIDE} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')
    ]
    for k in range(5):
        x = label_w + plot_w * k / 4
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{height - PAD_B}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{height - 8}" text-anchor="middle">{escape(seconds(end * k / 4))}</text>')
    for i, span in enumerate(spans):
        y = PAD_T + i * row_h
        x0 = label_w + plot_w * span.start_s / end
        width = max(plot_w * (span.end_s - span.start_s) / end, 2)
        color = STATUS_COLORS.get(span.status, PALETTE[7])
        tip = f"{span.label} ({span.status}): {seconds(span.start_s)} → {seconds(span.end_s)}"
        if span.detail:
            tip += f" — {span.detail}"
        parts.append(f'<text class="row-label" x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" text-anchor="end">{escape(span.label)}</text>')
        parts.append(
            f'<rect class="span" x="{x0:.1f}" y="{y + 5:.1f}" width="{width:.1f}" height="{row_h - 10}" rx="3" '
            f'fill="{color}" data-agent="{escape(span.label)}" data-status="{escape(span.status)}" '
            f'data-start="{span.start_s:.3f}" data-end="{span.end_s:.3f}"><title>{escape(tip)}</title></rect>'
        )
    if not spans:
        parts.append(f'<text class="empty" x="{WIDE / 2}" y="{height / 2}" text-anchor="middle">no agent has run yet</text>')
    return Markup("".join(parts + ["</svg>"]))
