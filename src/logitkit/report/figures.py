"""Inline SVG plots drawn in Python: axes on linear, log or logit scales, and a forest plot.

No plotting library and no script: each figure is an ``<svg>`` element with a ``<title>``
and ``<desc>`` for screen readers, styled by the report's CSS classes (``s1`` .. ``s4``
for series, ``ref`` for reference lines, ``policy`` and ``default`` for thresholds). All
text passes through :mod:`._html`, so labels are escaped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitkit.report._html import Html, el, join

__all__ = ["ForestRow", "Plot", "Scale", "forest_plot"]

_ids = itertools.count(1)
_LOGIT_TICKS = (1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)
_CHAR_WIDTH = 6.6  # px per character of 12px sans-serif, to size the margins


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return math.log(p / (1.0 - p))


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= mult * mag:
            return mult * mag
    return 10.0 * mag


def _tick_label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")
    return f"{v:.4g}"


@dataclass(frozen=True)
class Scale:
    """A mapping of data values on ``[lo, hi]`` to pixels on ``[a, b]``.

    Examples
    --------
    >>> Scale("linear", 0.0, 1.0, 0.0, 100.0)(0.25)
    25.0
    >>> round(Scale("logit", 0.01, 0.99, 0.0, 100.0)(0.5), 6)
    50.0
    """

    kind: str
    lo: float
    hi: float
    a: float
    b: float

    def _t(self, v: float) -> float:
        if self.kind == "log":
            return math.log10(max(v, 1e-300))
        if self.kind == "logit":
            return _logit(v)
        return v

    def __call__(self, v: float) -> float:
        """Pixel position of ``v`` (clipped to the range)."""
        t0, t1 = self._t(self.lo), self._t(self.hi)
        share = 0.5 if t1 == t0 else (self._t(v) - t0) / (t1 - t0)
        share = min(max(share, -0.02), 1.02)
        return self.a + share * (self.b - self.a)

    def many(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Pixel positions of many values at once (as :meth:`__call__`, element-wise)."""
        v = np.asarray(values, dtype=np.float64)
        if self.kind == "log":
            t = np.log10(np.maximum(v, 1e-300))
        elif self.kind == "logit":
            q = np.clip(v, 1e-12, 1.0 - 1e-12)
            t = np.log(q / (1.0 - q))
        else:
            t = v
        t0, t1 = self._t(self.lo), self._t(self.hi)
        share = np.full_like(t, 0.5) if t1 == t0 else (t - t0) / (t1 - t0)
        return self.a + np.clip(share, -0.02, 1.02) * (self.b - self.a)

    def ticks(self, target: int = 5) -> list[float]:
        """Tick values inside the domain."""
        lo, hi = min(self.lo, self.hi), max(self.lo, self.hi)
        if self.kind == "logit":
            return [t for t in _LOGIT_TICKS if lo <= t <= hi]
        if self.kind == "log":
            e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
            stride = max(1, math.ceil((e1 - e0) / 6))
            out = [10.0**e for e in range(e0, e1 + 1, stride) if lo <= 10.0**e <= hi]
            if len(out) < 3:  # a narrow range: 1-2-5 within each decade
                out = [
                    m * 10.0**e
                    for e in range(e0, e1 + 1)
                    for m in (1.0, 2.0, 5.0)
                    if lo <= m * 10.0**e <= hi
                ]
            return out
        step = _nice_step(hi - lo, target)
        first = math.ceil(lo / step - 1e-9) * step
        n = math.floor((hi - first) / step + 1e-9) + 1
        return [round(first + i * step, 12) for i in range(max(n, 0))]


def _finite(*arrays: ArrayLike) -> list[NDArray[np.float64]]:
    """The arrays as floats, without the positions where any of them is NaN or infinite."""
    values = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    keep = np.logical_and.reduce([np.isfinite(v) for v in values])
    return [v[keep] for v in values]


