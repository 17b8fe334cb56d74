"""The coefficients section: odds ratios with intervals as a forest plot, and the table.

Numbers come from the model's :class:`~logitkit.inference.Summary` (its own, the one
stored in the artifact, or the one passed in); without one, from the fitted
coefficients (point estimates only). Multiclass models get one block per class against
the reference class, as ``summary()`` reports them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from logitkit.report._context import Context
from logitkit.report._html import Html, el, figure, fmt_num, fmt_p, missing, section, table
from logitkit.report.figures import ForestRow, forest_plot

__all__ = ["MAX_FOREST_ROWS", "coefficients_section"]

#: Most terms drawn in a forest plot (all are listed in the table).
MAX_FOREST_ROWS = 30


def _coef_frame(ctx: Context) -> tuple[pd.DataFrame, bool]:
    """Coefficient table with odds ratios; True when it has intervals."""
    model = ctx.model
    if ctx.summary is not None:
        frame = ctx.summary.table
    else:
        P = np.column_stack([model.intercept_, model.coef_])
        std = np.column_stack([np.full(P.shape[0], math.nan), model.coef_standardized_])
        if P.shape[0] > 1:  # contrasts against the reference class, as summary() reports
            P, std = P[1:] - P[0], std[1:] - std[0]
        elif ctx.positive == ctx.classes[0]:  # log-odds of the positive class, as summary()
            P, std = -P, -std
        terms = ["intercept", *ctx.feature_names]
        labels = [None] if P.shape[0] == 1 else ctx.classes[1:]
        rows = []
        for k, label in enumerate(labels):
            for j, term in enumerate(terms):
                rows.append({"class": label, "term": term, "coef": P[k, j], "coef_std": std[k, j]})
        frame = pd.DataFrame(rows)
        frame = frame.set_index("term") if P.shape[0] == 1 else frame.set_index(["class", "term"])
        for col in ("std_err", "p_value", "ci_low", "ci_high"):
            frame[col] = math.nan
        frame["odds_ratio"] = np.exp(frame["coef"])
    has_ci = bool(frame["ci_low"].notna().any()) if "ci_low" in frame else False
    return frame, has_ci


def _or_ci(row: pd.Series, scale: float) -> tuple[float | None, float | None]:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None, None
    return math.exp(lo * scale), math.exp(hi * scale)


def _coef_block(ctx: Context, frame: pd.DataFrame, heading: str | None) -> list[Any]:
    model = ctx.model
    terms = [t for t in frame.index if t != "intercept"]
    index = {name: j for j, name in enumerate(ctx.feature_names)}
    per_sd = bool(model.standardize)
    unit = "per standard deviation" if per_sd else "per unit"
    forest: list[tuple[float, ForestRow]] = []
    rows = []
    for term in frame.index:
        r = frame.loc[term]
        coef = float(r["coef"])
        scale = float(model.feature_scale_[index[term]]) if term in index and per_sd else 1.0
        lo, hi = _or_ci(r, 1.0)
        slo, shi = _or_ci(r, scale)
        feature = term != "intercept"
        or_sd = math.exp(coef * scale) if feature and abs(coef * scale) < 700 else None
        rows.append(
            [
                term,
                fmt_num(or_sd, 4) if feature else "",
                f"{fmt_num(slo)} to {fmt_num(shi)}" if feature and slo is not None else "",
                fmt_num(coef, 4),
                fmt_num(r.get("std_err"), 3),
                fmt_num(math.exp(coef) if abs(coef) < 700 else math.inf, 4),
                f"{fmt_num(lo)} to {fmt_num(hi)}" if lo is not None else "",
                fmt_p(r.get("p_value")) if math.isfinite(r.get("p_value", math.nan)) else "",
            ]
        )
        if or_sd is not None and math.isfinite(coef * scale) and abs(coef * scale) < 50:
            forest.append((abs(coef * scale), ForestRow(str(term), or_sd, slo, shi)))
    headers = [
        "Term",
        f"Odds ratio {unit}",
        "Interval",
        "Coefficient (log-odds per unit)",
        "Std. error",
        "Odds ratio per unit",
        "Interval",
        "p-value",
    ]
    keep = [i for i in range(len(headers)) if any(row[i] not in ("", "n/a") for row in rows)]
    if not per_sd:
        keep = [i for i in keep if i not in (1, 2)]
    forest.sort(key=lambda item: -item[0])
    shown = [row for _, row in forest[:MAX_FOREST_ROWS]]
    out: list[Any] = [el("h3", heading) if heading else None]
    if shown:
        more = (
            f" The {len(shown)} largest of {len(terms)} effects are drawn; the table lists all."
            if len(terms) > len(shown)
            else ""
        )
        target = ctx.positive if ctx.binary else heading
        out.append(
            figure(
                forest_plot(
                    shown,
                    title=f"Odds ratios {unit}" + (f" ({heading})" if heading else ""),
                    x_label=f"Odds ratio {unit} of the feature (log scale)",
                    desc=f"Forest plot of odds ratios {unit}, largest effect first.",
                ),
                f"Each dot is the odds ratio {unit} of a feature, holding the others fixed; "
                "whiskers are the confidence interval where one exists. Right of the dashed "
                f"line (1), higher values of the feature raise the odds of {target}; left of it "
                f"they lower them.{more}",
            )
        )
    out.append(table([headers[i] for i in keep], [[row[i] for i in keep] for row in rows]))
    return out


def coefficients_section(ctx: Context) -> Html:
    """Coefficients and odds ratios with intervals: a forest plot and the full table."""
    frame, has_ci = _coef_frame(ctx)
    intro = (
        "How each feature moves the odds of the outcome. An odds ratio of 2 doubles the odds; "
        "0.5 halves them. Per-standard-deviation odds ratios compare features measured in "
        "different units."
    )
    body: list[Any] = []
    if isinstance(frame.index, pd.MultiIndex):
        body.append(
            el(
                "p",
                f"Multiclass model: each class is compared with the reference class {ctx.classes[0]}.",
            )
        )
        for label in ctx.classes[1:]:
            block = pd.DataFrame(frame.xs(label, level="class"))
            body += _coef_block(ctx, block, f"{label} vs {ctx.classes[0]}")
    else:
        body += _coef_block(ctx, frame, None)
    if not has_ci:
        body.append(
            missing(
                "No standard errors or intervals are shown: "
                + (
                    ctx.summary_problem
                    if ctx.summary is None and ctx.summary_problem
                    else "see the notes below."
                )
            )
        )
    notes = ctx.summary.notes if ctx.summary is not None else []
    if notes:
        body.append(el("ul", [el("li", n) for n in notes], class_="notes"))
    return section("coefficients", "Coefficients and odds ratios", intro, *body)
