"""Does the model beat chance, and can its decision rule keep its promise?

``no_signal`` weighs two pieces of evidence: the likelihood-ratio test of the features
against the intercept-only model on the training rows, and the DeLong interval of the
out-of-fold ROC-AUC (one-vs-rest per class for more than two classes). The LR test is
the model's own (statsmodels' ``llr_pvalue``) for an unpenalised, unweighted fit with an
intercept; otherwise it is that of an unpenalised refit with an intercept on the same
rows and a full-rank subset of the varying features (a penalised likelihood has no
chi-squared reference, and the refit spans the same column space). It is skipped when
the classes are separated (the refit does not exist, and there is plainly signal), and
for more than :data:`MAX_REFIT_FEATURES` features or rows too many to copy; then the
out-of-fold interval decides alone.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from logitkit.diagnostics._findings import SEVERITIES, Finding
from logitkit.diagnostics._rows import OutOfFold, Rows
from logitkit.evaluation import AUCInterval, roc_auc_ci
from logitkit.exceptions import LogitkitError
from logitkit.model import LogisticModel

FloatArray = NDArray[np.float64]

__all__ = ["no_signal", "policy_findings"]

#: The LR test's p-value from which the features are not shown to matter.
LR_LEVEL = 0.05
#: Level of the DeLong interval of the out-of-fold ROC-AUC.
AUC_CONFIDENCE = 0.95
#: Above this many features the unpenalised refit (Newton, p x p Hessian) is skipped.
MAX_REFIT_FEATURES = 500


def _full_rank(Z: FloatArray) -> list[int]:
    """A largest set of linearly independent columns (QR with column pivoting)."""
    if Z.shape[1] == 0:
        return []
    _, R, piv = scipy.linalg.qr(Z, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int((diag > 1e-9 * max(float(diag[0]), 1e-300)).sum())
    return sorted(int(j) for j in piv[:rank])


@dataclass(frozen=True)
class _LR:
    stat: float
    df: float
    p_value: float
    how: str


def _lr_test(model: LogisticModel, d: Rows, own: tuple[Any, Any, Any] | None) -> _LR | None:
    """The LR test against the intercept-only model (see the module docstring).

    ``own`` holds the training rows as given when the model's own likelihood applies.
    """
    rows = d.rows
    if own is not None:
        X, y, sample_weight = own
        stats = model.fit_statistics(X=X, y=y, sample_weight=sample_weight)
        return _lr(stats, "")
    if d.dense is None or (~d.constant).sum() > MAX_REFIT_FEATURES:
        return None
    live = np.flatnonzero(~d.constant)
    Z = (d.dense[:, live] - d.mean[live]) / d.sd[live] * np.sqrt(rows.sw)[:, None]
    cols = [int(live[j]) for j in _full_rank(Z)]
    if not cols:
        return None
    refit = LogisticModel(penalty=None, max_iter=200, solver="newton")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            refit.fit(d.dense[:, cols], rows.codes, sample_weight=rows.sw)
        except (LogitkitError, ValueError, ArithmeticError, np.linalg.LinAlgError):
            return None
        result = getattr(refit, "solver_result_", None)
        if result is not None and not result.converged:
            return None
        stats = refit.fit_statistics(X=d.dense[:, cols], y=rows.codes, sample_weight=rows.sw)
    dropped = len(live) - len(cols)
    how = " (of an unpenalised refit on the same rows"
    how += ", without class weights" if model.class_weight is not None else ""
    how += f", leaving out {dropped} linearly dependent feature(s)" if dropped else ""
    return _lr(stats, how + ")")


def _lr(stats: dict[str, float], how: str) -> _LR | None:
    """The test from fit statistics; None where it is undefined (no Hessian, no features)."""
    p_value = stats["lr_pvalue"]
    return (
        None
        if not math.isfinite(p_value)
        else _LR(stats["lr_stat"], stats["df_model"], p_value, how)
    )


def _aucs(model: LogisticModel, oof: OutOfFold) -> list[tuple[Any, AUCInterval]]:
    """DeLong intervals of the out-of-fold ROC-AUC: of the positive class, or of each class."""
    classes = model.classes_
    K = len(classes)
    positive = getattr(model, "positive_class_", None)
    hit = np.flatnonzero(classes == positive) if positive is not None else np.array([1])
    first = int(hit[0]) if hit.size else 1
    out = []
    for k in [first] if K == 2 else range(K):
        is_k = oof.codes == k
        if is_k.all() or not is_k.any():
            continue
        ci = roc_auc_ci(is_k, oof.proba[:, k], positive=True, confidence=AUC_CONFIDENCE)
        if math.isfinite(ci.std_err):
            out.append((model.classes_[k], ci))
    return out


def _auc_text(aucs: list[tuple[Any, AUCInterval]], binary: bool) -> str:
    level = f"{100 * AUC_CONFIDENCE:g}% DeLong interval"
    if binary:
        ci = aucs[0][1]
        return (
            f"the out-of-fold ROC-AUC is {ci.auc:.3f} ({level} {ci.ci_low:.3f} to {ci.ci_high:.3f})"
        )
    each = "; ".join(f"{c!s} {ci.auc:.3f} ({ci.ci_low:.3f} to {ci.ci_high:.3f})" for c, ci in aucs)
    return f"the out-of-fold one-vs-rest ROC-AUCs ({level}s) are {each}"


def no_signal(
    model: LogisticModel,
    d: Rows,
    oof: OutOfFold | None,
    *,
    testable: bool,
    own: tuple[Any, Any, Any] | None,
    oof_auc: AUCInterval | None = None,
) -> list[Finding]:
    """A warning when the model does not beat chance (see the module docstring).

    ``testable`` is False when the LR test does not apply (separated classes); ``own``
    holds the training rows as given when the model's own likelihood is the one to test;
    ``oof_auc``, the out-of-fold ROC-AUC interval of a binary model's positive class at
    :data:`AUC_CONFIDENCE` when already computed (by :func:`logitkit.evaluate`).
    """
    lr = _lr_test(model, d, own) if testable else None
    if oof_auc is not None and d.binary:
        positive = getattr(model, "positive_class_", None)
        label = model.classes_[1] if positive is None else positive
        aucs = [(label, oof_auc)] if math.isfinite(oof_auc.std_err) else []
    else:
        aucs = _aucs(model, oof) if oof is not None else []
    zero = model.penalty is not None and not np.any(model.coef_)
    lr_weak = lr is not None and lr.p_value >= LR_LEVEL
    auc_weak = bool(aucs) and all(ci.ci_low <= 0.5 <= ci.ci_high for _, ci in aucs)
    if not (lr_weak or auc_weak or zero):
        return []
    parts = []
    if lr is not None:
        parts.append(
            f"the likelihood-ratio test against the intercept-only model{lr.how} gives "
            f"chi2 = {lr.stat:.2f} on {lr.df:.3g} df, p = {lr.p_value:.2g}"
        )
    if aucs:
        parts.append(_auc_text(aucs, d.binary))
    evidence = "; ".join(parts)
    lr_strong = lr is not None and not lr_weak
    auc_strong = bool(aucs) and not auc_weak
    if zero:
        lead = "The fitted model does not beat chance: the penalty set every coefficient to 0"
        lead += f", so it predicts the class shares for every row ({evidence})" if parts else ""
        lead += "."
        severity = "warning"
    elif lr_weak and auc_strong:
        lead = (
            f"The evidence that the model beats chance is weak: {evidence}; only the "
            "out-of-fold ROC-AUC excludes 0.5."
        )
        severity = "info"
    elif auc_weak and lr_strong:
        lead = (
            f"The model may not beat chance on rows it has not seen: {evidence}. The features "
            "fit the training rows, but the out-of-fold interval contains 0.5."
        )
        severity = "warning"
    else:
        contains = ", which contains 0.5" if aucs else ""
        lead = f"The model does not beat chance: {evidence}{contains}."
        severity = "warning"
    value = lr.p_value if lr is not None else (aucs[0][1].auc if aucs else None)
    return [
        Finding(
            "no_signal",
            severity,
            lead,
            "Do not base decisions on it: its predictions are no better than the class "
            "shares. Check that y and the positive class are the ones meant, and look for "
            "features that carry information (or transformations and interactions of these); "
            "until then, no coefficient's p-value or odds ratio is evidence of an effect.",
            value=value,
            cli_advice="Do not base decisions on it: its predictions are no better than the "
            "class shares. Check --target and --positive, and look for columns that carry "
            "information (add transformations and interactions with --formula); until then, "
            "no coefficient's p-value or odds ratio is evidence of an effect.",
        )
    ]


_POLICY_ADVICE = {
    "unverifiable_policy": (
        (
            "Do not promise the constraint's rate from these rows: refit the policy with "
            "at_confidence=LEVEL (ThresholdPolicy.fit(..., at_confidence=0.95)) so that the "
            "threshold is one the rows support, relax the target (min_recall, min_precision "
            "or max_false_positive_rate), or label more rows; a cost rule (cost_fp=..., "
            "cost_fn=...) promises no rate."
        ),
        (
            "Do not promise the constraint's rate from these rows: train with --confidence "
            "LEVEL so that the threshold is one the rows support, relax --min-recall, "
            "--min-precision or --max-fpr, or label more rows; costs (--cost-fp, --cost-fn) "
            "promise no rate."
        ),
    ),
    "unstable_threshold": (
        (
            "Treat the threshold as approximate: a looser target or costs (cost_fp=..., "
            "cost_fn=...) rest it on more rows; label more rows, and check the rule on rows "
            "the model has not seen (logitkit.evaluate(..., threshold=policy))."
        ),
        (
            "Treat the threshold as approximate: a looser --min-recall, --min-precision or "
            "--max-fpr, or costs (--cost-fp, --cost-fn), rest it on more rows; label more "
            "rows, and check the rule on held-out rows (logitkit evaluate MODEL DATA)."
        ),
    ),
}


def policy_findings(policy: Any) -> list[Finding]:
    """One finding per caveat of the decision policy (``policy.caveats()``)."""
    caveats = getattr(policy, "caveats", None)
    if policy is None or not callable(caveats):
        return []
    out = []
    for kind, severity, message in caveats():
        advice, cli = _POLICY_ADVICE.get(
            str(kind),
            (
                "Check the decision rule on rows the model has not seen before relying on it.",
                "Check the decision rule on held-out rows (logitkit evaluate MODEL DATA).",
            ),
        )
        level = str(severity) if severity in SEVERITIES else "warning"
        out.append(Finding(str(kind), level, str(message), advice, cli_advice=cli))
    return out
