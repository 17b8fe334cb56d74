"""Decisions from probabilities: thresholds, risk bands and multiclass cost rules.

Everything here works on labels and probabilities only (never on a model), so a
decision rule can be chosen, audited and re-chosen from any labelled predictions. The
probabilities should be out-of-fold (cross-validated) predictions on the training data:
choosing a threshold on a test set leaks that test set into the decision.

Decision rule: predict the positive label when ``proba >= threshold``.

How a threshold is chosen. The distinct scores ``s_1 > s_2 > ... > s_m`` split the
thresholds into operating points: every ``t`` in ``(s_{k+1}, s_k]`` flags exactly the
rows scored ``>= s_k``. A rule (a cost, or a constraint) picks the operating point; the
threshold reported for it is the **midpoint** ``(s_k + s_{k+1}) / 2`` (``s_m / 2`` for the
point that flags every row, ``(s_1 + 1) / 2`` for the one that flags none), so that a
new row scored a little either side of a training score is treated like its neighbours.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from logitkit.exceptions import ArtifactError, ConstraintError, DataError

__all__ = ["POLICY_METRICS", "Label", "MulticlassPolicy", "RiskBands", "ThresholdPolicy"]

Label = str | int | float | bool
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Metrics reported at a threshold, in this order (the vocabulary of ``policy.metrics``).
POLICY_METRICS = (
    "precision",
    "recall",
    "false_positive_rate",
    "negative_predictive_value",
    "accuracy",
    "predicted_positive_rate",
    "expected_cost",
)
_CONSTRAINTS = ("min_recall", "min_precision", "max_false_positive_rate")
_COSTS = ("cost_fp", "cost_fn", "benefit_tp", "benefit_tn")
_FORMAT_VERSION = 1


# ----------------------------------------------------------------------------- checks
def _plain_label(value: Any, name: str, where: str) -> Label:
    """Return ``value`` as a JSON-friendly Python scalar (keeping str/int/float/bool)."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        msg = f"The {name!r} parameter of {where} must be a str, int, float or bool. Got {value!r} instead."
        raise TypeError(msg)
    return value


def _check_real(
    value: Any, name: str, where: str, low: float, high: float, closed: str = "both"
) -> float:
    """Validate a real parameter in an interval; ``closed`` is both, left, right or neither."""
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    if ok:
        v = float(value)
        ok = (v >= low if left == "[" else v > low) and (v <= high if right == "]" else v < high)
    if not ok:
        interval = f"{left}{low:g}, {high:g}{right}"
        msg = f"The {name!r} parameter of {where} must be a float in {interval}. Got {value!r} instead."
        raise ValueError(msg)
    return float(value)


def _check_int(value: Any, name: str, where: str, low: int) -> int:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
        msg = f"The {name!r} parameter of {where} must be an int in [{low}, inf). Got {value!r} instead."
        raise ValueError(msg)
    return int(value)


def _check_proba(proba: ArrayLike, where: str, name: str = "proba") -> FloatArray:
    """Return ``proba`` as a 1-D float array of probabilities, or raise DataError."""
    try:
        p = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{name} passed to {where} must be numeric probabilities: {exc}."
        raise DataError(msg, column=name) from exc
    if p.ndim != 1:
        msg = (
            f"{name} passed to {where} must be 1-D (the probability of the positive label); "
            f"got shape {p.shape}. For predict_proba output pass the positive column."
        )
        raise DataError(msg, column=name)
    for bad, what in ((np.isnan(p), "NaN"), ((p < 0) | (p > 1), "outside [0, 1]")):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"{name} passed to {where} has {int(bad.sum())} values {what} "
                f"(first at row {row}: {p[row]!r}); pass probabilities, not scores or logits."
            )
            raise DataError(msg, column=name, row=row, count=int(bad.sum()))
    return p


class _Binary(NamedTuple):
    y: BoolArray  # True where the label is the positive one
    p: FloatArray
    positive: Label
    negative: Label


def _check_binary(y_true: ArrayLike, proba: ArrayLike, positive: Any, where: str) -> _Binary:
    """Validate a binary target against probabilities of its ``positive`` label."""
    positive = _plain_label(positive, "positive", where)
    y = np.asarray(y_true)
    if y.ndim != 1:
        msg = f"y_true passed to {where} must be 1-D; got shape {y.shape}."
        raise DataError(msg, column="y_true")
    p = _check_proba(proba, where)
    if y.shape[0] != p.shape[0]:
        msg = f"y_true and proba passed to {where} differ in length: {y.shape[0]} and {p.shape[0]}."
        raise DataError(msg, column="proba")
    missing = np.asarray(pd.isna(y))
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        msg = f"y_true passed to {where} has {int(missing.sum())} missing labels (first at row {row}); drop them first."
        raise DataError(msg, column="y_true", row=row, count=int(missing.sum()))
    labels = [_plain_label(v, "y_true", where) for v in pd.unique(y)]
    matches = [v for v in labels if v == positive]
    if not matches:
        shown = ", ".join(repr(v) for v in labels[:10])
        msg = f"The positive label {positive!r} does not occur in y_true passed to {where} (labels: {shown})."
        raise DataError(msg, column="y_true")
    others = [v for v in labels if v != positive]
    if len(others) != 1:
        what = "no negative rows" if not others else f"{len(labels)} distinct labels"
        msg = (
            f"y_true passed to {where} has {what}; a binary decision needs the positive "
            f"label {positive!r} and exactly one other (use MulticlassPolicy for more)."
        )
        raise DataError(msg, column="y_true")
    return _Binary(np.asarray(y == matches[0], dtype=bool), p, positive, others[0])


