"""Report sections about the decision rule, the data and the model's identity.

Each section function takes the :class:`~logitkit.report._context.Context` and returns
one ``<section>``; when its input is missing the section says so and how to provide it.
The other sections: :mod:`.performance` (curves, calibration), :mod:`.decisions`
(threshold curve, confusion matrices), :mod:`.explorer`, :mod:`.coefficients` and
:mod:`.fitting` (cross-validation, diagnostics).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit.decision import ThresholdPolicy
from logitkit.report._context import Context
from logitkit.report._html import (
    Html,
    el,
    fmt_count,
    fmt_num,
    fmt_pct,
    fmt_prob,
    missing,
    section,
    table,
)

__all__ = ["data_section", "details_section", "policy_caveats", "policy_section", "policy_words"]

_METRIC_NAMES = {
    "recall": "Recall (share of {pos} rows flagged)",
    "precision": "Precision (share of flagged rows that are {pos})",
    "false_positive_rate": "False-positive rate (share of {neg} rows flagged)",
    "negative_predictive_value": "Negative predictive value (share of unflagged rows that are {neg})",
    "accuracy": "Accuracy",
    "predicted_positive_rate": "Share of rows flagged",
    "expected_cost": "Expected cost per row",
}


def _chosen_on(ctx: Context) -> str:
    """Where the policy was chosen, as an adjective ("out-of-fold") or ""."""
    text = str(ctx.training.get("policy_chosen_on") or "")
    if "out-of-fold" in text or ctx.oof is not None:
        return "out-of-fold "
    return ""


def policy_words(ctx: Context) -> tuple[str, str]:
    """The policy in two sentences: what it decides, and how it was chosen.

    Returns
    -------
    tuple of str
        ``("Flag as malignant when P(malignant) >= 0.00086; otherwise benign.",
        "Chosen so that out-of-fold recall of malignant >= 0.995: ...")``.
    """
    policy = ctx.policy
    assert policy is not None  # callers check
    pos, neg = ctx.positive, ctx.negative
    decide = f"Flag as {pos} when P({pos}) ≥ {fmt_prob(policy.threshold)}; otherwise {neg}."
    on = _chosen_on(ctx)
    p = policy.params
    if policy.method == "min_recall":
        v = p["min_recall"]
        why = (
            f"Chosen so that {on}recall of {pos} ≥ {v:g}: the highest threshold that still "
            f"flags at least {fmt_pct(v)} of {pos} rows, which keeps false alarms fewest."
        )
    elif policy.method == "min_precision":
        v = p["min_precision"]
        why = (
            f"Chosen so that {on}precision for {pos} ≥ {v:g}: the lowest threshold at which "
            f"at least {fmt_pct(v)} of flagged rows are {pos}, which misses the fewest."
        )
    elif policy.method == "max_false_positive_rate":
        v = p["max_false_positive_rate"]
        why = (
            f"Chosen so that the {on}false-positive rate ≤ {v:g}: the lowest threshold that "
            f"flags at most {fmt_pct(v)} of {neg} rows."
        )
    elif policy.method == "cost":
        why = (
            f"Chosen to minimise the {on}expected cost per row, where each missed {pos} row "
            f"(false negative) costs {p['cost_fn']:g} and each false alarm (false positive) "
            f"costs {p['cost_fp']:g}"
        )
        gains = [
            f"a correct {lbl} decision gains {p[k]:g}"
            for k, lbl in (("benefit_tp", pos), ("benefit_tn", neg))
            if p.get(k, 0.0)
        ]
        why += (", and " + " and ".join(gains) if gains else "") + "."
        bayes = policy.bayes_threshold
        if bayes is not None:
            why += (
                f" With perfectly calibrated probabilities the best threshold would be "
                f"{fmt_prob(bayes)}."
            )
    else:
        why = "A fixed threshold, set by hand (not chosen from data)."
    if policy.at_confidence is not None and policy.method != "cost":
        bound = "upper" if policy.method == "max_false_positive_rate" else "lower"
        why += (
            f" The target must hold for the {fmt_pct(policy.at_confidence, 0)} {bound} "
            "confidence bound (exact, one-sided), not only for the rate seen on these rows."
        )
    return decide, why


_CAVEAT_TITLES = {
    "unverifiable_policy": "The data cannot show the target",
    "unstable_threshold": "The threshold rests on too few rows",
}
_SEVERITY_TEXT = {"error": "Error", "warning": "Warning", "info": "Info"}
_METHOD_TEXT = {
    "clopper-pearson": "exact (Clopper-Pearson)",
    "bootstrap-percentile": "bootstrap percentile",
}


def policy_caveats(ctx: Context) -> list[Html]:
    """One card per caveat of the policy (:meth:`ThresholdPolicy.caveats`), most severe first."""
    if ctx.policy is None:
        return []
    order = {"error": 0, "warning": 1, "info": 2}
    found = sorted(ctx.policy.caveats(), key=lambda c: order.get(c[1], 3))
    return [
        el(
            "div",
            el(
                "h3",
                el("span", _SEVERITY_TEXT.get(severity, severity), class_=f"badge {severity}"),
                " ",
                _CAVEAT_TITLES.get(kind, kind.replace("_", " ")),
            ),
            el("p", message),
            class_=f"finding {severity}",
            role="note",
        )
        for kind, severity, message in found
    ]


def _record_table(ctx: Context, policy: ThresholdPolicy) -> Html:
    """The metrics at the threshold: value, the counts behind it and its interval."""
    assert policy.metrics is not None  # callers check
    counts = policy.rate_counts or {}
    methods = policy.interval_method or {}
    level = fmt_pct(policy.confidence if policy.confidence is not None else 0.95, 0)
    rows = []
    for key, template in _METRIC_NAMES.items():
        value = policy.metrics.get(key)
        if value is None:
            continue
        k, n = counts.get(key, (None, None))
        ci = (policy.intervals or {}).get(key)
        ci_text = f"{fmt_num(ci[0])} to {fmt_num(ci[1])}" if ci else "n/a"
        if ci and methods.get(key) == "bootstrap-percentile":
            ci_text += " (bootstrap)"
        rows.append(
            [
                template.format(pos=ctx.positive, neg=ctx.negative),
                fmt_num(value),
                f"{fmt_count(k)} of {fmt_count(n)}" if n else "",
                ci_text,
            ]
        )
    used = sorted({methods[k] for k in methods if (policy.intervals or {}).get(k)})
    how = "; ".join(_METHOD_TEXT.get(m, m) for m in used) or "none"
    where = ctx.training.get("policy_chosen_on") or "the rows it was chosen on"
    return table(
        ["Measure", "Value", "Rows", f"{level} interval"],
        rows,
        caption=(
            f"How the rule performed on {where}. Intervals: {how}; they hold the threshold "
            "fixed, and it was chosen on these rows."
        ),
    )


def policy_section(ctx: Context) -> Html:
    """The decision rule in words, its caveats, and its record on the rows it was chosen on."""
    intro = (
        "The model gives each row a probability; the decision rule turns it into a yes/no "
        "decision by comparing it with a threshold."
    )
    if not ctx.binary:
        return section(
            "policy",
            "Decision rule",
            intro,
            missing(
                "This is a multiclass model: each row is assigned its most probable class "
                "(no threshold applies)."
            ),
        )
    if ctx.policy is None:
        return section(
            "policy",
            "Decision rule",
            intro,
            missing(
                f"No decision policy was given, so the report uses the default rule: flag as "
                f"{ctx.positive} when P({ctx.positive}) ≥ 0.5. Choose one with "
                "ThresholdPolicy.fit (or logitkit train --min-recall / --cost-fp / --cost-fn)."
            ),
        )
    policy = ctx.policy
    decide, why = policy_words(ctx)
    # describe() opens with the rule and the threshold (said above) and ends with the
    # caveats (shown as cards); the sentences between are the record in words.
    caveat_lines = {f"{s.capitalize()}: {m}" for _, s, m in policy.caveats()}
    record = [s for s in policy.describe()[2:] if s not in caveat_lines]
    body: list[Any] = [
        el("p", decide, class_="rule"),
        el("p", why),
        *policy_caveats(ctx),
        el("ul", [el("li", s) for s in record], class_="policy-record") if record else None,
    ]
    if policy.metrics is not None and policy.n_samples is not None:
        body.append(_record_table(ctx, policy))
    body.append(el("p", f"Exact threshold: {policy.threshold!r}.", class_="small"))
    return section("policy", "Decision rule", intro, *body)


def _class_counts(ctx: Context) -> dict[str, int] | None:
    counts = getattr(ctx.model, "class_counts_", None)
    if counts is not None:
        return {str(c): int(n) for c, n in zip(ctx.classes, counts, strict=True)}
    stored = ctx.training.get("class_counts")
    return {str(k): int(v) for k, v in stored.items()} if stored else None


def _balance_bar(shares: list[float]) -> Html:
    x = 0.0
    parts = []
    for i, share in enumerate(shares):
        parts.append(
            el(
                "rect",
                x=f"{x:.2f}",
                y="0",
                width=f"{100 * share:.2f}",
                height="12",
                class_=f"fill{i % 4 + 1}",
            )
        )
        x += 100 * share
    return el(
        "svg",
        parts,
        viewBox="0 0 100 12",
        class_="balance",
        preserveAspectRatio="none",
        aria_hidden="true",
    )


def data_section(ctx: Context) -> Html:
    """Rows, features and class balance of each set of rows the report uses."""
    names = [str(c) for c in ctx.classes]
    sets: list[tuple[str, dict[str, int] | None]] = [("Training rows", _class_counts(ctx))]
    for rows in (ctx.oof, ctx.held_out):
        if rows is not None:  # the labels are the model's classes (checked by gather)
            y = np.asarray(rows.y)
            by_class = {str(c): int(np.count_nonzero(y == c)) for c in ctx.classes}
            sets.append((rows.name.capitalize(), by_class))
    table_rows = []
    for label, counts in sets:
        if counts is None:
            table_rows.append([label, "n/a", *(["n/a"] * len(names)), ""])
            continue
        total = sum(counts.values())
        shares = [counts.get(c, 0) / total if total else 0.0 for c in names]
        cells = [
            f"{fmt_count(counts.get(c, 0))} ({fmt_pct(s)})"
            for c, s in zip(names, shares, strict=True)
        ]
        table_rows.append([label, fmt_count(total), *cells, _balance_bar(shares)])
    facts = []
    training = ctx.training
    if training.get("source"):
        facts.append(("Source", training["source"]))
    if training.get("target"):
        facts.append(("Target column", training["target"]))
    if training.get("test_size"):
        facts.append(
            (
                "Held out when training",
                f"{fmt_pct(training['test_size'], 0)} of rows (split seed {training.get('split_seed')})",
            )
        )
    if training.get("fingerprint"):
        facts.append(("Training-data fingerprint (SHA-256)", el("code", training["fingerprint"])))
    features = ctx.feature_names
    facts.append(("Features", f"{len(features)}"))
    legend = el(
        "p",
        "Bar colours, left to right: ",
        ", ".join(names),
        ". A strongly unbalanced target makes accuracy misleading: read recall and precision instead.",
        class_="small",
    )
    return section(
        "data",
        "Data and class balance",
        "How many rows each part of the report rests on, and how the classes are balanced.",
        table(["Rows", "Total", *names, "Balance"], table_rows),
        legend,
        el("dl", [el("div", el("dt", k), el("dd", v)) for k, v in facts], class_="facts"),
        el(
            "details",
            el("summary", f"All {len(features)} feature names"),
            el("p", ", ".join(features)),
        ),
    )


def details_section(ctx: Context) -> Html:
    """The model's settings, fit, and the artifact's identity."""
    model = ctx.model
    facts: list[tuple[str, Any]] = [("Model", el("code", repr(model)))]
    header = ctx.summary.header if ctx.summary is not None else {}
    for key, label in (
        ("penalty_text", "Penalty"),
        ("classes_text", "Classes"),
        ("converged_text", "Converged"),
        ("interval_text", "Intervals"),
    ):
        if header.get(key):
            facts.append((label, header[key]))
    stats = header.get("fit_statistics") or {}
    if stats:
        facts.append(
            ("AIC / BIC", f"{fmt_num(stats.get('aic'), 6)} / {fmt_num(stats.get('bic'), 6)}")
        )
    art = ctx.artifact or {}
    if art:
        facts += [
            ("Model version (SHA-256 of the artifact)", el("code", art.get("sha256", "n/a"))),
            ("Artifact written", art.get("created", "n/a")),
            ("Written by logitkit", art.get("logitkit_version", "n/a")),
        ]
        training = ctx.training
        if "converged" in training and not header.get("converged_text"):
            facts.append(
                (
                    "Converged",
                    f"{'yes' if training['converged'] else 'NO'} ({training.get('solver')}, {training.get('n_iter')} iterations)",
                )
            )
    return section(
        "details",
        "Model details",
        "For auditors: exactly which model this report describes.",
        el("dl", [el("div", el("dt", k), el("dd", v)) for k, v in facts], class_="facts"),
    )