def _path(xs: ArrayLike, ys: ArrayLike) -> str:
    """SVG path data, rounded to 0.1 px with repeated and collinear points dropped.

    Vectorised: a curve of a million points (the ROC curve of a big file) reduces to
    the few thousand distinct pixel positions it can take.

    Examples
    --------
    >>> _path([0, 0, 0, 1, 2], [0, 1, 2, 2, 2])
    'M0,0 L0,2 L2,2'
    """
    x = np.round(np.asarray(xs, dtype=np.float64), 1)
    y = np.round(np.asarray(ys, dtype=np.float64), 1)
    if x.size:
        moved = np.ones(x.size, dtype=bool)
        moved[1:] = (x[1:] != x[:-1]) | (y[1:] != y[:-1])
        x, y = x[moved], y[moved]
    if x.size > 2:
        # A point inside a vertical or horizontal run adds nothing: keep the run's ends.
        inner = ((x[:-2] == x[1:-1]) & (x[1:-1] == x[2:])) | (
            (y[:-2] == y[1:-1]) & (y[1:-1] == y[2:])
        )
        keep = np.concatenate([[True], ~inner, [True]])
        x, y = x[keep], y[keep]
    return " ".join(
        ("M" if i == 0 else "L") + f"{a:g},{b:g}" for i, (a, b) in enumerate(zip(x, y, strict=True))
    )


