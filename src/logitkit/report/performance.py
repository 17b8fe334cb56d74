"""Report sections about the probabilities: discrimination and calibration.

Binary models get ROC and precision-recall curves and a reliability plot with the Brier
score, calibration errors and the Hosmer-Lemeshow test; multiclass models get one-vs-rest
ROC curves. Also the threshold grid and confusion counts the other sections share.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn import metrics as skm

from logitkit.evaluation import CURVE_POINTS
from logitkit.report._context import Context, Labelled
from logitkit.report._html import (
    Html,
    el,
    figure,
    fmt_count,
    fmt_num,
    fmt_p,
    fmt_pct,
    missing,
    section,
    table,
)
from logitkit.report.figures import Plot

__all__ = [
    "NO_ROWS",
    "Counts",
    "calibration_section",
    "counts_at",
    "discrimination_section",
    "threshold_grid",
]

FloatArray = NDArray[np.float64]
NO_ROWS = (
    "No labelled rows to evaluate: pass held-out rows (X=..., y=...) or out-of-fold "
    "probabilities (oof=(y_train, proba)) to build_report, or DATA to logitkit report."
)


def threshold_grid(policy: float | None, points: int = 401) -> FloatArray:
    """Thresholds evenly spaced on the log-odds scale, with 0.5 and the policy's included.

    Examples
    --------
    >>> grid = threshold_grid(0.00086)
    >>> bool(0.00086 in grid and 0.5 in grid), bool(grid[0] < 0.00086)
    (True, True)
    """
    lo, hi = 1e-3, 1.0 - 1e-3
    if policy is not None and 0.0 < policy < 1.0:
        lo, hi = min(lo, policy / 2.0), max(hi, 1.0 - (1.0 - policy) / 2.0)
    lo, hi = max(lo, 1e-9), min(hi, 1.0 - 1e-9)
    z = np.linspace(math.log(lo / (1 - lo)), math.log(hi / (1 - hi)), points)
    grid = 1.0 / (1.0 + np.exp(-z))
    extra = [0.5] if policy is None else [0.5, policy]
    return np.unique(np.r_[grid, extra])


class Counts:
    """Confusion counts at many thresholds, from the sorted scores of each class.

    ``tp[i]`` is the number of positive rows with ``p >= thresholds[i]`` (the policy's
    rule), and so on.
    """

    def __init__(self, y: NDArray[np.bool_], p: FloatArray, thresholds: FloatArray) -> None:
        pos, neg = np.sort(p[y]), np.sort(p[~y])
        t = np.asarray(thresholds, dtype=np.float64)
        self.thresholds = t
        self.tp = pos.size - np.searchsorted(pos, t, side="left")
        self.fp = neg.size - np.searchsorted(neg, t, side="left")
        self.fn = pos.size - self.tp
        self.tn = neg.size - self.fp
        self.n = pos.size + neg.size

    def rates(self) -> dict[str, FloatArray]:
        """Recall, precision and false-positive rate (NaN where undefined)."""
        tp, fp, fn, tn = (a.astype(np.float64) for a in (self.tp, self.fp, self.fn, self.tn))
        with np.errstate(divide="ignore", invalid="ignore"):
            return {
                "recall": tp / (tp + fn),
                "precision": tp / (tp + fp),
                "false_positive_rate": fp / (fp + tn),
            }

    def cost(self, costs: dict[str, float]) -> FloatArray:
        """Mean cost per row (benefits count as negative costs)."""
        total = costs["cost_fp"] * self.fp + costs["cost_fn"] * self.fn
        total = total - costs["benefit_tp"] * self.tp - costs["benefit_tn"] * self.tn
        return np.asarray(total / self.n, dtype=np.float64)


def counts_at(rows: Labelled, threshold: float) -> dict[str, int]:
    """``tp``, ``fp``, ``fn``, ``tn`` of ``rows`` at one threshold.

    Examples
    --------
    >>> import numpy as np
    >>> rows = Labelled("rows", np.array(["a", "b", "b"]), np.array([[.8, .2], [.4, .6],
    ...                 [.7, .3]]), positive_index=1, positive="b")
    >>> counts_at(rows, 0.5)
    {'tp': 1, 'fp': 0, 'fn': 1, 'tn': 1}
    """
    c = Counts(rows.is_positive, rows.p, np.array([threshold]))
    return {"tp": int(c.tp[0]), "fp": int(c.fp[0]), "fn": int(c.fn[0]), "tn": int(c.tn[0])}


def _sets(ctx: Context) -> list[tuple[Labelled, str, bool]]:
    """Evaluated row sets with a series class; held-out rows first (solid)."""
    out = []
    if ctx.held_out is not None and ctx.held_out.evaluation is not None:
        out.append((ctx.held_out, "s1", False))
    if ctx.oof is not None and ctx.oof.evaluation is not None:
        out.append((ctx.oof, "s2", bool(out)))
    return out


def _problems(ctx: Context) -> list[Html]:
    return [missing(r.problem) for r in (ctx.held_out, ctx.oof) if r is not None and r.problem]


def discrimination_section(ctx: Context) -> Html:
    """ROC and precision-recall curves, with the area under each."""
    intro = (
        f"How well the probabilities rank the rows: a good model gives {ctx.positive} rows "
        "higher probabilities than the others, whatever the threshold."
        if ctx.binary
        else "How well the probabilities rank the rows: a good model gives the rows of each "
        "class a higher probability of that class than the other rows get."
    )
    if not ctx.binary:
        return section("discrimination", "Discrimination", intro, *_multiclass_roc(ctx))
    sets = _sets(ctx)
    if not sets:
        return section("discrimination", "Discrimination", intro, *_problems(ctx), missing(NO_ROWS))
    roc = Plot(
        "ROC curve",
        f"False-positive rate (share of {ctx.negative} flagged)",
        "Recall (true-positive rate)",
        ("linear", 0, 1),
        ("linear", 0, 1),
        desc="Receiver operating characteristic curve.",
        width=460,
    )
    pr = Plot(
        "Precision-recall curve",
        f"Recall (share of {ctx.positive} flagged)",
        "Precision",
        ("linear", 0, 1),
        ("linear", 0, 1.02),
        desc="Precision-recall curve.",
        width=460,
    )
    roc.diagonal()
    lines = []
    for rows, cls, dashed in sets:
        e = rows.evaluation
        assert e is not None
        curves = e.curves  # from evaluate's one sort (thinned beyond CURVE_POINTS scores)
        assert curves is not None
        fpr, tpr, prec, rec = curves.fpr, curves.tpr, curves.precision, curves.recall
        auc = e.roc_auc
        label = rows.name
        roc.line(fpr, tpr, cls=cls, dashed=dashed, label=f"{label}: AUC {auc.auc:.3f}")
        pr.line(rec, prec, cls=cls, dashed=dashed, label=f"{label}: AP {e.average_precision:.3f}")
        ci = (
            f" (95% DeLong interval {auc.ci_low:.3f} to {auc.ci_high:.3f})"
            if math.isfinite(auc.ci_low)
            else ""
        )
        lines.append(
            el(
                "li",
                f"{label.capitalize()} ({fmt_count(e.n_samples)} rows, {fmt_count(e.n_positive)} "
                f"{ctx.positive}): ROC-AUC {auc.auc:.3f}{ci}; average precision "
                f"{e.average_precision:.3f} against {fmt_pct(e.n_positive / e.n_samples)} for a "
                "model that guesses.",
            )
        )
    first = sets[0][0].evaluation
    assert first is not None
    prevalence = first.n_positive / first.n_samples
    thinned = [
        rows.name
        for rows, _, _ in sets
        if rows.evaluation and rows.evaluation.curves and rows.evaluation.curves.thinned
    ]
    drawn = (
        f" The curves of the {' and the '.join(thinned)} hold more than {CURVE_POINTS:,} "
        "distinct probabilities: they are drawn through the exact points where the count of "
        f"either class flagged reaches each 1/{CURVE_POINTS:,} of its total."
        if thinned
        else ""
    )
    pr.hline(prevalence, cls="ref", label=f"guessing ({fmt_pct(prevalence)})")
    return section(
        "discrimination",
        "Discrimination: ROC and precision-recall",
        intro,
        el("ul", lines),
        el(
            "div",
            figure(
                roc.render(),
                "Each point is one threshold: how many of the "
                f"{ctx.positive} rows it flags (up) against how many {ctx.negative} rows it flags "
                "(right). The dashed diagonal is guessing; the closer the curve to the top-left "
                "corner, the better. AUC is the chance that a random "
                f"{ctx.positive} row gets a higher probability than a random {ctx.negative} row."
                + drawn,
            ),
            figure(
                pr.render(),
                "Precision against recall over all thresholds: of the rows flagged, how many are "
                f"truly {ctx.positive}. Useful when {ctx.positive} rows are rare; the dashed line "
                "is the share a guess would reach.",
            ),
            class_="grid2",
        ),
    )


def _multiclass_roc(ctx: Context) -> list[Any]:
    rows = ctx.held_out or ctx.oof
    if rows is None:
        return [missing(NO_ROWS)]
    plot = Plot(
        "One-vs-rest ROC curves",
        "False-positive rate",
        "Recall",
        ("linear", 0, 1),
        ("linear", 0, 1),
        desc="One ROC curve per class against all others.",
        width=460,
    )
    plot.diagonal()
    for k, label in enumerate(ctx.classes):
        y = np.asarray(rows.y == label, dtype=bool)
        if y.all() or not y.any():
            continue
        fpr, tpr, _ = skm.roc_curve(y, rows.proba[:, k])
        auc = skm.roc_auc_score(y, rows.proba[:, k])
        plot.line(fpr, tpr, cls=f"s{k % 4 + 1}", label=f"{label}: AUC {auc:.3f}")
    return [
        el("p", f"On the {rows.name} ({fmt_count(rows.y.shape[0])} rows)."),
        figure(
            plot.render(),
            "Each curve treats one class as positive and the rest as negative; the closer to the "
            "top-left corner, the better the model separates that class.",
        ),
    ]


def calibration_section(ctx: Context) -> Html:
    """The reliability plot with Brier score, calibration error and Hosmer-Lemeshow."""
    intro = (
        "Whether the probabilities can be taken at face value: among rows given a 30% "
        f"probability of {ctx.positive if ctx.binary else 'a class'}, about 30% should be."
    )
    if not ctx.binary:
        return section(
            "calibration",
            "Calibration",
            intro,
            missing(
                "The reliability plot is drawn for binary models; see the per-class table below."
            ),
        )
    sets = _sets(ctx)
    if not sets:
        return section("calibration", "Calibration", intro, *_problems(ctx), missing(NO_ROWS))
    plot = Plot(
        "Reliability diagram",
        f"Mean predicted probability of {ctx.positive} (bin)",
        "Observed share",
        ("linear", 0, 1),
        ("linear", 0, 1),
        desc="Observed frequency against mean predicted probability, per bin of probabilities.",
        width=460,
    )
    plot.diagonal()
    rows_out = []
    for rows, cls, dashed in sets:
        e = rows.evaluation
        assert e is not None
        rel = e.reliability
        x, y = rel["mean_predicted"].to_numpy(), rel["observed_frequency"].to_numpy()
        n = rel["count"].to_numpy(dtype=float)
        plot.line(x, y, cls=cls, dashed=dashed, label=rows.name)
        tips = [
            f"{int(c)} rows: predicted {a:.3f}, observed {b:.3f}"
            for a, b, c in zip(x, y, n, strict=True)
        ]
        plot.points(x, y, cls=cls, radius=2.5 + 5.0 * np.sqrt(n / n.max()), tips=tips)
        hl = e.hosmer_lemeshow
        hl_text = (
            f"χ² = {hl.statistic:.2f}, df = {hl.df}, p = {fmt_p(hl.p_value)}"
            if hl is not None
            else "n/a"
        )
        rows_out.append(
            [
                rows.name.capitalize(),
                fmt_num(e.brier_score, 3),
                fmt_num(e.ece["uniform"], 2),
                fmt_num(e.ece["quantile"], 2),
                hl_text,
            ]
        )
    return section(
        "calibration",
        "Calibration",
        intro,
        el(
            "div",
            figure(
                plot.render(),
                f"Rows are grouped into 10 equal-width bins of predicted probability; each dot is a "
                f"bin (larger dots hold more rows), placed at its mean prediction (across) and its "
                f"observed share of {ctx.positive} (up). Dots on the dashed diagonal mean the "
                "probabilities are right; below it, too high; above it, too low.",
            ),
            class_="narrow",
        ),
        table(
            [
                "Rows",
                "Brier score",
                "ECE (equal width)",
                "ECE (equal mass)",
                "Hosmer-Lemeshow test",
            ],
            rows_out,
        ),
        el(
            "p",
            "Brier score: mean squared error of the probabilities (0 is perfect; lower is "
            "better). ECE (expected calibration error): the average gap between predicted and "
            "observed shares over 10 bins. Hosmer-Lemeshow: a small p-value (below 0.05) is "
            "evidence that the probabilities are off somewhere.",
            class_="small",
        ),
    )
