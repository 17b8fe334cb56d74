"""ThresholdPolicy: a binary decision ``proba >= threshold``, chosen by a cost or a constraint.

A rule (a cost, or a constraint) picks an operating point (see :mod:`._rules`); the
threshold reported for it is the **midpoint** ``(s_k + s_{k+1}) / 2`` between the lowest
flagged score and the next one (``s_m / 2`` for the point that flags every row,
``(s_1 + 1) / 2`` for the one that flags none), so that a new row scored a little either
side of a training score is treated like its neighbours.

A fitted policy keeps the evidence behind it: the confusion counts, exact
(Clopper-Pearson) intervals of every rate, how many rows set the threshold, and whether
the rows can show a constraint's target at all (:mod:`._evidence`). :meth:`describe` and
:meth:`caveats` say it in words (:mod:`._words`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitkit._validation import BinaryTarget, Label, check_binary, check_proba, plain_label
from logitkit.decision import _words
from logitkit.decision._evidence import UNSTABLE_AT_MOST, Verification, rests_on, verify
from logitkit.decision._rules import (
    CONSTRAINED,
    FORMAT_VERSION,
    POLICY_METRICS,
    check_boot,
    check_header,
    check_level,
    choose,
    decide,
    make_rule,
    or_none,
    proportions,
    rates,
    rule_params,
)
from logitkit.decision.exact import lower_bound, upper_bound
from logitkit.exceptions import ArtifactError

__all__ = ["ThresholdPolicy"]

BoolArray = NDArray[np.bool_]

#: The interval methods recorded in ``interval_method``.
EXACT, BOOTSTRAP = "clopper-pearson", "bootstrap-percentile"
#: The verification level when neither ``verify_level`` nor ``at_confidence`` is given.
DEFAULT_VERIFY_LEVEL = 0.95


@dataclass(frozen=True, repr=False)
class ThresholdPolicy:
    """A binary decision rule ``proba >= threshold``, with a record of how it was chosen.

    Build one with :meth:`fit` (from labelled out-of-fold probabilities) or :meth:`fixed`;
    the constructor is for :meth:`from_dict`. Instances are immutable: :meth:`refit`
    returns a new policy.

    Attributes
    ----------
    threshold : float
        Predict ``positive`` when ``proba >= threshold`` (:func:`~logitkit.decision.decide`).
    positive, negative : str, int, float or bool
        The label decided when the threshold is reached, and the other one (``None``
        for a fixed policy created without it).
    method : str
        ``"cost"``, ``"min_recall"``, ``"min_precision"``, ``"max_false_positive_rate"``
        or ``"fixed"``.
    params : dict
        The rule's parameters: the costs, the constraint's target, or the fixed threshold.
    at_confidence : float or None
        Part of the rule: a constraint met by the one-sided exact bound of its metric at
        this level rather than by the point estimate.
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
        ``(low, high)`` of each metric at ``confidence``: exact (Clopper-Pearson) for the
        six proportions, a bootstrap percentile interval for ``expected_cost``. They hold
        the threshold fixed; it was chosen on the same rows, so the constrained metric's
        interval is optimistic (check it on held-out rows).
    confidence : float or None
        Level of ``intervals``.
    interval_method : dict or None
        How each interval in ``intervals`` was computed: ``"clopper-pearson"`` or
        ``"bootstrap-percentile"`` (every interval of a version-1 record).
    bootstrap : dict or None
        ``{"n_boot", "random_state"}`` of the ``expected_cost`` interval, the only one
        that is bootstrapped.
    rests_on : int or None
        How many rows of the constrained class set the threshold (``None`` for the cost
        rule and a fixed threshold): for ``min_recall`` the positives scored at or below
        the lowest flagged positive; for the other constraints the negatives scored at or
        above the highest unflagged one. See :mod:`logitkit.decision._evidence`.
    verification : Verification or None
        For a constraint: its one-sided exact bound at the verification level, whether it
        meets the target, and how many rows would show the target without one error.

    Examples
    --------
    >>> y = ["benign", "malignant", "benign", "malignant", "malignant", "benign"]
    >>> p = [0.10, 0.40, 0.35, 0.80, 0.90, 0.05]
    >>> policy = ThresholdPolicy.fit(y, p, positive="malignant", min_recall=1.0)
    >>> policy.threshold
    0.375
    >>> policy.decide([0.2, 0.5]).tolist()
    [False, True]
    >>> policy.rests_on, policy.unstable, policy.verification.verified
    (1, True, False)
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
    at_confidence: float | None = None
    confidence: float | None = None
    interval_method: dict[str, str] | None = None
    rests_on: int | None = None
    verification: Verification | None = None

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
        at_confidence: float | None = None,
        verify_level: float | None = None,
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

        With ``at_confidence`` a constraint must hold for the one-sided exact
        (Clopper-Pearson) bound of its metric at that level, not only for the point
        estimate: the lower bound of recall or precision, the upper bound of the
        false-positive rate. That threshold is never above the point-estimate one for
        ``min_recall`` and never below it for the other two.

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
        at_confidence : float in (0, 1), optional
            Meet the constraint with this confidence (see above); constraints only.
            Stored with the rule, so :meth:`refit` and :meth:`from_dict` keep it.
        verify_level : float in (0, 1), optional
            Level of the one-sided bound in :attr:`verification` (constraints only);
            default ``at_confidence``, or 0.95.
        n_boot : int, default=1000
            Bootstrap resamples for the ``expected_cost`` interval of the cost rule (0:
            none). The threshold is held fixed; only the rows are resampled (a
            multinomial draw of the four confusion cells, which equals resampling rows).
            The proportions get exact intervals and need no resampling.
        confidence : float in (0, 1), default=0.95
            Level of the two-sided intervals in :attr:`intervals`.
        random_state : int or None, default=0
            Seed of the bootstrap (fixed by default so that a policy is reproducible).

        Returns
        -------
        ThresholdPolicy

        Raises
        ------
        ConstraintError
            No threshold meets the constraint (with ``at_confidence``: no threshold's bound
            meets it; the message says the best bound these rows allow and how many rows
            would show the target). ``best_achievable`` holds the best value or bound.
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
        >>> ThresholdPolicy.fit(y, p, positive=1, min_recall=0.5, at_confidence=0.95)
        Traceback (most recent call last):
        ...
        logitkit.exceptions.ConstraintError: recall >= 0.5 cannot be shown at 95% confidence ...
        """
        where = "ThresholdPolicy.fit"
        method, params, at_conf = make_rule(
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
            at_confidence,
        )
        verify_at = check_level(where, "verify_level", verify_level, method)
        data = check_binary(y_true, proba, positive, where)
        boot = check_boot(n_boot, confidence, random_state, where)
        threshold = choose(method, params, data, at_conf)
        return _assess(threshold, method, params, data, boot, at_conf, verify_at)

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

        A fixed policy keeps its threshold and gains metrics on the new data. The rule
        keeps its ``at_confidence`` and verification level; interval settings default
        to the ones recorded on this policy.

        Examples
        --------
        >>> policy = ThresholdPolicy.fixed(0.5, positive=1)
        >>> policy.refit([0, 1, 1, 0], [0.2, 0.7, 0.4, 0.6]).metrics["recall"]
        0.5
        """
        where = "ThresholdPolicy.refit"
        old = self.bootstrap or {"n_boot": 1000, "random_state": 0}
        boot = check_boot(
            old["n_boot"] if n_boot is None else n_boot,
            (self.confidence or 0.95) if confidence is None else confidence,
            old["random_state"] if random_state is None else random_state,
            where,
        )
        verify_at = None if self.verification is None else self.verification.level
        data = check_binary(y_true, proba, self.positive, where)
        threshold = choose(self.method, self.params, data, self.at_confidence)
        return _assess(
            threshold, self.method, self.params, data, boot, self.at_confidence, verify_at
        )

    # ---- use
    def decide(self, proba: ArrayLike) -> BoolArray:
        """Return ``proba >= threshold`` (True: decide ``positive``).

        Examples
        --------
        >>> ThresholdPolicy.fixed(0.5, positive=1).decide([0.4, 0.5, 0.9]).tolist()
        [False, True, True]
        """
        return decide(check_proba(proba, "ThresholdPolicy.decide"), self.threshold)

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

    @property
    def n_negative(self) -> int | None:
        """Negative rows the policy was chosen (or assessed) on.

        Examples
        --------
        >>> ThresholdPolicy.fixed(0.5, positive=1).refit([0, 1, 0], [0.2, 0.7, 0.4]).n_negative
        2
        """
        if self.n_samples is None or self.n_positive is None:
            return None
        return self.n_samples - self.n_positive

    @property
    def rate_counts(self) -> dict[str, tuple[int, int]] | None:
        """``(k, n)`` behind each proportion metric: e.g. recall is ``tp`` of the positives.

        Examples
        --------
        >>> p = ThresholdPolicy.fixed(0.5, positive=1).refit([0, 1, 1], [0.2, 0.7, 0.4])
        >>> p.rate_counts["recall"]
        (1, 2)
        """
        if self.confusion is None:
            return None
        c = self.confusion
        return proportions(c["tp"], c["fp"], c["fn"], c["tn"])

    @property
    def unstable(self) -> bool | None:
        """Whether the threshold rests on so few rows that one of them moves it.

        ``rests_on <= 2``; ``None`` when :attr:`rests_on` is (cost rule, fixed threshold).

        Examples
        --------
        >>> ThresholdPolicy.fit([0, 1, 1], [0.2, 0.6, 0.9], positive=1, min_recall=1).unstable
        True
        """
        return None if self.rests_on is None else self.rests_on <= UNSTABLE_AT_MOST

    def describe(self) -> list[str]:
        """The policy in plain sentences: the rule, the threshold, its record, the caveats.

        Returns
        -------
        list of str
            The rule asked for; the threshold; what it achieved on which rows (counts,
            rates with their exact intervals); how many rows set the threshold and what
            the rows can show; then each caveat's message (see :meth:`caveats`).

        Examples
        --------
        >>> ThresholdPolicy.fixed(0.3, positive="M", negative="B").describe()[1]
        'Threshold: decide M when P(M) >= 0.300; otherwise B.'
        """
        return _words.describe(self)

    def caveats(self) -> list[tuple[str, str, str]]:
        """What could make this policy mislead: ``(kind, severity, message)`` tuples.

        Kinds:

        * ``"unverifiable_policy"`` (``"warning"``): a constraint whose one-sided exact
          bound at the verification level does not meet the target on these rows.
        * ``"unstable_threshold"`` (``"warning"``): the threshold rests on at most 2
          rows (:attr:`rests_on`), so one row scored differently would move it.

        Each message stands alone and says what to do.

        Examples
        --------
        >>> p = ThresholdPolicy.fit([0, 1, 1], [0.2, 0.6, 0.9], positive=1, min_recall=1)
        >>> [kind for kind, _, _ in p.caveats()]
        ['unverifiable_policy', 'unstable_threshold']
        """
        return _words.caveats(self)

    def __repr__(self) -> str:
        rule = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if k != "threshold")
        rule = f", {rule}" if rule else ""
        if self.at_confidence is not None:
            rule += f", at_confidence={self.at_confidence!r}"
        return (
            f"ThresholdPolicy(threshold={self.threshold!r}, positive={self.positive!r}, "
            f"method={self.method!r}{rule})"
        )

    # ---- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; :meth:`from_dict` rebuilds the identical policy.

        ``rule`` holds ``at_confidence`` only when it is set, so a point-estimate rule
        reads as before.

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
        rule: dict[str, Any] = {"method": self.method, **self.params}
        if self.at_confidence is not None:
            rule["at_confidence"] = self.at_confidence
        fitted = None
        if self.n_samples is not None:
            fitted = {
                "n_samples": self.n_samples,
                "n_positive": self.n_positive,
                "n_negative": self.n_negative,
            }
        return {
            "type": "ThresholdPolicy",
            "format_version": FORMAT_VERSION,
            "threshold": self.threshold,
            "positive": self.positive,
            "negative": self.negative,
            "rule": rule,
            "fitted_on": fitted,
            "confusion": None if self.confusion is None else dict(self.confusion),
            "metrics": None if self.metrics is None else dict(self.metrics),
            "intervals": intervals,
            "confidence": self.confidence,
            "interval_method": None if self.interval_method is None else dict(self.interval_method),
            "bootstrap": None if self.bootstrap is None else dict(self.bootstrap),
            "evidence": None
            if self.rests_on is None
            else {"rests_on": self.rests_on, "unstable": self.unstable},
            "verification": None if self.verification is None else self.verification.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThresholdPolicy:
        """Rebuild a policy from :meth:`to_dict` output (format version 1 or 2).

        A version-1 record has no evidence or verification (``None``); its intervals
        were all bootstrap percentile intervals and are labelled so.

        Examples
        --------
        >>> d = ThresholdPolicy.fixed(0.3, positive="malignant").to_dict()
        >>> ThresholdPolicy.from_dict(d).threshold
        0.3
        """
        version = check_header(data, "ThresholdPolicy")
        threshold = data.get("threshold")
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0.0 <= float(threshold) <= 1.0
        ):
            # A threshold outside [0, 1] decides every row the same way: never silently.
            msg = (
                f"The policy's threshold {threshold!r} is not a probability in [0, 1]; "
                "refusing a policy that would decide every row the same way."
            )
            raise ArtifactError(msg)
        try:
            rule = dict(data["rule"])
            method = str(rule.pop("method"))
            at_conf = rule.pop("at_confidence", None)
            fitted = data["fitted_on"] or {}
            intervals = data["intervals"]
            if intervals is not None:
                intervals = {k: None if v is None else (v[0], v[1]) for k, v in intervals.items()}
            boot = None if data["bootstrap"] is None else dict(data["bootstrap"])
            if version == 1:
                confidence = None if boot is None else boot.pop("confidence", None)
                methods = None if intervals is None else dict.fromkeys(intervals, BOOTSTRAP)
                evidence, verification = None, None
            else:
                confidence, methods = data["confidence"], data["interval_method"]
                evidence, verification = data["evidence"], data["verification"]
            return cls(
                threshold=float(data["threshold"]),
                positive=data["positive"],
                negative=data["negative"],
                method=method,
                params={k: float(v) for k, v in rule.items()},
                n_samples=fitted.get("n_samples"),
                n_positive=fitted.get("n_positive"),
                confusion=data["confusion"],
                metrics=data["metrics"],
                intervals=intervals,
                bootstrap=boot,
                at_confidence=None if at_conf is None else float(at_conf),
                confidence=None if confidence is None else float(confidence),
                interval_method=None if methods is None else dict(methods),
                rests_on=None if evidence is None else int(evidence["rests_on"]),
                verification=None if verification is None else Verification.from_dict(verification),
            )
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            msg = f"Not a valid ThresholdPolicy dict: missing or malformed {exc}."
            raise ArtifactError(msg) from exc