@dataclass
class Plot:
    """One chart: axes, grid, ticks and labels, and the marks added to it.

    Parameters
    ----------
    title : str
        Read by screen readers and shown as a tooltip.
    x_label, y_label : str
        Axis titles.
    x, y : tuple (kind, lo, hi)
        Scale kind ("linear", "log" or "logit") and data domain of each axis.
    desc : str
        What the figure shows, for screen readers.

    Examples
    --------
    >>> plot = Plot("ROC", "False-positive rate", "Recall", ("linear", 0, 1),
    ...             ("linear", 0, 1), desc="ROC curve")
    >>> plot.line([0, 0.5, 1], [0, 0.8, 1], cls="s1", label="model")
    >>> plot.render().startswith("<svg")
    True
    """

    title: str
    x_label: str
    y_label: str
    x: tuple[str, float, float]
    y: tuple[str, float, float]
    desc: str = ""
    width: int = 560
    height: int = 340
    left: float = 62.0
    y_ticks: list[tuple[float, str]] | None = None
    _marks: list[Html] = field(default_factory=list, init=False, repr=False)
    _legend: list[tuple[str, str, bool]] = field(default_factory=list, init=False, repr=False)

    @property
    def sx(self) -> Scale:
        """The x scale."""
        kind, lo, hi = self.x
        return Scale(kind, float(lo), float(hi), self.left, self.width - 16.0)

    @property
    def sy(self) -> Scale:
        """The y scale (pixels grow downwards)."""
        kind, lo, hi = self.y
        return Scale(kind, float(lo), float(hi), self.height - 46.0, 26.0)

    def _legend_entry(self, label: str | None, cls: str, dashed: bool) -> None:
        if label is not None:
            self._legend.append((label, cls, dashed))

    def line(
        self,
        xs: ArrayLike,
        ys: ArrayLike,
        *,
        cls: str,
        label: str | None = None,
        dashed: bool = False,
    ) -> None:
        """A line through the points (points with a missing coordinate are left out)."""
        xv, yv = _finite(xs, ys)
        dash = " dashed" if dashed else ""
        d = _path(self.sx.many(xv), self.sy.many(yv))
        self._marks.append(el("path", d=d, class_=f"mark {cls}{dash}", fill="none"))
        self._legend_entry(label, cls, dashed)

    def band(self, xs: ArrayLike, lo: ArrayLike, hi: ArrayLike, *, cls: str) -> None:
        """A shaded band between ``lo`` and ``hi``."""
        xv, lov, hiv = _finite(xs, lo, hi)
        x = [self.sx(float(v)) for v in xv]
        top = [self.sy(float(v)) for v in hiv]
        bottom = [self.sy(float(v)) for v in lov]
        pts = [*zip(x, top, strict=True), *reversed(list(zip(x, bottom, strict=True)))]
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        self._marks.append(el("polygon", points=points, class_=f"band {cls}"))

    def points(
        self,
        xs: ArrayLike,
        ys: ArrayLike,
        *,
        cls: str,
        label: str | None = None,
        radius: ArrayLike | float = 3.5,
        tips: Sequence[str] | None = None,
    ) -> None:
        """Dots, each with an optional tooltip."""
        xv, yv = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        rv = np.broadcast_to(np.asarray(radius, dtype=float), xv.shape)
        keep = np.isfinite(xv) & np.isfinite(yv) & np.isfinite(rv)
        if tips is not None:
            tips = [t for t, k in zip(tips, keep, strict=True) if k]
        xv, yv, rv = xv[keep], yv[keep], rv[keep]
        for i, (a, b, r) in enumerate(zip(xv, yv, rv, strict=True)):
            tip = el("title", tips[i]) if tips is not None else None
            cx, cy = f"{self.sx(float(a)):.1f}", f"{self.sy(float(b)):.1f}"
            self._marks.append(el("circle", tip, cx=cx, cy=cy, r=f"{r:.1f}", class_=f"dot {cls}"))
        self._legend_entry(label, cls, False)

    def vline(self, x: float, *, cls: str, label: str | None = None) -> None:
        """A vertical line across the plot, labelled at its top."""
        px = self.sx(x)
        y0, y1 = self.sy.a, self.sy.b
        self._marks.append(
            el("line", x1=f"{px:.1f}", x2=f"{px:.1f}", y1=f"{y0:.1f}", y2=f"{y1:.1f}", class_=cls)
        )
        if label is not None:
            anchor = "end" if px > (self.left + self.width) / 2 else "start"
            dx = -4 if anchor == "end" else 4
            self._marks.append(
                el(
                    "text",
                    label,
                    x=f"{px + dx:.1f}",
                    y=f"{y1 - 7:.1f}",
                    class_=f"mark-label {cls}",
                    text_anchor=anchor,
                )
            )

    def add(self, mark: Html) -> None:
        """Add any SVG element in pixel coordinates (use :attr:`sx` and :attr:`sy`)."""
        self._marks.append(mark)

    def diagonal(self) -> None:
        """The reference line y = x (chance, or perfect calibration)."""
        lo = max(self.sx.lo, self.sy.lo)
        hi = min(self.sx.hi, self.sy.hi)
        self.line([lo, hi], [lo, hi], cls="ref", dashed=True)

    def hline(self, y: float, *, cls: str, label: str | None = None) -> None:
        """A horizontal reference line."""
        lo, hi = sorted((self.sx.lo, self.sx.hi))
        self.line([lo, hi], [y, y], cls=cls, dashed=True, label=label)

    def _axes(self) -> list[Html]:
        sx, sy = self.sx, self.sy
        out: list[Html] = []
        for v in sx.ticks():
            px = f"{sx(v):.1f}"
            out.append(el("line", x1=px, x2=px, y1=f"{sy.a:.1f}", y2=f"{sy.b:.1f}", class_="grid"))
            out.append(
                el(
                    "text",
                    _tick_label(v),
                    x=px,
                    y=f"{sy.a + 14:.1f}",
                    class_="tick",
                    text_anchor="middle",
                )
            )
        yt = self.y_ticks if self.y_ticks is not None else [(v, _tick_label(v)) for v in sy.ticks()]
        for v, text in yt:
            py = f"{sy(v):.1f}"
            out.append(el("line", x1=f"{sx.a:.1f}", x2=f"{sx.b:.1f}", y1=py, y2=py, class_="grid"))
            out.append(
                el("text", text, x=f"{sx.a - 6:.1f}", y=py, class_="tick", text_anchor="end")
            )
        out.append(
            el(
                "rect",
                x=f"{sx.a:.1f}",
                y=f"{sy.b:.1f}",
                width=f"{sx.b - sx.a:.1f}",
                height=f"{sy.a - sy.b:.1f}",
                class_="frame",
            )
        )
        out.append(
            el("text", self.x_label, x=f"{(sx.a + sx.b) / 2:.1f}", y=self.height - 8, class_="axis")
        )
        if self.y_label:
            cy = (sy.a + sy.b) / 2
            out.append(
                el(
                    "text",
                    self.y_label,
                    x="14",
                    y=f"{cy:.1f}",
                    class_="axis",
                    transform=f"rotate(-90 14 {cy:.1f})",
                )
            )
        return out

    def _legend_marks(self) -> list[Html]:
        """The legend, below the axis title (outside the plot, so it hides nothing)."""
        out: list[Html] = []
        x0 = self.sx.a
        for i, (label, cls, dashed) in enumerate(self._legend):
            dash = " dashed" if dashed else ""
            y = self.height + 8 + 18 * i
            out.append(
                el(
                    "line",
                    x1=f"{x0:.1f}",
                    x2=f"{x0 + 22:.1f}",
                    y1=str(y),
                    y2=str(y),
                    class_=f"mark {cls}{dash}",
                )
            )
            out.append(el("text", label, x=f"{x0 + 28:.1f}", y=str(y + 4), class_="legend"))
        return out

    def render(self) -> Html:
        """The ``<svg>`` element."""
        uid = next(_ids)
        title_id, desc_id = f"fig{uid}-t", f"fig{uid}-d"
        return el(
            "svg",
            el("title", self.title, id=title_id),
            el("desc", self.desc or self.title, id=desc_id),
            join(self._axes(), self._marks, self._legend_marks()),
            viewBox=f"0 0 {self.width} {self.height + 18 * len(self._legend) + (6 if self._legend else 0)}",
            class_="plot",
            style=f"max-width: {self.width}px",
            role="img",
            aria_labelledby=f"{title_id} {desc_id}",
        )


