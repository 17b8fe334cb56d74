"""ThresholdPolicy: a binary decision ``proba >= threshold``, chosen by a cost or a constraint.

A rule (a cost, or a constraint) picks an operating point (see :mod:`._rules`); the
threshold reported for it is the **midpoint** ``(s_k + s_{k+1}) / 2`` between the lowest
flagged score and the next one (``s_m / 2`` for the point that flags every row,
``(s_1 + 1) / 2`` for the one that flags none), so that a new row scored a little either
side of a training score is treated like its neighbours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitkit._validation import BinaryTarget, Label, check_binary, check_proba, plain_label
from logitkit.decision._rules import (
    FORMAT_VERSION,
    POLICY_METRICS,
    check_boot,
    check_header,
    choose,
    make_rule,
    or_none,
    rates,
    rule_params,
)
from logitkit.exceptions import ArtifactError

__all__ = ["ThresholdPolicy"]

BoolArray = NDArray[np.bool_]


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
        method, params = make_rule(
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
        data = check_binary(y_true, proba, positive, where)
        boot = check_boot(n_boot, confidence, random_state, where)
        return _assess(choose(method, params, data), method, params, data, boot)

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
        t = rule_params(where, {"threshold": threshold})["threshold"]
        neg = None if negative is None else plain_label(negative, "negative", where)
        return cls(t, plain_label(positive, "positive", where), neg, "fixed", {"threshold": t})

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
        boot = check_boot(
            old["n_boot"] if n_boot is None else n_boot,
            old["confidence"] if confidence is None else confidence,
            old["random_state"] if random_state is None else random_state,
            where,
        )
        data = check_binary(y_true, proba, self.positive, where)
        return _assess(choose(self.method, self.params, data), self.method, self.params, data, boot)

    # ---- use
    def decide(self, proba: ArrayLike) -> BoolArray:
        """Return ``proba >= threshold`` (True: decide ``positive``).

        Examples
        --------
        >>> ThresholdPolicy.fixed(0.5, positive=1).decide([0.4, 0.5, 0.9]).tolist()
        [False, True, True]
        """
        return check_proba(proba, "ThresholdPolicy.decide") >= self.threshold

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
            "format_version": FORMAT_VERSION,
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
        check_header(data, "ThresholdPolicy")
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


def _assess(
    threshold: float,
    method: str,
    params: dict[str, float],
    data: BinaryTarget,
    boot: dict[str, Any],
) -> ThresholdPolicy:
    """Measure ``threshold`` on ``data`` and build the policy record."""
    flag = data.p >= threshold
    tp, fp = int(np.sum(flag & data.y)), int(np.sum(flag & ~data.y))
    fn, tn = int(data.y.sum()) - tp, int((~data.y).sum()) - fp
    costs = params if method == "cost" else {}
    point = rates(np.array(tp), np.array(fp), np.array(fn), np.array(tn), costs)
    metrics = {k: or_none(float(point[k])) if k in point else None for k in POLICY_METRICS}
    intervals = None
    if boot["n_boot"] > 0:
        rng = np.random.default_rng(boot["random_state"])
        cells = np.array([tp, fp, fn, tn], dtype=np.float64)
        draws = rng.multinomial(data.y.size, cells / cells.sum(), size=boot["n_boot"])
        sims = rates(draws[:, 0], draws[:, 1], draws[:, 2], draws[:, 3], costs)
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
