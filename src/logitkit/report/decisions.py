"""Sections on decisions: the threshold curve and the confusion matrices.

Binary models get the expected cost (or, without costs, the error rates) against the
threshold with the policy marked, and confusion matrices at 0.5 and at the policy, each
with the exact (Clopper-Pearson) intervals of its rates; multiclass models get the argmax
confusion matrix and per-class metrics. Rows are decided by
:func:`logitkit.decision.decide`, the one decision rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from logitkit.decision import clopper_pearson, decide
from logitkit.evaluation import evaluate_multiclass
from logitkit.report._context import Context, Labelled
from logitkit.report._html import (
    Html,
    el,
    figure,
    fmt_count,
    fmt_num,
    fmt_pct,
    fmt_prob,
    missing,
    section,
    table,
)
from logitkit.report.figures import Plot
from logitkit.report.performance import NO_ROWS, Counts, threshold_grid

__all__ = ["confusion_section", "threshold_section"]


def threshold_section(ctx: Context) -> Html:
    """Expected cost (or error rates) against the threshold, with the policy marked."""
    intro = (
        "What each possible threshold would do. Lower thresholds flag more rows: fewer "
        f"missed {ctx.positive} rows, more false alarms."
    )
    if not ctx.binary:
        return section(
            "threshold",
            "Threshold",
            intro,
            missing("A multiclass model assigns the most probable class; there is no threshold."),
        )
    rows = ctx.oof if ctx.oof is not None else ctx.held_out
    if rows is None:
        return section("threshold", "Threshold", intro, missing(NO_ROWS))
    policy_t = ctx.policy.threshold if ctx.policy is not None else None
    grid = threshold_grid(policy_t)
    lo, hi = float(grid[0]), float(grid[-1])
    costs = ctx.costs
    sets = [r for r in (ctx.oof, ctx.held_out) if r is not None]
    if costs is not None:
        curves = [(r, Counts(r.is_positive, r.p, grid).cost(costs)) for r in sets]
        values = np.concatenate([c for _, c in curves])
        vlo, vhi = float(values.min()), float(values.max())
        pad = (vhi - vlo) * 0.06 or 0.05
        plot = Plot(
            "Expected cost against threshold",
            f"Threshold on P({ctx.positive}) (log-odds scale)",
            "Expected cost per row",
            ("logit", lo, hi),
            ("linear", vlo - pad, vhi + pad),
            desc="Mean cost per row for each threshold.",
            width=760,
            height=380,
        )
        for i, (r, cost) in enumerate(curves):
            plot.line(grid, cost, cls=f"s{i + 1}", dashed=i > 0, label=r.name)
        caption = (
            "The mean cost per row if every row were decided at that threshold, from the "
            "costs in the policy's rule. The policy is the lowest point of the out-of-fold curve."
        )
        note = None
    else:
        plot = Plot(
            "Error rates against threshold",
            f"Threshold on P({ctx.positive}) (log-odds scale)",
            "Share",
            ("logit", lo, hi),
            ("linear", 0, 1.02),
            desc="Recall, precision and false-positive rate for each threshold.",
            width=760,
            height=380,
        )
        rates = Counts(rows.is_positive, rows.p, grid).rates()
        plot.line(grid, rates["recall"], cls="s1", label=f"recall ({ctx.positive} flagged)")
        plot.line(
            grid,
            rates["false_positive_rate"],
            cls="s4",
            label=f"false-positive rate ({ctx.negative} flagged)",
        )
        keep = np.isfinite(rates["precision"])
        plot.line(grid[keep], rates["precision"][keep], cls="s2", dashed=True, label="precision")
        caption = f"On the {rows.name}. Move right: fewer rows flagged, so recall and the false-positive rate fall."
        note = missing(
            "The policy's rule has no costs, so no expected cost is drawn; the error rates are "
            "shown instead. To choose by cost, fit the policy with cost_fp and cost_fn "
            "(logitkit train --cost-fp ... --cost-fn ...)."
        )
    plot.vline(0.5, cls="default", label="0.5")
    if policy_t is not None:
        plot.vline(policy_t, cls="policy", label=f"policy {fmt_prob(policy_t)}")
    return section(
        "threshold",
        "Expected cost and the chosen threshold" if costs else "Threshold and error rates",
        intro,
        note,
        figure(plot.render(), caption),
    )


def _matrix(ctx: Context, counts: dict[str, int], caption: str) -> Html:
    pos, neg = ctx.positive, ctx.negative
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]
    head = el(
        "tr",
        el("td"),
        el("th", f"Flagged {pos}", scope="col"),
        el("th", f"Not flagged ({neg})", scope="col"),
    )
    rows = [
        el(
            "tr",
            el("th", f"Actually {pos}", scope="row"),
            el("td", fmt_count(tp), class_="good"),
            el("td", fmt_count(fn), class_="bad"),
        ),
        el(
            "tr",
            el("th", f"Actually {neg}", scope="row"),
            el("td", fmt_count(fp), class_="bad"),
            el("td", fmt_count(tn), class_="good"),
        ),
    ]
    facts = el(
        "ul",
        [
            el("li", _rate_with_interval(name, k, n))
            for name, k, n in (
                ("Recall", tp, tp + fn),
                ("Precision", tp, tp + fp),
                ("False-positive rate", fp, fp + tn),
            )
        ],
        class_="small",
    )
    return el(
        "div",
        el(
            "table",
            el("caption", caption),
            el("thead", head),
            el("tbody", rows),
            class_="confusion",
        ),
        facts,
    )


def _rate_with_interval(name: str, k: int, n: int, confidence: float = 0.95) -> str:
    """``"Recall 0.95 (151 of 159; 95% exact interval 0.903 to 0.978)"``."""
    if n == 0:
        return f"{name} n/a"
    low, high = clopper_pearson(k, n, confidence)
    return (
        f"{name} {fmt_num(k / n)} ({fmt_count(k)} of {fmt_count(n)}; {fmt_pct(confidence, 0)} "
        f"exact interval {fmt_num(low)} to {fmt_num(high)})"
    )


def _counts(rows: Labelled, threshold: float) -> dict[str, int]:
    """Confusion counts of ``rows`` decided at ``threshold``."""
    flag, truth = decide(rows.p, threshold), rows.is_positive
    return {
        "tp": int(np.sum(flag & truth)),
        "fp": int(np.sum(flag & ~truth)),
        "fn": int(np.sum(~flag & truth)),
        "tn": int(np.sum(~flag & ~truth)),
    }


def confusion_section(ctx: Context) -> Html:
    """Confusion matrices at 0.5 and at the policy (binary) or of the argmax (multiclass)."""
    intro = "How the decisions compare with the truth, row by row."
    rows = ctx.held_out or ctx.oof
    if rows is None:
        return section("confusion", "Confusion matrices", intro, missing(NO_ROWS))
    if not ctx.binary:
        return section("confusion", "Confusion matrix", intro, *_multiclass_confusion(ctx, rows))
    mats = [_matrix(ctx, _counts(rows, 0.5), "Default threshold 0.5")]
    if ctx.policy is not None:
        t = ctx.policy.threshold
        mats.append(_matrix(ctx, _counts(rows, t), f"Policy threshold {fmt_prob(t)}"))
    return section(
        "confusion",
        "Confusion matrices",
        intro,
        el("p", f"On the {rows.name} ({fmt_count(rows.y.shape[0])} rows)."),
        el("div", mats, class_="grid2"),
        el(
            "p",
            f"Green cells are correct decisions; red cells are errors: missed {ctx.positive} "
            f"rows (false negatives, top right) and false alarms (bottom left).",
            class_="small",
        ),
    )


def _multiclass_confusion(ctx: Context, rows: Labelled) -> list[Any]:
    labels = ctx.classes
    pred = np.asarray(labels, dtype=object)[rows.proba.argmax(axis=1)]
    cm = skm.confusion_matrix(rows.y.astype(object), pred, labels=np.asarray(labels, dtype=object))
    head = el("tr", el("td"), [el("th", f"Decided {c}", scope="col") for c in labels])
    body = [
        el(
            "tr",
            el("th", f"Actually {c}", scope="row"),
            [
                el("td", fmt_count(v), class_="good" if i == j else "bad" if v else None)
                for j, v in enumerate(cm[i])
            ],
        )
        for i, c in enumerate(labels)
    ]
    e = evaluate_multiclass(rows.y, rows.proba, classes=labels)
    per = [
        [
            str(r["label"]),
            fmt_num(r["precision"]),
            fmt_num(r["recall"]),
            fmt_num(r["f1"]),
            fmt_count(r["support"]),
            fmt_num(r["roc_auc_ovr"]),
        ]
        for r in e.per_class.to_dict("records")
    ]
    return [
        el(
            "p",
            f"Each row decided as its most probable class, on the {rows.name} ({fmt_count(rows.y.shape[0])} rows); accuracy {e.accuracy:.3f}, log-loss {e.log_loss:.3f}.",
        ),
        el("table", el("thead", head), el("tbody", body), class_="confusion"),
        table(["Class", "Precision", "Recall", "F1", "Rows", "ROC-AUC (one vs rest)"], per),
    ]