def _check_proba_matrix(proba: ArrayLike, n_classes: int, where: str) -> FloatArray:
    """Return ``proba`` as an ``(n, n_classes)`` array whose rows are distributions."""
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != n_classes:
        msg = f"proba passed to {where} must have shape (n_samples, {n_classes}); got {P.shape}."
        raise DataError(msg, column="proba")
    _check_proba(P.ravel(), where)
    bad = np.abs(P.sum(axis=1) - 1.0) > 1e-6
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = f"Rows of proba passed to {where} must sum to 1; {int(bad.sum())} do not (first: row {row})."
        raise DataError(msg, column="proba", row=row, count=int(bad.sum()))
    return P


# --------------------------------------------------------------------------- numerics
class _Curve(NamedTuple):
    """All operating points; index 0 flags no row, index k the rows scored >= s_k."""

    tp: NDArray[np.int64]
    fp: NDArray[np.int64]
    threshold: FloatArray  # the midpoint threshold of each point; NaN if unreachable
    n_pos: int
    n_neg: int


def _curve(y: BoolArray, p: FloatArray) -> _Curve:
    order = np.argsort(p, kind="stable")[::-1]
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(ps[1:] != ps[:-1]), ps.size - 1]
    tp = np.r_[0, np.cumsum(ys, dtype=np.int64)[last]]
    fp = np.r_[0, last + 1 - tp[1:]]
    upper = ps[last]
    lower = np.r_[upper[1:], 0.0]
    mid = (upper + lower) / 2
    mid = np.where(mid > lower, mid, upper)  # neighbouring floats: the midpoint rounds down
    top = (1.0 + upper[0]) / 2 if upper[0] < 1.0 else math.nan
    top = 1.0 if top <= upper[0] else top
    n_pos = int(y.sum())
    return _Curve(tp, fp, np.r_[top, mid], n_pos, y.size - n_pos)


def _rates(
    tp: NDArray[Any],
    fp: NDArray[Any],
    fn: NDArray[Any],
    tn: NDArray[Any],
    costs: Mapping[str, float],
) -> dict[str, FloatArray]:
    """Metrics from confusion counts (elementwise, so it serves the bootstrap too)."""
    tp, fp, fn, tn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn, tn))
    n = tp + fp + fn + tn
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "false_positive_rate": fp / (fp + tn),
            "negative_predictive_value": tn / (tn + fn),
            "accuracy": (tp + tn) / n,
            "predicted_positive_rate": (tp + fp) / n,
        }
    if costs:
        total = costs["cost_fp"] * fp + costs["cost_fn"] * fn
        out["expected_cost"] = (total - costs["benefit_tp"] * tp - costs["benefit_tn"] * tn) / n
    return out


