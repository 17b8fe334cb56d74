"""Sections on how the model was chosen and checked: cross-validation and diagnostics."""

from __future__ import annotations

import numpy as np

from logitkit.diagnostics import Finding
from logitkit.report._context import Context
from logitkit.report._html import Html, el, figure, fmt_num, missing, section
from logitkit.report.figures import Plot

__all__ = ["cv_section", "diagnostics_section"]


def cv_section(ctx: Context) -> Html:
    """The cross-validation curve over the penalty strength C."""
    intro = (
        "The penalty strength was chosen by cross-validation: each C was fitted on part of "
        "the training rows and scored on the rest."
    )
    chosen_how = (ctx.training.get("provenance") or {}).get("C")
    if chosen_how:
        intro += f" Rows and procedure: {chosen_how}."
    cv = ctx.cv_results
    if cv is None or not {"C", "mean_score"} <= set(cv.columns) or cv.empty:
        return section(
            "cv",
            "Cross-validation",
            None,
            missing(
                "No cross-validation results were given (the penalty was not chosen by LogisticModelCV)."
            ),
        )
    cs = cv["C"].to_numpy(dtype=float)
    mean = cv["mean_score"].to_numpy(dtype=float)
    std = cv["std_score"].to_numpy(dtype=float) if "std_score" in cv else np.zeros_like(mean)
    lo, hi = float(np.nanmin(mean - std)), float(np.nanmax(mean + std))
    pad = (hi - lo) * 0.08 or 0.05
    plot = Plot(
        "Cross-validation score against C",
        "C (inverse penalty strength, log scale)",
        "Mean validation score",
        ("log", float(cs.min()) / 1.5, float(cs.max()) * 1.5),
        ("linear", lo - pad, hi + pad),
        desc="Mean cross-validated score for each C, with a band of one standard deviation.",
    )
    ratios = cv["l1_ratio"].to_numpy(dtype=float) if "l1_ratio" in cv else np.zeros_like(cs)
    for i, ratio in enumerate(np.unique(ratios)):
        sel = ratios == ratio
        order = np.argsort(cs[sel])
        x, m, s = cs[sel][order], mean[sel][order], std[sel][order]
        cls = f"s{i % 4 + 1}"
        plot.band(x, m - s, m + s, cls=cls)
        label = f"l1_ratio {ratio:g}" if len(np.unique(ratios)) > 1 else "mean ± 1 SD"
        plot.line(x, m, cls=cls, label=label)
    text = "No row is marked as selected."
    if "selected" in cv and cv["selected"].any():
        best = cv[cv["selected"].astype(bool)].iloc[0]
        plot.vline(float(best["C"]), cls="policy", label=f"chosen C = {float(best['C']):.3g}")
        text = (
            f"Chosen: C = {float(best['C']):.3g}"
            + (f", l1_ratio = {float(best['l1_ratio']):g}" if "l1_ratio" in cv else "")
            + f", mean score {fmt_num(best['mean_score'], 4)} (SD {fmt_num(best.get('std_score'), 2)})."
        )
    return section(
        "cv",
        "Cross-validation",
        intro,
        figure(
            plot.render(),
            "The line is the mean score across folds, the band one standard deviation either "
            "side; the vertical line marks the chosen C. Larger C means a weaker penalty.",
        ),
        el("p", text),
    )


_SEVERITY_TEXT = {"error": "Error", "warning": "Warning", "info": "Info"}
_CHECK_TEXT = {
    "no_signal": "No better than chance",
    "separation": "Separation of the classes",
    "convergence": "Convergence",
    "saturation": "Overconfident or saturated probabilities",
    "unverifiable_policy": "Decision rule that the rows cannot verify",
    "unstable_threshold": "Unstable decision threshold",
    "imbalance": "Class imbalance",
    "events_per_parameter": "Too few events per parameter",
    "duplicate": "Duplicated features",
    "collinearity": "Collinear features",
    "constant": "Constant features",
    "near_constant": "Nearly constant features",
    "scale": "Feature scales",
    "vif": "Correlated features (variance inflation factor)",
}


def _advice(finding: Finding) -> list[Html]:
    """What to do, in Python and, where it differs, on the command line."""
    python = el("p", el("strong", "What to do (Python): "), finding.advice)
    cli = finding.advice_for("cli")
    if cli == finding.advice:
        return [el("p", el("strong", "What to do: "), finding.advice)]
    return [python, el("p", el("strong", "From the command line: "), cli)]


def diagnostics_section(ctx: Context) -> Html:
    """The diagnostics findings, most important first, each with what to do about it."""
    intro = (
        "Automatic checks of the fit, most important first: whether the model beats "
        "chance, separation, convergence, overconfident probabilities, the decision rule, "
        "class imbalance and collinearity."
    )
    if ctx.findings is None:
        return section(
            "diagnostics",
            "Diagnostics",
            intro,
            missing(
                "Diagnostics were not run: pass findings=logitkit.diagnose(model, X_train, y_train)."
            ),
        )
    items = list(ctx.findings)
    if not items:
        return section(
            "diagnostics", "Diagnostics", intro, el("p", "No problems found.", class_="ok")
        )
    counts = {s: sum(f.severity == s for f in items) for s in _SEVERITY_TEXT}
    errors = "error" if counts["error"] == 1 else "errors"
    warnings = "warning" if counts["warning"] == 1 else "warnings"
    head = el(
        "p",
        f"{len(items)} finding{'s' if len(items) != 1 else ''}: {counts['error']} {errors}, "
        f"{counts['warning']} {warnings}, {counts['info']} for information.",
    )
    # Older artifacts hold one finding per feature (e.g. one per VIF): one card per run.
    groups: list[list[Finding]] = []
    for f in items:
        if groups and (groups[-1][0].check, groups[-1][0].advice, groups[-1][0].severity) == (
            f.check,
            f.advice,
            f.severity,
        ):
            groups[-1].append(f)
        else:
            groups.append([f])
    cards = []
    for group in groups:
        first = group[0]
        messages = [
            el(
                "li",
                el("strong", ", ".join(f.features[:3]) + ": ")
                if len(group) > 1 and f.features
                else None,
                f.message,
            )
            for f in group
        ]
        listed: Html = el("ul", messages) if len(group) > 1 else el("p", first.message)
        if len(group) > 5:
            listed = el("details", el("summary", f"{len(group)} findings"), listed)
        cards.append(
            el(
                "div",
                el(
                    "h3",
                    el(
                        "span",
                        _SEVERITY_TEXT.get(first.severity, first.severity),
                        class_=f"badge {first.severity}",
                    ),
                    " ",
                    _CHECK_TEXT.get(first.check, first.check.replace("_", " ")),
                ),
                listed,
                *_advice(first),
                class_=f"finding {first.severity}",
            )
        )
    return section("diagnostics", "Diagnostics", intro, head, *cards)