def _intervals(counts: Mapping[str, int], level: float) -> dict[str, tuple[float, float] | None]:
    """Two-sided exact interval of every proportion metric (``None`` where undefined)."""
    tail = 1.0 - (1.0 - level) / 2  # two-sided: alpha / 2 in each tail
    out: dict[str, tuple[float, float] | None] = {}
    for name, (k, n) in proportions(**counts).items():
        out[name] = (float(lower_bound(k, n, tail)), float(upper_bound(k, n, tail))) if n else None
    return out


def _bootstrap_cost(
    counts: Mapping[str, int], costs: Mapping[str, float], boot: Mapping[str, Any]
) -> tuple[float, float] | None:
    """Percentile interval of the expected cost (a multinomial draw of the four cells)."""
    rng = np.random.default_rng(boot["random_state"])
    cells = np.array([counts[k] for k in ("tp", "fp", "fn", "tn")], dtype=np.float64)
    draws = rng.multinomial(int(cells.sum()), cells / cells.sum(), size=boot["n_boot"])
    sims = rates(draws[:, 0], draws[:, 1], draws[:, 2], draws[:, 3], costs)["expected_cost"]
    alpha = 1.0 - boot["confidence"]
    q = np.quantile(sims, [alpha / 2, 1 - alpha / 2])
    return float(q[0]), float(q[1])