def _or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# ---------------------------------------------------------------------- ThresholdPolicy
@dataclass(frozen=True, repr=False)
class ThresholdPolicy:
    """A binary decision rule ``proba >= threshold``, with a record of how it was chosen.

    Build one with :meth:`fit` (from labelled out-of-fold probabilities) or :meth:`fixed`;
    the constructor is for :meth:`from_dict`. Instances are immutable: :meth:`refit`
    returns a new policy.

    Attributes
    ----------
    threshold : float
        Predict ``positive`` when ``proba >= threshold``.
    positive, negative : str, int, float or bool
        The label decided when the threshold is reached, and the other one (``None``
        for a fixed policy created without it).
    method : str
        ``"cost"``, ``"min_recall"``, ``"min_precision"``, ``"max_false_positive_rate"``
        or ``"fixed"``.
    params : dict
        The rule's parameters: the costs, the constraint's target, or the fixed threshold.
    n_samples, n_positive : int or None
        Rows and positive rows the policy was chosen (or assessed) on.
    confusion : dict or None
        ``{"tn", "fp", "fn", "tp"}`` counts at ``threshold`` on those rows: the expected
        confusion matrix.
    metrics : dict or None
        :data:`POLICY_METRICS` at ``threshold`` (``None`` where undefined, e.g. the
        precision when nothing is flagged; ``expected_cost`` only for the cost rule: the
        mean cost per row, benefits counted as negative costs).
    intervals : dict or None
        Bootstrap percentile interval ``(low, high)`` of each metric at ``threshold``.
    bootstrap : dict or None
        ``{"n_boot", "confidence", "random_state"}`` used for ``intervals``.

    Examples
    --------
    >>> y = ["benign", "malignant", "benign", "malignant", "malignant", "benign"]
    >>> p = [0.10, 0.40, 0.35, 0.80, 0.90, 0.05]
    >>> policy = ThresholdPolicy.fit(y, p, positive="malignant", min_recall=1.0)
    >>> policy.threshold
    0.375
    >>> policy.decide([0.2, 0.5]).tolist()
    [False, True]
    """

    threshold: float
    positive: Label
    negative: Label | None
    method: str
    params: dict[str, float]
    n_samples: int | None = None
    n_positive: int | None = None
    confusion: dict[str, int] | None = None
    metrics: dict[str, float | None] | None = None
    intervals: dict[str, tuple[float, float] | None] | None = None
    bootstrap: dict[str, Any] | None = None

    # ---- construction
    @classmethod
    def fit(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        positive: Label,
        cost_fp: float | None = None,
        cost_fn: float | None = None,
        benefit_tp: float = 0.0,
        benefit_tn: float = 0.0,
        min_recall: float | None = None,
        min_precision: float | None = None,
        max_false_positive_rate: float | None = None,
        n_boot: int = 1000,
        confidence: float = 0.95,
        random_state: int | None = 0,
    ) -> ThresholdPolicy:
        """Choose the threshold by one rule: costs, or one constraint.

        Rules (give exactly one):

        * ``cost_fp`` and ``cost_fn`` (with optional ``benefit_tp``, ``benefit_tn``):
          the threshold of least mean cost ``(cost_fp FP + cost_fn FN - benefit_tp TP -
          benefit_tn TN) / n``, the exact minimum over every operating point. Ties go to
          the lowest threshold (the most positive decisions, the fewest misses).
        * ``min_recall``: the highest threshold whose recall is at least the target
          (the fewest false alarms). Always achievable.
        * ``min_precision``: the lowest threshold whose precision is at least the target
          (the highest recall), among thresholds that flag at least one row.
        * ``max_false_positive_rate``: the lowest threshold whose false-positive rate is
          at most the target, among thresholds that flag at least one row.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels: ``positive`` and one other label.
        proba : array-like of shape (n_samples,)
            Out-of-fold probability of ``positive`` for each row.
        positive : str, int, float or bool
            The label the decision is about (e.g. ``"malignant"``).
        cost_fp, cost_fn, benefit_tp, benefit_tn : float >= 0
            Cost of a false positive / false negative, benefit of a true positive /
            true negative, in any one unit.
        min_recall, min_precision : float in (0, 1]
            Constraint targets.
        max_false_positive_rate : float in [0, 1)
            Constraint target.
        n_boot : int, default=1000
            Bootstrap resamples for the metric intervals (0: none). The threshold is held
            fixed; only the rows are resampled (a multinomial draw of the four confusion
            cells, which equals resampling rows for these metrics).
        confidence : float in (0, 1), default=0.95
            Level of the percentile intervals.
        random_state : int or None, default=0
            Seed of the bootstrap (fixed by default so that a policy is reproducible).

        Returns
        -------
        ThresholdPolicy

        Raises
        ------
        ConstraintError
            No threshold meets the constraint; ``best_achievable`` holds the best value.
        DataError
            Bad ``y_true`` or ``proba``.

        Examples
        --------
        >>> y = [0, 1, 0, 1, 1, 0, 0, 1]
        >>> p = [0.1, 0.4, 0.35, 0.8, 0.9, 0.05, 0.6, 0.7]
        >>> ThresholdPolicy.fit(y, p, positive=1, cost_fp=1.0, cost_fn=5.0).threshold
        0.375
        >>> ThresholdPolicy.fit(y, p, positive=1, min_precision=0.9).metrics["recall"]
        0.75
        """
        where = "ThresholdPolicy.fit"
        method, params = _make_rule(
            where,
            {
                "cost_fp": cost_fp,
                "cost_fn": cost_fn,
                "benefit_tp": benefit_tp,
                "benefit_tn": benefit_tn,
            },
            {
                "min_recall": min_recall,
                "min_precision": min_precision,
                "max_false_positive_rate": max_false_positive_rate,
            },
        )
        data = _check_binary(y_true, proba, positive, where)
        boot = _check_boot(n_boot, confidence, random_state, where)
        return _assess(_choose(method, params, data), method, params, data, boot)

    @classmethod
    def fixed(
        cls, threshold: float, *, positive: Label, negative: Label | None = None
    ) -> ThresholdPolicy:
        """A policy with a threshold set by hand (no data, so no metrics).

        Use :meth:`refit` with labelled data to attach metrics at this threshold.

        Examples
        --------
        >>> ThresholdPolicy.fixed(0.3, positive="malignant").decide([0.29, 0.3]).tolist()
        [False, True]
        """
        where = "ThresholdPolicy.fixed"
        t = _check_real(threshold, "threshold", where, 0.0, 1.0)
        neg = None if negative is None else _plain_label(negative, "negative", where)
        return cls(t, _plain_label(positive, "positive", where), neg, "fixed", {"threshold": t})

    def refit(
        self,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        n_boot: int | None = None,
        confidence: float | None = None,
        random_state: int | None = None,
    ) -> ThresholdPolicy:
        """Re-apply the same rule to new labelled probabilities (no model needed).

        A fixed policy keeps its threshold and gains metrics on the new data. Bootstrap
        settings default to the ones recorded on this policy.

        Examples
        --------
        >>> policy = ThresholdPolicy.fixed(0.5, positive=1)
        >>> policy.refit([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6]).metrics["recall"]
        0.5
        """
        where = "ThresholdPolicy.refit"
        old = self.bootstrap or {"n_boot": 1000, "confidence": 0.95, "random_state": 0}
        boot = _check_boot(
            old["n_boot"] if n_boot is None else n_boot,
            old["confidence"] if confidence is None else confidence,
            old["random_state"] if random_state is None else random_state,
            where,
        )
        data = _check_binary(y_true, proba, self.positive, where)
        return _assess(
            _choose(self.method, self.params, data), self.method, self.params, data, boot
        )

    # ---- use
    def decide(self, proba: ArrayLike) -> BoolArray:
        """Return ``proba >= threshold`` (True: decide ``positive``).

        Examples
        --------
        >>> ThresholdPolicy.fixed(0.5, positive=1).decide([0.4, 0.5, 0.9]).tolist()
        [False, True, True]
        """
        return _check_proba(proba, "ThresholdPolicy.decide") >= self.threshold

    def decide_labels(self, proba: ArrayLike, negative: Label | None = None) -> NDArray[Any]:
        """Return the decided labels: ``positive`` or ``negative`` for each row.

        ``negative`` defaults to the other label seen when the policy was fitted.

        Examples
        --------
        >>> ThresholdPolicy.fixed(0.5, positive="M", negative="B").decide_labels([0.2, 0.8])
        array(['B', 'M'], dtype='<U1')
        """
        neg = self.negative if negative is None else negative
        if neg is None:
            msg = "decide_labels needs the negative label: pass negative=..."
            raise ValueError(msg)
        return np.where(self.decide(proba), self.positive, neg)

    @property
    def bayes_threshold(self) -> float | None:
        """The cost rule's threshold for perfectly calibrated probabilities.

        ``(cost_fp + benefit_tn) / (cost_fp + benefit_tn + cost_fn + benefit_tp)``; far from
        :attr:`threshold`, it hints that the probabilities are miscalibrated. ``None`` for
        other rules.

        Examples
        --------
        >>> p = ThresholdPolicy.fit([0, 1, 1], [0.2, 0.6, 0.9], positive=1, cost_fp=1, cost_fn=3)
        >>> p.bayes_threshold
        0.25
        """
        if self.method != "cost":
            return None
        c = self.params
        num = c["cost_fp"] + c["benefit_tn"]
        return num / (num + c["cost_fn"] + c["benefit_tp"])

    def __repr__(self) -> str:
        rule = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if k != "threshold")
        rule = f", {rule}" if rule else ""
        return (
            f"ThresholdPolicy(threshold={self.threshold!r}, positive={self.positive!r}, "
            f"method={self.method!r}{rule})"
        )

    # ---- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; :meth:`from_dict` rebuilds the identical policy.

        Examples
        --------
        >>> import json
        >>> policy = ThresholdPolicy.fixed(0.3, positive=True)
        >>> ThresholdPolicy.from_dict(json.loads(json.dumps(policy.to_dict()))) == policy
        True
        """
        intervals = None
        if self.intervals is not None:
            intervals = {k: None if v is None else list(v) for k, v in self.intervals.items()}
        return {
            "type": "ThresholdPolicy",
            "format_version": _FORMAT_VERSION,
            "threshold": self.threshold,
            "positive": self.positive,
            "negative": self.negative,
            "rule": {"method": self.method, **self.params},
            "fitted_on": None
            if self.n_samples is None
            else {"n_samples": self.n_samples, "n_positive": self.n_positive},
            "confusion": None if self.confusion is None else dict(self.confusion),
            "metrics": None if self.metrics is None else dict(self.metrics),
            "intervals": intervals,
            "bootstrap": None if self.bootstrap is None else dict(self.bootstrap),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThresholdPolicy:
        """Rebuild a policy from :meth:`to_dict` output.

        Examples
        --------
        >>> d = ThresholdPolicy.fixed(0.3, positive="malignant").to_dict()
        >>> ThresholdPolicy.from_dict(d).threshold
        0.3
        """
        _check_header(data, "ThresholdPolicy")
        try:
            rule = dict(data["rule"])
            fitted = data["fitted_on"] or {}
            intervals = data["intervals"]
            if intervals is not None:
                intervals = {k: None if v is None else (v[0], v[1]) for k, v in intervals.items()}
            return cls(
                threshold=float(data["threshold"]),
                positive=data["positive"],
                negative=data["negative"],
                method=str(rule.pop("method")),
                params={k: float(v) for k, v in rule.items()},
                n_samples=fitted.get("n_samples"),
                n_positive=fitted.get("n_positive"),
                confusion=data["confusion"],
                metrics=data["metrics"],
                intervals=intervals,
                bootstrap=data["bootstrap"],
            )
        except (KeyError, TypeError, IndexError) as exc:
            msg = f"Not a valid ThresholdPolicy dict: missing or malformed {exc}."
            raise ArtifactError(msg) from exc


def _check_header(data: Mapping[str, Any], kind: str) -> None:
    if not isinstance(data, Mapping) or data.get("type") != kind:
        msg = f"Not a {kind} dict (its 'type' is not {kind!r})."
        raise ArtifactError(msg)
    if data.get("format_version") != _FORMAT_VERSION:
        msg = f"Unsupported {kind} format_version {data.get('format_version')!r}; expected {_FORMAT_VERSION}."
        raise ArtifactError(msg)


def _make_rule(
    where: str, costs: dict[str, float | None], constraints: dict[str, float | None]
) -> tuple[str, dict[str, float]]:
    """Validate the rule arguments of ``fit``; return ``(method, params)``."""
    given = [k for k, v in constraints.items() if v is not None]
    if costs["cost_fp"] is not None or costs["cost_fn"] is not None:
        given.insert(0, "cost")
    if len(given) != 1:
        got = "none" if not given else " and ".join(given)
        msg = (
            f"{where} needs exactly one rule: cost_fp with cost_fn, min_recall, "
            f"min_precision or max_false_positive_rate. Got {got}."
        )
        raise ValueError(msg)
    method = given[0]
    if method == "cost":
        params = {k: _check_real(costs[k], k, where, 0.0, math.inf, "left") for k in _COSTS}
        if params["cost_fp"] + params["benefit_tn"] + params["cost_fn"] + params["benefit_tp"] == 0:
            msg = f"The costs and benefits passed to {where} are all 0: every threshold costs the same."
            raise ValueError(msg)
        return method, params
    for k in ("benefit_tp", "benefit_tn"):
        if costs[k] != 0:
            msg = f"The {k!r} parameter of {where} applies only with cost_fp and cost_fn. Got {costs[k]!r}."
            raise ValueError(msg)
    value = constraints[method]
    if method == "max_false_positive_rate":
        return method, {method: _check_real(value, method, where, 0.0, 1.0, "left")}
    return method, {method: _check_real(value, method, where, 0.0, 1.0, "right")}


def _check_boot(n_boot: Any, confidence: Any, random_state: Any, where: str) -> dict[str, Any]:
    if random_state is not None:
        random_state = _check_int(random_state, "random_state", where, 0)
    return {
        "n_boot": _check_int(n_boot, "n_boot", where, 0),
        "confidence": _check_real(confidence, "confidence", where, 0.0, 1.0, "neither"),
        "random_state": random_state,
    }


def _choose(method: str, params: Mapping[str, float], data: _Binary) -> float:
    """Return the threshold that ``method`` picks on ``data``."""
    if method == "fixed":
        return params["threshold"]
    c = _curve(data.y, data.p)
    reachable = np.isfinite(c.threshold)
    if method == "cost":
        cost = _rates(c.tp, c.fp, c.n_pos - c.tp, c.n_neg - c.fp, params)["expected_cost"]
        cost = np.where(reachable, cost, np.inf)
        best = cost.min()
        tied = np.flatnonzero(cost <= best + 1e-12 * max(1.0, abs(best)))
        return float(c.threshold[tied[-1]])
    # Constraints: only points that flag at least one row (index >= 1).
    tp, fp = c.tp[1:], c.fp[1:]
    rates = _rates(tp, fp, c.n_pos - tp, c.n_neg - fp, {})
    target = params[method]
    if method == "min_recall":
        k = int(np.flatnonzero(rates["recall"] >= target)[0])  # recall reaches 1 at the end
        return float(c.threshold[1 + k])
    if method == "min_precision":
        ok, best, what = rates["precision"] >= target, np.max(rates["precision"]), "precision"
    else:
        fpr = rates["false_positive_rate"]
        ok, best, what = fpr <= target, np.min(fpr), "false-positive rate"
    if not ok.any():
        op = ">=" if method == "min_precision" else "<="
        msg = (
            f"No threshold gives a {what} {op} {target:g} on these {data.y.size} rows "
            f"({c.n_pos} positive); the best achievable is {best:.6g}."
        )
        raise ConstraintError(msg, best_achievable=float(best))
    return float(c.threshold[1 + np.flatnonzero(ok)[-1]])


def _assess(
    threshold: float, method: str, params: dict[str, float], data: _Binary, boot: dict[str, Any]
) -> ThresholdPolicy:
    """Measure ``threshold`` on ``data`` and build the policy record."""
    flag = data.p >= threshold
    tp, fp = int(np.sum(flag & data.y)), int(np.sum(flag & ~data.y))
    fn, tn = int(data.y.sum()) - tp, int((~data.y).sum()) - fp
    costs = params if method == "cost" else {}
    point = _rates(np.array(tp), np.array(fp), np.array(fn), np.array(tn), costs)
    metrics = {k: _or_none(float(point[k])) if k in point else None for k in POLICY_METRICS}
    intervals = None
    if boot["n_boot"] > 0:
        rng = np.random.default_rng(boot["random_state"])
        cells = np.array([tp, fp, fn, tn], dtype=np.float64)
        draws = rng.multinomial(data.y.size, cells / cells.sum(), size=boot["n_boot"])
        sims = _rates(draws[:, 0], draws[:, 1], draws[:, 2], draws[:, 3], costs)
        alpha = 1.0 - boot["confidence"]
        intervals = {}
        for k in POLICY_METRICS:
            v = sims[k][np.isfinite(sims[k])] if k in sims else np.empty(0)
            q = np.quantile(v, [alpha / 2, 1 - alpha / 2]) if v.size else None
            intervals[k] = None if q is None else (float(q[0]), float(q[1]))
    return ThresholdPolicy(
        threshold=float(threshold),
        positive=data.positive,
        negative=data.negative,
        method=method,
        params=dict(params),
        n_samples=int(data.y.size),
        n_positive=int(data.y.sum()),
        confusion={"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        metrics=metrics,
        intervals=intervals,
        bootstrap=boot,
    )


# ---------------------------------------------------------------------------- RiskBands
_RULE_KEYS = {*_CONSTRAINTS, *_COSTS, "threshold"}


@dataclass(frozen=True, repr=False)
class RiskBands:
    """Ordered risk bands: ``len(names) - 1`` cuts, each chosen like a ThresholdPolicy.

    Band ``i`` holds the rows with ``cut[i-1] <= proba < cut[i]`` (the first band starts
    at 0, the last includes 1). Each cut is a full :class:`ThresholdPolicy` for the
    decision "this band or above", so it carries its own rule, metrics and intervals.

    Attributes
    ----------
    names : tuple of str
        Band names from the lowest risk to the highest.
    cuts : tuple of ThresholdPolicy
        The cut between band ``i`` and band ``i + 1``, non-decreasing thresholds.
    positive : str, int, float or bool
        The label whose risk is banded.
    table : tuple of dict or None
        Per band on the fitting data: ``band``, ``low``, ``high``, ``n``, ``n_positive``
        and ``positive_rate`` (``None`` when the band is empty).

    Examples
    --------
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> p = [0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 0.95]
    >>> bands = RiskBands.fit(
    ...     y, p, positive=1,
    ...     bands=[("clear", {"min_recall": 1.0}), ("review", {"min_precision": 1.0}), "refer"],
    ... )
    >>> bands.thresholds
    (0.25, 0.525)
    >>> bands.assign([0.1, 0.3, 0.9]).tolist()
    ['clear', 'review', 'refer']
    """

    names: tuple[str, ...]
    cuts: tuple[ThresholdPolicy, ...]
    positive: Label
    table: tuple[dict[str, Any], ...] | None = None

    @classmethod
    def fit(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        positive: Label,
        bands: Sequence[tuple[str, Mapping[str, float]] | str],
        n_boot: int = 1000,
        confidence: float = 0.95,
        random_state: int | None = 0,
    ) -> RiskBands:
        """Choose each cut by its rule.

        Parameters
        ----------
        y_true, proba, positive
            As in :meth:`ThresholdPolicy.fit`.
        bands : sequence
            ``(name, rule)`` for every band but the last, then the last band's name.
            ``rule`` holds the keyword arguments of :meth:`ThresholdPolicy.fit` for the
            cut at the top of that band (``{"min_recall": 0.995}`` means rows above the
            cut catch 99.5% of positives), or ``{"threshold": t}`` for a fixed cut.
        n_boot, confidence, random_state
            Bootstrap settings of each cut's metric intervals.

        Returns
        -------
        RiskBands

        Raises
        ------
        ConstraintError
            A cut's constraint cannot be met, or the cuts come out in decreasing order
            (the rules contradict each other on this data).

        Examples
        --------
        >>> RiskBands.fit([0, 1, 0, 1], [0.1, 0.7, 0.4, 0.9], positive=1,
        ...               bands=[("low", {"threshold": 0.5}), "high"]).thresholds
        (0.5,)
        """
        where = "RiskBands.fit"
        names, rules = _check_bands(bands, where)
        data = _check_binary(y_true, proba, positive, where)
        boot = _check_boot(n_boot, confidence, random_state, where)
        cuts = []
        for rule in rules:
            if "threshold" in rule:
                method, params = (
                    "fixed",
                    {"threshold": _check_real(rule["threshold"], "threshold", where, 0.0, 1.0)},
                )
            else:
                costs: dict[str, float | None] = {k: rule.get(k) for k in _COSTS}
                costs["benefit_tp"] = rule.get("benefit_tp", 0.0)
                costs["benefit_tn"] = rule.get("benefit_tn", 0.0)
                method, params = _make_rule(where, costs, {k: rule.get(k) for k in _CONSTRAINTS})
            cuts.append(_assess(_choose(method, params, data), method, params, data, boot))
        return cls._build(names, tuple(cuts), data)

    @classmethod
    def _build(
        cls, names: tuple[str, ...], cuts: tuple[ThresholdPolicy, ...], data: _Binary
    ) -> RiskBands:
        t = [c.threshold for c in cuts]
        for i in range(1, len(t)):
            if t[i] < t[i - 1]:
                msg = (
                    f"The cut above band {names[i]!r} ({t[i]:.6g}) falls below the cut above "
                    f"{names[i - 1]!r} ({t[i - 1]:.6g}): the rules contradict each other on this data."
                )
                raise ConstraintError(msg)
        idx = np.searchsorted(np.asarray(t), data.p, side="right")
        edges = [0.0, *t, 1.0]
        table = []
        for i, name in enumerate(names):
            inside = idx == i
            n, n_pos = int(inside.sum()), int(data.y[inside].sum())
            table.append(
                {
                    "band": name,
                    "low": edges[i],
                    "high": edges[i + 1],
                    "n": n,
                    "n_positive": n_pos,
                    "positive_rate": n_pos / n if n else None,
                }
            )
        return cls(names, cuts, data.positive, tuple(table))

    @classmethod
    def fixed(
        cls, names: Sequence[str], thresholds: Sequence[float], *, positive: Label
    ) -> RiskBands:
        """Bands with cuts set by hand.

        Examples
        --------
        >>> RiskBands.fixed(["low", "high"], [0.5], positive=1).assign([0.2, 0.7]).tolist()
        ['low', 'high']
        """
        where = "RiskBands.fixed"
        if len(thresholds) != len(names) - 1:
            msg = f"{where} needs one threshold fewer than names; got {len(names)} names and {len(thresholds)} thresholds."
            raise ValueError(msg)
        bands: list[tuple[str, Mapping[str, float]] | str] = [
            (n, {"threshold": t}) for n, t in zip(names[:-1], thresholds, strict=True)
        ]
        names_, _ = _check_bands([*bands, names[-1]], where)
        cuts = tuple(ThresholdPolicy.fixed(t, positive=positive) for t in thresholds)
        if any(b.threshold < a.threshold for a, b in itertools.pairwise(cuts)):
            msg = f"The thresholds passed to {where} must be non-decreasing. Got {list(thresholds)!r}."
            raise ValueError(msg)
        return cls(names_, cuts, cuts[0].positive)

    def refit(self, y_true: ArrayLike, proba: ArrayLike) -> RiskBands:
        """Re-apply every cut's rule to new labelled probabilities.

        Examples
        --------
        >>> bands = RiskBands.fixed(["low", "high"], [0.5], positive=1)
        >>> bands.refit([0, 1, 1], [0.2, 0.6, 0.4]).table[1]["n_positive"]
        1
        """
        data = _check_binary(y_true, proba, self.positive, "RiskBands.refit")
        return self._build(self.names, tuple(c.refit(y_true, proba) for c in self.cuts), data)

    @property
    def thresholds(self) -> tuple[float, ...]:
        """The cut thresholds, lowest first."""
        return tuple(c.threshold for c in self.cuts)

    def assign_index(self, proba: ArrayLike) -> NDArray[np.intp]:
        """Return the band number of each row (0 = lowest risk).

        Examples
        --------
        >>> RiskBands.fixed(["a", "b", "c"], [0.3, 0.6], positive=1).assign_index([0.3, 0.9]).tolist()
        [1, 2]
        """
        p = _check_proba(proba, "RiskBands.assign")
        return np.searchsorted(np.asarray(self.thresholds), p, side="right")

    def assign(self, proba: ArrayLike) -> NDArray[np.str_]:
        """Return the band name of each row.

        Examples
        --------
        >>> RiskBands.fixed(["low", "high"], [0.5], positive=1).assign([0.5]).tolist()
        ['high']
        """
        return np.asarray(self.names)[self.assign_index(proba)]

    def __repr__(self) -> str:
        return f"RiskBands(names={self.names!r}, thresholds={self.thresholds!r}, positive={self.positive!r})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; :meth:`from_dict` rebuilds identical bands.

        Examples
        --------
        >>> bands = RiskBands.fixed(["low", "high"], [0.5], positive=1)
        >>> RiskBands.from_dict(bands.to_dict()) == bands
        True
        """
        return {
            "type": "RiskBands",
            "format_version": _FORMAT_VERSION,
            "positive": self.positive,
            "names": list(self.names),
            "cuts": [c.to_dict() for c in self.cuts],
            "table": None if self.table is None else [dict(r) for r in self.table],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskBands:
        """Rebuild bands from :meth:`to_dict` output.

        Examples
        --------
        >>> d = RiskBands.fixed(["low", "high"], [0.5], positive=1).to_dict()
        >>> RiskBands.from_dict(d).thresholds
        (0.5,)
        """
        _check_header(data, "RiskBands")
        try:
            table = data["table"]
            return cls(
                names=tuple(data["names"]),
                cuts=tuple(ThresholdPolicy.from_dict(c) for c in data["cuts"]),
                positive=data["positive"],
                table=None if table is None else tuple(dict(r) for r in table),
            )
        except (KeyError, TypeError) as exc:
            msg = f"Not a valid RiskBands dict: missing or malformed {exc}."
            raise ArtifactError(msg) from exc


def _check_bands(
    bands: Sequence[tuple[str, Mapping[str, float]] | str], where: str
) -> tuple[tuple[str, ...], list[Mapping[str, float]]]:
    shape = "[(name, rule), ..., last_name] with at least two bands and unique names"
    bad = f"The 'bands' parameter of {where} must be {shape}. Got {bands!r} instead."
    if isinstance(bands, str) or len(bands) < 2 or not isinstance(bands[-1], str):
        raise ValueError(bad)
    names, rules = [], []
    for band in bands[:-1]:
        if isinstance(band, str) or len(band) != 2 or not isinstance(band[1], Mapping):
            raise ValueError(bad)
        names.append(band[0])
        rules.append(band[1])
        unknown = set(band[1]) - _RULE_KEYS
        if "threshold" in band[1] and len(band[1]) > 1:
            msg = f"The rule of band {band[0]!r} in {where} mixes 'threshold' with other keys."
            raise ValueError(msg)
        if unknown:
            msg = f"Unknown rule keys {sorted(unknown)} for band {band[0]!r} in {where}; use {sorted(_RULE_KEYS)}."
            raise ValueError(msg)
    names.append(bands[-1])
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ValueError(bad)
    return tuple(names), rules


# ---------------------------------------------------------------------- MulticlassPolicy
@dataclass(frozen=True, repr=False)
class MulticlassPolicy:
    """Decide one of K classes from an ``(n, K)`` probability matrix.

    With no cost matrix the decision is the most probable class; with ``cost[i][j]``, the
    cost of deciding class ``j`` when the truth is class ``i``, it is the class of least
    expected cost ``argmin_j sum_i proba[i] cost[i][j]`` (``proba @ cost``). Ties go to the
    class listed first in ``classes``.

    Attributes
    ----------
    classes : tuple
        Class labels, in the column order of the probability matrix.
    cost : tuple of tuple of float or None
        The ``K x K`` matrix ``cost[true][decided]``; ``None`` for argmax.

    Examples
    --------
    >>> policy = MulticlassPolicy.from_costs(
    ...     ["a", "b", "c"], [[0, 1, 1], [10, 0, 1], [1, 1, 0]]
    ... )
    >>> policy.decide([[0.6, 0.3, 0.1]]).tolist()  # missing "b" costs 10: decide "b"
    ['b']
    >>> MulticlassPolicy.argmax(["a", "b", "c"]).decide([[0.6, 0.3, 0.1]]).tolist()
    ['a']
    """

    classes: tuple[Label, ...]
    cost: tuple[tuple[float, ...], ...] | None = None

    @classmethod
    def argmax(cls, classes: Sequence[Label]) -> MulticlassPolicy:
        """Decide the most probable class.

        Examples
        --------
        >>> MulticlassPolicy.argmax([0, 1, 2]).decide([[0.2, 0.5, 0.3]]).tolist()
        [1]
        """
        return cls(_check_classes(classes, "MulticlassPolicy.argmax"))

    @classmethod
    def from_costs(cls, classes: Sequence[Label], cost: ArrayLike) -> MulticlassPolicy:
        """Decide the class of least expected cost under ``cost[true][decided]``.

        Examples
        --------
        >>> MulticlassPolicy.from_costs([0, 1], [[0, 1], [4, 0]]).decide([[0.7, 0.3]]).tolist()
        [1]
        """
        where = "MulticlassPolicy.from_costs"
        labels = _check_classes(classes, where)
        C = np.asarray(cost, dtype=np.float64)
        k = len(labels)
        if C.shape != (k, k) or not np.isfinite(C).all():
            msg = f"The 'cost' parameter of {where} must be a finite {k} x {k} matrix cost[true][decided]. Got shape {C.shape} instead."
            raise ValueError(msg)
        return cls(labels, tuple(tuple(float(v) for v in row) for row in C))

    @property
    def method(self) -> str:
        """``"argmax"`` or ``"cost"``."""
        return "argmax" if self.cost is None else "cost"

    def expected_costs(self, proba: ArrayLike) -> FloatArray:
        """Return the ``(n, K)`` expected cost of deciding each class (``proba @ cost``).

        For argmax this is the 0-1 loss ``1 - proba``.

        Examples
        --------
        >>> MulticlassPolicy.argmax([0, 1]).expected_costs([[0.25, 0.75]]).tolist()
        [[0.75, 0.25]]
        """
        P = _check_proba_matrix(proba, len(self.classes), "MulticlassPolicy")
        C = 1.0 - np.eye(len(self.classes)) if self.cost is None else np.asarray(self.cost)
        out: FloatArray = P @ C
        return out

    def decide_index(self, proba: ArrayLike) -> NDArray[np.intp]:
        """Return the column index of the decided class for each row.

        Examples
        --------
        >>> MulticlassPolicy.argmax(["x", "y"]).decide_index([[0.1, 0.9]]).tolist()
        [1]
        """
        out: NDArray[np.intp] = np.argmin(self.expected_costs(proba), axis=1)
        return out

    def decide(self, proba: ArrayLike) -> NDArray[Any]:
        """Return the decided class label for each row.

        Examples
        --------
        >>> MulticlassPolicy.argmax(["x", "y"]).decide([[0.1, 0.9], [0.5, 0.5]]).tolist()
        ['y', 'x']
        """
        return np.asarray(self.classes)[self.decide_index(proba)]

    def mean_cost(self, y_true: ArrayLike, proba: ArrayLike) -> float:
        """Return the realised mean cost of the decisions against true labels.

        For argmax it is the error rate.

        Examples
        --------
        >>> policy = MulticlassPolicy.from_costs([0, 1], [[0, 1], [4, 0]])
        >>> policy.mean_cost([1, 0], [[0.9, 0.1], [0.4, 0.6]])
        2.5
        """
        y = np.asarray(y_true)
        index = {c: i for i, c in enumerate(self.classes)}
        try:
            true = np.array([index[_plain_label(v, "y_true", "MulticlassPolicy")] for v in y])
        except KeyError as exc:
            msg = f"y_true passed to MulticlassPolicy.mean_cost has label {exc} not in classes {list(self.classes)!r}."
            raise DataError(msg, column="y_true") from exc
        decided = self.decide_index(proba)
        if true.shape != decided.shape:
            msg = f"y_true and proba passed to MulticlassPolicy.mean_cost differ in length: {true.size} and {decided.size}."
            raise DataError(msg, column="proba")
        C = 1.0 - np.eye(len(self.classes)) if self.cost is None else np.asarray(self.cost)
        return float(C[true, decided].mean())

    def __repr__(self) -> str:
        return f"MulticlassPolicy(classes={self.classes!r}, method={self.method!r})"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; :meth:`from_dict` rebuilds the identical policy.

        Examples
        --------
        >>> policy = MulticlassPolicy.from_costs([0, 1], [[0, 1], [4, 0]])
        >>> MulticlassPolicy.from_dict(policy.to_dict()) == policy
        True
        """
        return {
            "type": "MulticlassPolicy",
            "format_version": _FORMAT_VERSION,
            "classes": list(self.classes),
            "cost": None if self.cost is None else [list(r) for r in self.cost],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MulticlassPolicy:
        """Rebuild a policy from :meth:`to_dict` output.

        Examples
        --------
        >>> MulticlassPolicy.from_dict(MulticlassPolicy.argmax([0, 1, 2]).to_dict()).method
        'argmax'
        """
        _check_header(data, "MulticlassPolicy")
        try:
            if data["cost"] is None:
                return cls.argmax(data["classes"])
            return cls.from_costs(data["classes"], data["cost"])
        except (KeyError, TypeError) as exc:
            msg = f"Not a valid MulticlassPolicy dict: missing or malformed {exc}."
            raise ArtifactError(msg) from exc


def _check_classes(classes: Sequence[Label], where: str) -> tuple[Label, ...]:
    labels = tuple(_plain_label(c, "classes", where) for c in classes)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        msg = f"The 'classes' parameter of {where} must list at least two distinct labels. Got {list(classes)!r} instead."
        raise ValueError(msg)
    return labels
