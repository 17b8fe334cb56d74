"""Drift: a window of logged inputs against the artifact's training distributions.

Per feature (and for the predicted probability) two tests, each flagged at a threshold
taken from its sampling distribution under no drift, so the flags account for the
window size:

* **PSI** over the training quantile bins. Under no drift, with ``n`` window rows and
  ``N`` reference rows in ``B`` bins, ``PSI`` is approximately ``(1/n + 1/N)`` times a
  chi-square with ``B - 1`` degrees of freedom (B. Yurdakul, *Statistical properties of
  population stability index*, 2018). The threshold is that distribution's
  ``1 - alpha/m`` quantile (``m`` features: Bonferroni). A fixed cut-off of 0.1 / 0.25
  fires by chance on small windows (with ``n = 50`` and 10 bins the null mean is already
  0.18) and never on large ones, however real the shift; this one does neither.
* **Kolmogorov-Smirnov**, two samples: the window against the training sample stored in
  the artifact, at the same ``alpha/m``.

The predicted-positive rate is compared with the rate expected from training by a
two-proportion test. Because the model's probabilities are calibrated, the expected
confusion matrix of the window follows without labels (``E[TP]`` is the sum of the
probabilities of the rows decided positive, and so on); with feedback, the realised one
is reported beside the expected one on the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from logitkit.decision import decide
from logitkit.serve.predictor import Predictor

__all__ = ["METHOD", "drift_report", "expected_performance", "psi_test"]

FloatArray = NDArray[np.float64]

METHOD = (
    "PSI over the training quantile bins, flagged above the 1 - alpha/m quantile of its "
    "no-drift sampling distribution (1/n + 1/N) * chi2(B - 1) (Yurdakul 2018), which "
    "accounts for the window size n and the reference size N (a fixed 0.1/0.25 cut-off "
    "fires by chance on small windows and never on large ones); two-sample "
    "Kolmogorov-Smirnov against the stored training sample at alpha/m; m = number of "
    "features (Bonferroni). The predicted-positive rate: two-proportion z-test at alpha. "
    "Expected confusion matrix: sums of the calibrated probabilities."
)
_Z95 = 1.959963984540054
#: Expected rows of each decision a window needs before its rate is tested.
_MIN_EXPECTED = 5.0


def psi_test(values: FloatArray, profile: dict[str, Any], alpha: float) -> dict[str, Any]:
    """PSI of ``values`` against a reference profile, with its no-drift threshold.

    Bins with no rows get half a row on both sides (so the PSI stays finite).

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit.reference import feature_profile
    >>> ref = feature_profile(np.random.default_rng(0).normal(size=5000))
    >>> same = psi_test(np.random.default_rng(1).normal(size=500), ref, 0.05)
    >>> moved = psi_test(np.random.default_rng(1).normal(0.5, size=500), ref, 0.05)
    >>> same["flagged"], moved["flagged"]
    (False, True)
    """
    edges = np.asarray(profile["edges"], dtype=np.float64)
    shares = np.asarray(profile["shares"], dtype=np.float64)
    n, N, B = len(values), int(profile["n"]), len(shares)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=B)
    a = (counts + 0.5) / (n + 0.5 * B)
    e = (shares * N + 0.5) / (N + 0.5 * B)
    psi = float(np.sum((a - e) * np.log(a / e)))
    scale = 1.0 / n + 1.0 / N
    if B < 2:
        return {"statistic": psi, "p_value": 1.0, "threshold": 0.0, "flagged": False}
    threshold = float(scale * stats.chi2.isf(alpha, B - 1))
    p_value = float(stats.chi2.sf(psi / scale, B - 1))
    return {
        "statistic": psi,
        "p_value": p_value,
        "threshold": threshold,
        "flagged": psi > threshold,
    }


def _ks_test(values: FloatArray, profile: dict[str, Any], alpha: float) -> dict[str, Any]:
    sample = np.asarray(profile["sample"], dtype=np.float64)
    result = stats.ks_2samp(values, sample)
    statistic, p_value = float(result.statistic), float(result.pvalue)
    n, m = len(values), len(sample)
    # The asymptotic critical distance at this alpha (for reading; the flag uses p_value).
    threshold = float(
        math.sqrt(-math.log(max(alpha, 1e-300) / 2) / 2) * math.sqrt((n + m) / (n * m))
    )
    return {
        "statistic": statistic,
        "p_value": p_value,
        "threshold": threshold,
        "flagged": p_value < alpha,
    }


def _feature(
    name: str, values: FloatArray, profile: dict[str, Any], alpha: float
) -> dict[str, Any]:
    psi = psi_test(values, profile, alpha)
    ks = _ks_test(values, profile, alpha)
    return {
        "feature": name,
        "n": len(values),
        "mean": float(values.mean()),
        "reference_mean": float(profile["mean"]),
        "psi": psi,
        "ks": ks,
        "flagged": bool(psi["flagged"] or ks["flagged"]),
    }


def _interval(value: float, se: float) -> list[float]:
    return [max(0.0, value - _Z95 * se), min(1.0, value + _Z95 * se)]


def expected_performance(p: FloatArray, flagged: NDArray[np.bool_]) -> dict[str, Any]:
    """The expected confusion matrix from calibrated probabilities ``p`` of the positive class.

    ``E[TP] = sum(p)`` over rows decided positive, ``E[FP] = sum(1 - p)`` over them, and so
    on; intervals treat the outcomes as independent Bernoulli(p) draws.

    Examples
    --------
    >>> import numpy as np
    >>> perf = expected_performance(np.array([0.9, 0.6, 0.2]), np.array([True, True, False]))
    >>> round(perf["tp"], 6), round(perf["precision"], 6)
    (1.5, 0.75)
    """
    q = 1.0 - p
    tp, fp = float(p[flagged].sum()), float(q[flagged].sum())
    fn, tn = float(p[~flagged].sum()), float(q[~flagged].sum())
    var = p * q
    var_tp, var_fn = float(var[flagged].sum()), float(var[~flagged].sum())
    n_flagged = int(flagged.sum())
    precision = tp / n_flagged if n_flagged else None
    recall = tp / (tp + fn) if tp + fn > 0 else None
    out: dict[str, Any] = {
        "n": len(p),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "precision_ci": None,
        "recall_ci": None,
    }
    if precision is not None:
        out["precision_ci"] = _interval(precision, math.sqrt(var_tp) / n_flagged)
    if recall is not None:
        se = math.sqrt(fn**2 * var_tp + tp**2 * var_fn) / (tp + fn) ** 2
        out["recall_ci"] = _interval(recall, se)
    return out


def _realised(truth: NDArray[np.bool_], flagged: NDArray[np.bool_]) -> dict[str, Any]:
    tp = int((truth & flagged).sum())
    fp = int((~truth & flagged).sum())
    fn = int((truth & ~flagged).sum())
    tn = int((~truth & ~flagged).sum())
    return {
        "n": len(truth),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "precision_ci": None,
        "recall_ci": None,
    }


def _wilson(p: float, n: float) -> tuple[float, float]:
    """Wilson score interval (95%) of a proportion ``p`` of ``n``."""
    centre = (p + _Z95**2 / (2 * n)) / (1 + _Z95**2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + _Z95**2 / (4 * n * n)) / (1 + _Z95**2 / n)
    return centre - half, centre + half


def rows_needed_for_rate(expected: float) -> int:
    """Window rows for the rate test's normal approximation: 5 expected rows of each kind.

    Examples
    --------
    >>> rows_needed_for_rate(0.46)
    11
    """
    smaller = min(expected, 1.0 - expected)
    return math.ceil(_MIN_EXPECTED / smaller) if smaller > 0 else 0


def _rate_shift(
    flagged: NDArray[np.bool_], expected: float, n_ref: int, alpha: float
) -> dict[str, Any]:
    """The window's predicted-positive rate against training's (two-proportion test).

    The interval of the difference is Newcombe's hybrid score interval (from two Wilson
    intervals), which stays honest for small windows and rates near 0 or 1; a window with
    fewer than 5 expected rows of either decision gets no test at all, only how many rows
    it would need.
    """
    n = len(flagged)
    observed = float(flagged.mean())
    diff = observed - expected
    needed = rows_needed_for_rate(expected)
    out: dict[str, Any] = {
        "n": n,
        "observed": observed,
        "expected": expected,
        "reference_n": n_ref,
        "difference": diff,
        "rows_needed": needed,
        "ci_low": None,
        "ci_high": None,
        "p_value": None,
        "flagged": False,
    }
    if n < needed:
        return out
    pooled = (observed * n + expected * n_ref) / (n + n_ref)
    se0 = math.sqrt(max(pooled * (1 - pooled), 1e-300) * (1 / n + 1 / n_ref))
    p_value = min(float(2 * stats.norm.sf(abs(diff) / se0)) if se0 > 0 else 1.0, 1.0)
    (l1, u1), (l2, u2) = _wilson(observed, n), _wilson(expected, n_ref)
    out.update(
        ci_low=diff - math.hypot(observed - l1, u2 - expected),
        ci_high=diff + math.hypot(u1 - observed, expected - l2),
        p_value=p_value,
        flagged=p_value < alpha,
    )
    return out


def _iso(value: Any) -> str | None:
    return (
        None if value is None else str(value.isoformat() if hasattr(value, "isoformat") else value)
    )


def drift_report(
    model: Predictor, rows: Sequence[dict[str, Any]], *, window: int, alpha: float = 0.05
) -> dict[str, Any]:
    """Compare logged rows (newest first, as ``PredictionLog.window`` returns them) with training.

    Returns
    -------
    dict
        The :class:`~logitkit.serve.schemas.DriftReport` fields.
    """
    rows = list(reversed(rows))
    notes: list[str] = []
    report: dict[str, Any] = {
        "model_version": model.version,
        "n": len(rows),
        "window": window,
        "first": _iso(rows[0]["created"]) if rows else None,
        "last": _iso(rows[-1]["created"]) if rows else None,
        "alpha": alpha,
        "method": METHOD,
        "features": [],
        "score": None,
        "positive_rate": None,
        "expected": None,
        "labelled": None,
        "flagged": [],
        "notes": notes,
    }
    if len(rows) < 2:
        notes.append("Fewer than 2 logged predictions of this model version: nothing to compare.")
        return report
    reference = model.artifact.get("reference") or {}
    profiles = reference.get("features") or {}
    X = model.inputs.from_logged([r["inputs"] for r in rows])
    compared = [(j, name) for j, name in enumerate(model.columns) if name in profiles]
    if not profiles:
        notes.append("The artifact holds no reference distributions; retrain with logitkit train.")
    per_test = alpha / max(len(compared), 1)
    for j, name in compared:
        report["features"].append(_feature(name, X[:, j], profiles[name], per_test))
    probability = np.array([r["probability"] for r in rows], dtype=np.float64)
    if model.binary and reference.get("score"):
        report["score"] = _feature("score", probability, reference["score"], alpha)
    rule = model.rule
    if model.binary and rule.kind == "threshold":
        flagged = np.array([r["decision"] == str(rule.positive) for r in rows])
        metrics = (rule.policy or {}).get("metrics") or {}
        fitted = (rule.policy or {}).get("fitted_on") or {}
        if metrics.get("predicted_positive_rate") is not None and fitted.get("n_samples"):
            expected, n_ref = float(metrics["predicted_positive_rate"]), int(fitted["n_samples"])
            report["positive_rate"] = _rate_shift(flagged, expected, n_ref, alpha)
        elif reference.get("score") and rule.threshold is not None:
            sample = np.asarray(reference["score"]["sample"], dtype=np.float64)
            expected = float(decide(sample, rule.threshold).mean())
            report["positive_rate"] = _rate_shift(flagged, expected, len(sample), alpha)
        report["expected"] = expected_performance(probability, flagged)
        labelled = np.array([r["truth"] is not None for r in rows])
        if labelled.any():
            truth = np.array([r["truth"] == str(rule.positive) for r in rows])[labelled]
            report["labelled"] = {
                "n": int(labelled.sum()),
                "realised": _realised(truth, flagged[labelled]),
                "expected": expected_performance(probability[labelled], flagged[labelled]),
            }
    else:
        notes.append("Expected and realised confusion matrices need a binary threshold policy.")
    report["flagged"] = [f["feature"] for f in report["features"] if f["flagged"]]
    if report["score"] is not None and report["score"]["flagged"]:
        report["flagged"].append("score")
    if report["positive_rate"] is not None and report["positive_rate"]["flagged"]:
        report["flagged"].append("positive_rate")
    return report