def _assess(
    threshold: float,
    method: str,
    params: dict[str, float],
    data: BinaryTarget,
    boot: dict[str, Any],
    at_confidence: float | None = None,
    verify_level: float | None = None,
) -> ThresholdPolicy:
    """Measure ``threshold`` on ``data`` and build the policy record."""
    flag = decide(data.p, threshold)
    tp, fp = int(np.sum(flag & data.y)), int(np.sum(flag & ~data.y))
    fn, tn = int(data.y.sum()) - tp, int((~data.y).sum()) - fp
    counts = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}
    costs = params if method == "cost" else {}
    point = rates(np.array(tp), np.array(fp), np.array(fn), np.array(tn), costs)
    metrics = {k: or_none(float(point[k])) if k in point else None for k in POLICY_METRICS}
    intervals: dict[str, tuple[float, float] | None] = {
        **_intervals(counts, boot["confidence"]),
        "expected_cost": None,
    }
    methods = {k: EXACT for k, v in intervals.items() if v is not None}
    if method == "cost" and boot["n_boot"] > 0:
        intervals["expected_cost"] = _bootstrap_cost(counts, costs, boot)
        methods["expected_cost"] = BOOTSTRAP
    verification = None
    if method in CONSTRAINED:
        level = verify_level or at_confidence or DEFAULT_VERIFY_LEVEL
        verification = verify(method, params[method], counts, level)
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
        bootstrap={"n_boot": boot["n_boot"], "random_state": boot["random_state"]},
        at_confidence=at_confidence,
        confidence=boot["confidence"],
        interval_method=methods,
        rests_on=rests_on(method, data, threshold),
        verification=verification,
    )