@dataclass(frozen=True)
class ForestRow:
    """One row of a forest plot: an estimate with an optional interval."""

    label: str
    estimate: float
    low: float | None = None
    high: float | None = None


def _short(label: str, limit: int = 34) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def forest_plot(rows: Sequence[ForestRow], *, title: str, x_label: str, desc: str) -> Html:
    """Estimates (odds ratios, on a log axis) with interval whiskers, one row per term.

    Examples
    --------
    >>> svg = forest_plot([ForestRow("age", 1.5, 1.1, 2.0)], title="OR", x_label="OR",
    ...                   desc="odds ratios")
    >>> "age" in svg
    True
    """
    values = [r.estimate for r in rows]
    values += [v for r in rows for v in (r.low, r.high) if v is not None and math.isfinite(v)]
    finite = [v for v in values if math.isfinite(v) and v > 0]
    lo = min([*finite, 1.0]) / 1.25
    hi = max([*finite, 1.0]) * 1.25
    lo, hi = max(lo, 1e-6), min(hi, 1e6)
    left = 14.0 + _CHAR_WIDTH * max((len(_short(r.label)) for r in rows), default=4)
    n = len(rows)
    plot = Plot(
        title,
        x_label,
        "",
        ("log", lo, hi),
        ("linear", n - 0.5, -0.5),
        desc=desc,
        height=int(62 + 20 * n),
        width=640,
        left=left,
        y_ticks=[],
    )
    plot.line([1.0, 1.0], [n - 0.5, -0.5], cls="ref", dashed=True)
    for i, r in enumerate(rows):
        if r.low is not None and r.high is not None and math.isfinite(r.low * r.high):
            plot.line([r.low, r.high], [i, i], cls="whisker")
        tip = f"{r.label}: {r.estimate:.3g}"
        if r.low is not None and r.high is not None:
            tip += f" ({r.low:.3g} to {r.high:.3g})"
        cls = "s1" if r.estimate >= 1.0 else "s4"
        plot.points([r.estimate], [i], cls=cls, tips=[tip])
        plot.add(
            el(
                "text",
                el("title", r.label),
                _short(r.label),
                x=f"{left - 6:.1f}",
                y=f"{plot.sy(i):.1f}",
                class_="tick",
                text_anchor="end",
            )
        )
    return plot.render()
