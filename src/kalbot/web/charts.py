"""Charts as inline SVG, drawn on the server: no script, no CDN, nothing to fetch.

Each function returns markup ready for a template. Values arrive as Decimals and become float
only here, as screen coordinates.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH = 760
HEIGHT = 240
PAD_L, PAD_R, PAD_T, PAD_B = 64, 16, 14, 30

UP = "#1a7f37"
DOWN = "#cf222e"
INK = "#57606a"
GRID = "#d8dee4"


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Sequence[tuple[float, Decimal | None]]  # (x, y); a None y breaks the line
    color: str
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: Decimal
    label: str
    color: str
    up: bool = True  # triangle pointing up (entry) or down (exit)


@dataclass(frozen=True, slots=True)
class Axis:
    fmt: Callable[[float], str] = field(default=lambda v: f"{v:,.2f}")
    x_fmt: Callable[[float], str] = field(default=lambda v: f"{v:g}")
    lo: float | None = None
    hi: float | None = None
    width: int = WIDTH  # the viewBox: text keeps its size when a chart is drawn wider
    height: int = HEIGHT


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [lo]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _t(text: str) -> Markup:
    """Text for SVG: escaped, and without the control characters XML cannot carry."""
    return escape(_NOT_XML.sub("", text))


def _empty(title: str, message: str, width: int = WIDTH) -> Markup:
    return Markup(
        f'<svg class="chart empty" viewBox="0 0 {width} 80" role="img" '
        f'aria-label="{_t(title)}"><text x="{width / 2}" y="44" text-anchor="middle" '
        f'fill="{INK}">{_t(message)}</text></svg>'
    )


def _scale(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    span = hi - lo or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _frame(title: str, y_lo: float, y_hi: float, x_lo: float, x_hi: float, axis: Axis) -> str:
    w, h = axis.width, axis.height
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{_t(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{_t(title)}</title>",
    ]
    sy = _scale(y_lo, y_hi, h - PAD_B, PAD_T)
    for v in nice_ticks(y_lo, y_hi):
        y = sy(v)
        parts.append(
            f'<line x1="{PAD_L}" x2="{w - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="{INK}">{_t(axis.fmt(v))}</text>'
        )
    for x, anchor in ((x_lo, "start"), (x_hi, "end")):
        px = PAD_L if anchor == "start" else w - PAD_R
        parts.append(
            f'<text x="{px}" y="{h - 8}" text-anchor="{anchor}" font-size="12" '
            f'fill="{INK}">{_t(axis.x_fmt(x))}</text>'
        )
    return "".join(parts)


def _bounds(values: list[float], axis: Axis) -> tuple[float, float]:
    lo = min(values) if axis.lo is None else axis.lo
    hi = max(values) if axis.hi is None else axis.hi
    if hi == lo:
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.05
    return (lo - pad if axis.lo is None else lo), (hi + pad if axis.hi is None else hi)


def line_chart(
    title: str,
    series: Sequence[Series],
    axis: Axis | None = None,
    markers: Sequence[Marker] = (),
    area: bool = False,
) -> Markup:
    """Lines over a shared x axis; ``markers`` are labelled triangles (trades)."""
    axis = axis or Axis()
    xs = [x for s in series for x, y in s.points if y is not None] + [m.x for m in markers]
    ys = [float(y) for s in series for _, y in s.points if y is not None]
    ys += [float(m.y) for m in markers]
    if not xs or not ys:
        return _empty(title, "no data yet", axis.width)
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = _bounds(ys, axis)
    sx = _scale(x_lo, x_hi, PAD_L, axis.width - PAD_R)
    sy = _scale(y_lo, y_hi, axis.height - PAD_B, PAD_T)
    parts = [_frame(title, y_lo, y_hi, x_lo, x_hi, axis)]
    for s in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for px, py in s.points:
            if py is None:
                runs.append([])
            else:
                runs[-1].append((sx(px), sy(float(py))))
        dash = ' stroke-dasharray="4 3"' if s.dashed else ""
        for run in runs:
            if not run:
                continue
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            if area:
                base = sy(max(y_lo, min(0.0, y_hi)))
                poly = f"{run[0][0]:.1f},{base:.1f} {pts} {run[-1][0]:.1f},{base:.1f}"
                parts.append(f'<polygon points="{poly}" fill="{s.color}" fill-opacity="0.18"/>')
            if len(run) == 1:
                x, y = run[0]
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{s.color}"/>')
            parts.append(
                f'<polyline class="series" points="{pts}" fill="none" stroke="{s.color}" '
                f'stroke-width="2"{dash}/>'
            )
    for m in markers:
        x, y = sx(m.x), sy(float(m.y))
        tri = (
            f"{x:.1f},{y - 7:.1f} {x - 6:.1f},{y + 5:.1f} {x + 6:.1f},{y + 5:.1f}"
            if m.up
            else f"{x:.1f},{y + 7:.1f} {x - 6:.1f},{y - 5:.1f} {x + 6:.1f},{y - 5:.1f}"
        )
        parts.append(
            f'<polygon class="marker" points="{tri}" fill="{m.color}" stroke="#fff">'
            f"<title>{_t(m.label)}</title></polygon>"
        )
    parts.append(_legend(series))
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    out = []
    x = PAD_L + 8
    for s in series:
        out.append(
            f'<rect x="{x}" y="{PAD_T + 2}" width="12" height="3" fill="{s.color}"/>'
            f'<text x="{x + 16}" y="{PAD_T + 7}" font-size="11" fill="{INK}">'
            f"{_t(s.label)}</text>"
        )
        x += 24 + 7 * len(s.label)
    return "".join(out)


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, Decimal]],
    fmt: Callable[[float], str] | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Markup:
    """Signed bars (profit green, loss red) around a zero line."""
    if not bars:
        return _empty(title, "no data yet", width)
    fmt = fmt or (lambda v: f"{v:,.2f}")
    values = [float(v) for _, v in bars]
    lo, hi = min(0.0, *values), max(0.0, *values)
    if lo == hi:
        hi = 1.0
    pad = (hi - lo) * 0.05
    lo, hi = (lo - pad if lo < 0 else lo), (hi + pad if hi > 0 else hi)
    axis = Axis(
        fmt=fmt,
        x_fmt=lambda i: bars[int(i)][0] if bars else "",
        lo=lo,
        hi=hi,
        width=width,
        height=height,
    )
    parts = [_frame(title, lo, hi, 0, len(bars) - 1, axis)]
    sy = _scale(lo, hi, height - PAD_B, PAD_T)
    slot = (width - PAD_L - PAD_R) / len(bars)
    bar_w = max(1.0, min(slot * 0.7, 80.0))
    zero = sy(0.0)
    for i, (label, v) in enumerate(bars):
        y = sy(float(v))
        top, h = min(y, zero), max(abs(zero - y), 1.0)
        x = PAD_L + i * slot + (slot - bar_w) / 2
        color = UP if v >= 0 else DOWN
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{_t(label)}: {_t(fmt(float(v)))}</title></rect>'
        )
    parts.append(
        f'<line x1="{PAD_L}" x2="{width - PAD_R}" y1="{zero:.1f}" y2="{zero:.1f}" '
        f'stroke="{INK}" stroke-width="1"/></svg>'
    )
    return Markup("".join(parts))
