"""Assemble the report: sections into the page template, with its style, script and data.

The page is one self-contained file: style, script and data are inline, the plots are
inline SVG, and a Content-Security-Policy allows no network access at all and only the
report's own script (by its SHA-256), so the page works offline and an injected handler
could not run even if a string escaped escaping.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Any

import pandas as pd

from logitkit import __version__
from logitkit.decision import ThresholdPolicy
from logitkit.diagnostics import Findings
from logitkit.evaluation import BinaryEvaluation
from logitkit.inference import Summary
from logitkit.model import LogisticModel
from logitkit.report import coefficients, decisions, fitting, performance, sections
from logitkit.report._context import Context, gather
from logitkit.report._html import Html, el, esc, fmt_count, fmt_num, json_for_script, missing
from logitkit.report.explorer import explorer_data, explorer_section

__all__ = ["build_report"]

_TOC = (
    ("provenance", "Where each number comes from"),
    ("policy", "Decision rule"),
    ("data", "Data"),
    ("discrimination", "Discrimination"),
    ("calibration", "Calibration"),
    ("threshold", "Threshold"),
    ("confusion", "Confusion matrices"),
    ("explorer", "Threshold explorer"),
    ("coefficients", "Coefficients"),
    ("cv", "Cross-validation"),
    ("diagnostics", "Diagnostics"),
    ("details", "Model details"),
)


def _asset(name: str) -> str:
    return (resources.files("logitkit.report") / name).read_text(encoding="utf-8")


def _cards(ctx: Context) -> Html:
    """Headline numbers on the evaluation rows."""
    cards: list[tuple[str, str]] = []
    rows = ctx.held_out or ctx.oof
    assessed = (ctx.training.get("performance") or {}).get("cross_validated") or {}
    if ctx.held_out is None and assessed.get("decisions") and ctx.binary:
        # The honest headline: each row decided by a procedure that never saw it.
        decided = assessed["decisions"]
        recall, fpr = decided["recall"]["count"], decided["false_positive_rate"]["count"]
        auc = (assessed.get("metrics") or {}).get("roc_auc") or {}
        where = (
            "out of fold on hash folds, C and threshold chosen on the same rows"
            if ctx.training.get("fold_scheme") == "hash"
            else "cross-validation of the whole procedure"
        )
        return _card_row(
            [
                (fmt_num(auc.get("auc")), f"ROC-AUC, {where}"),
                (f"{recall[0]} of {recall[1]}", f"{ctx.positive} rows flagged ({where})"),
                (f"{fpr[0]} of {fpr[1]}", f"{ctx.negative} rows flagged by mistake ({where})"),
                (fmt_num((assessed.get("metrics") or {}).get("brier_score")), "Brier score"),
            ]
        )
    if rows is not None and rows.evaluation is not None:
        e = rows.evaluation
        cards.append((f"{e.roc_auc.auc:.3f}", f"ROC-AUC on the {rows.name}"))
        if ctx.policy is not None:
            c = performance.counts_at(rows, ctx.policy.threshold)
            cards += [
                (
                    f"{c['tp']} of {c['tp'] + c['fn']}",
                    f"{ctx.positive} rows flagged by the policy ({rows.name})",
                ),
                (
                    f"{c['fp']} of {c['fp'] + c['tn']}",
                    f"{ctx.negative} rows flagged by mistake ({rows.name})",
                ),
            ]
        cards.append((fmt_num(e.brier_score), "Brier score (0 is perfect)"))
    return _card_row(cards)


def _card_row(cards: list[tuple[str, str]]) -> Html:
    if not cards:
        return Html("")
    return el(
        "div",
        [
            el(
                "div",
                el("div", value, class_="value"),
                el("div", label, class_="label"),
                class_="card",
            )
            for value, label in cards
        ],
        class_="summary-cards",
    )


def _header(ctx: Context) -> Html:
    model = ctx.model
    facts = [f"{type(model).__name__}: {'binary' if ctx.binary else 'multiclass'}"]
    facts.append("classes " + ", ".join(str(c) for c in ctx.classes))
    if ctx.binary:
        facts.append(f"positive class {ctx.positive}")
    facts.append(f"{fmt_count(len(ctx.feature_names))} features")
    version = (ctx.artifact or {}).get("sha256")
    lines = [el("p", " · ".join(facts))]
    if version:
        lines.append(
            el("p", "Model version ", el("code", str(version)[:16]), " (SHA-256 of the model file)")
        )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(el("p", f"Generated {when} by logitkit {__version__}."))
    return el("header", el("h1", ctx.title), *lines, class_="top")


def _overview(ctx: Context) -> Html:
    words: list[Any] = [el("h2", "Summary", id="overview-h")]
    if ctx.binary and ctx.policy is not None:
        decide, _ = sections.policy_words(ctx)
        words.append(el("p", decide, class_="rule"))
        caveats = ctx.policy.caveats()
        if caveats:  # what the data cannot show leads, before any number
            words.append(
                el(
                    "p",
                    el("strong", f"{len(caveats)} warning(s) on this rule: "),
                    " ".join(message.split(":")[0] + "." for _, _, message in caveats),
                    " ",
                    el("a", "See the decision rule.", href="#policy"),
                )
            )
    missing = []
    if ctx.held_out is None:
        missing.append(
            "rows the model never saw (curves and matrices use out-of-fold rows, or are left out)"
        )
    if ctx.findings is None:
        missing.append("diagnostics")
    if ctx.cv_results is None and ctx.training.get("cross_validation", "absent") is not None:
        missing.append("cross-validation results")
    note = (
        el("p", "Not given to this report: " + "; ".join(missing) + ".", class_="small")
        if missing
        else None
    )
    return el("section", *words, _cards(ctx), note, id="overview", aria_labelledby="overview-h")


_PROVENANCE_NAMES = {
    "model": "The model",
    "C": "The penalty strength",
    "coefficients": "Coefficients and odds ratios",
    "policy": "The decision threshold, chosen on",
    "performance": "Performance",
    "held_out": "Held-out rows",
    "diagnostics": "Diagnostics",
    "reference": "Drift reference",
    "row_fingerprint": "Training-row fingerprint",
}


def _metric_words(record: dict[str, Any]) -> str:
    metrics = record.get("metrics") or {}
    auc = metrics.get("roc_auc")
    parts = []
    if isinstance(auc, dict):
        parts.append(
            f"ROC-AUC {fmt_num(auc.get('auc'))} (95% CI {fmt_num(auc.get('ci_low'))} to "
            f"{fmt_num(auc.get('ci_high'))})"
        )
    for key, name in (("log_loss", "log-loss"), ("brier_score", "Brier")):
        if metrics.get(key) is not None:
            parts.append(f"{name} {fmt_num(metrics[key])}")
    decisions = record.get("decisions") or {}
    for key, name in (("recall", "recall"), ("false_positive_rate", "false-positive rate")):
        entry = decisions.get(key)
        if entry and entry.get("value") is not None:
            k, n = entry["count"]
            parts.append(
                f"{name} {fmt_num(entry['value'])} ({k} of {n}; 95% CI "
                f"{fmt_num(entry['ci_low'])} to {fmt_num(entry['ci_high'])})"
            )
    return "; ".join(parts) if parts else record.get("problem", "no metrics")


def _provenance_section(ctx: Context) -> Html:
    """Each reported number with the rows and the procedure behind it."""
    recorded = ctx.training.get("provenance") or {}
    items = [
        el("li", el("strong", _PROVENANCE_NAMES.get(key, key) + ": "), str(text))
        for key, text in recorded.items()
        if text
    ]
    performance_record = ctx.training.get("performance") or {}
    evaluated = []
    for key, label in (("cross_validated", "Cross-validated"), ("held_out", "Held-out")):
        record = performance_record.get(key)
        if record:
            evaluated.append(
                el(
                    "li",
                    el("strong", f"{label}: "),
                    f"{record.get('procedure', '')} — {record.get('rows', '')}: ",
                    _metric_words(record),
                )
            )
    if ctx.held_out is not None:
        evaluated.append(el("li", el("strong", "Rows given to this report: "), ctx.held_out.name))
    if not items and not evaluated:
        body: list[Any] = [
            missing(
                "This model file records no provenance (it was not trained by logitkit.train "
                "or `logitkit train`): the numbers below say only which rows they were given."
            )
        ]
    else:
        body = [el("ul", items), el("ul", evaluated) if evaluated else None]
    return el(
        "section",
        el("h2", "Where each number comes from", id="provenance-h"),
        *body,
        id="provenance",
        aria_labelledby="provenance-h",
    )


def build_report(
    model: LogisticModel,
    *,
    X: Any = None,
    y: Any = None,
    policy: ThresholdPolicy | None = None,
    oof: tuple[Any, Any] | None = None,
    cv_results: pd.DataFrame | None = None,
    findings: Findings | None = None,
    summary: Summary | None = None,
    title: str | None = None,
    training: dict[str, Any] | None = None,
    rows_label: str = "held-out rows",
    oof_evaluation: BinaryEvaluation | None = None,
) -> str:
    """Build the HTML report of a fitted model: one self-contained, offline page.

    Sections: the decision rule in words; data and class balance; ROC and
    precision-recall curves; a reliability plot with Brier score, calibration error and
    Hosmer-Lemeshow; expected cost (or error rates) against the threshold with the
    policy marked; confusion matrices at 0.5 and at the policy; an interactive threshold
    explorer; coefficients and odds ratios as a forest plot and a table; the
    cross-validation curve; the diagnostics findings; the model's identity. Each section
    shows what it was given and says what is missing. Multiclass models get the
    sections that apply (per-class coefficients, one-vs-rest ROC, argmax confusion).

    Parameters
    ----------
    model : LogisticModel
        A fitted model, or one read by :func:`logitkit.load` (its artifact's policy,
        training metadata and version are then used).
    X, y : array-like, optional
        Held-out labelled rows in the model's input form, to evaluate on.
    policy : ThresholdPolicy, optional
        The decision rule; default: the policy stored in the loaded artifact, if any.
    oof : tuple (y_train, proba), optional
        Out-of-fold labels and probabilities of the positive class (or the full
        probability matrix) that the policy was chosen on: used for the cost curve, and
        for curves, matrices and the explorer when ``X`` and ``y`` are not given.
    cv_results : pandas.DataFrame, optional
        ``LogisticModelCV.cv_results_`` (columns ``C``, ``mean_score``, ``std_score``).
    findings : Findings, optional
        :func:`logitkit.diagnose` output.
    summary : Summary, optional
        The coefficient table; default ``model.summary()`` when it needs no data.
    title : str, optional
        The page title.
    training : dict, optional
        The training record (an artifact's ``training`` section, as
        :meth:`logitkit.workflow.TrainingResult.artifact_training` makes it): its
        provenance and performance are shown; default: the loaded artifact's.
    rows_label : str, default="held-out rows"
        What the rows ``X``, ``y`` are, in words (e.g. "training rows (optimistic)").
    oof_evaluation : BinaryEvaluation, optional
        :func:`logitkit.evaluate` of the ``oof`` rows (their probabilities of the
        positive class), when already computed (a trained run's): shown as it is
        instead of sorting every row again.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    DataError
        When ``y`` (or the labels in ``oof``) hold labels the model does not know, or
        the probabilities do not match the labels.
    ValueError
        When the model is not fitted, or only one of ``X`` and ``y`` is given.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from logitkit import LogisticModel
    >>> from logitkit.report import build_report
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = LogisticModel().fit(X[:400], y[:400])
    >>> page = build_report(model, X=X[400:], y=y[400:], title="Demo")
    >>> page.startswith("<!DOCTYPE html>"), "Threshold explorer" in page
    (True, True)
    """
    ctx = gather(
        model,
        X=X,
        y=y,
        policy=policy,
        oof=oof,
        cv_results=cv_results,
        findings=findings,
        summary=summary,
        title=title,
        training=training,
        rows_label=rows_label,
        oof_evaluation=oof_evaluation,
    )
    data, reason = explorer_data(ctx)
    parts = [
        _overview(ctx),
        _provenance_section(ctx),
        sections.policy_section(ctx),
        sections.data_section(ctx),
        performance.discrimination_section(ctx),
        performance.calibration_section(ctx),
        decisions.threshold_section(ctx),
        decisions.confusion_section(ctx),
        explorer_section(data, reason),
        coefficients.coefficients_section(ctx),
        fitting.cv_section(ctx),
        fitting.diagnostics_section(ctx),
        sections.details_section(ctx),
    ]
    toc = el(
        "nav",
        [el("a", label, href=f"#{anchor}") for anchor, label in _TOC],
        class_="toc",
        aria_label="Contents",
    )
    body = Html(_header(ctx) + toc + el("main", parts))
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    return Template(_asset("template.html")).substitute(
        title=esc(ctx.title),
        csp=esc(csp),
        version=esc(__version__),
        style=_asset("report.css"),
        body=body,
        data=json_for_script(data),
        script=script,
    )
