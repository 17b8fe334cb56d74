"""What the decision rules share: the rule itself, the metric vocabulary, rule checks and
operating points.

:func:`decide` is the one place the decision rule ``proba >= threshold`` is written.
The distinct scores ``s_1 > s_2 > ... > s_m`` split the thresholds into operating points:
every ``t`` in ``(s_{k+1}, s_k]`` flags exactly the rows scored ``>= s_k``. :func:`curve`
lists them all with their confusion counts and midpoint thresholds, :func:`rates` turns
counts into metrics (elementwise, so it serves the bootstrap too) and :func:`choose`
applies a rule to pick one point: on the point estimate of the constrained rate, or, with
``at_confidence``, on its one-sided exact bound (:mod:`.exact`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitkit._memory import STEP_ROWS
from logitkit._params import Interval, OneOf, validate_params
from logitkit._ranks import score_groups
from logitkit._validation import BinaryTarget
from logitkit.decision.exact import lower_bound, rows_needed, upper_bound
from logitkit.exceptions import ArtifactError, ConstraintError

__all__ = [
    "CONSTRAINED",
    "CONSTRAINTS",
    "COSTS",
    "FORMAT_VERSION",
    "POLICY_METRICS",
    "READ_VERSIONS",
    "RULE_CONSTRAINTS",
    "RULE_KEYS",
    "Curve",
    "check_boot",
    "check_header",
    "check_level",
    "choose",
    "constraint_bounds",
    "curve",
    "decide",
    "make_rule",
    "meets",
    "or_none",
    "percent",
    "perfect_bound",
    "proportions",
    "rates",
    "rule_params",
]

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
CONSTRAINTS = ("min_recall", "min_precision", "max_false_positive_rate")
COSTS = ("cost_fp", "cost_fn", "benefit_tp", "benefit_tn")
#: Keys of a rule: the rule arguments of ``ThresholdPolicy.fit``, or a fixed threshold.
RULE_KEYS = frozenset({*CONSTRAINTS, *COSTS, "at_confidence", "threshold"})
#: Written by ``to_dict``; version 2 added the exact intervals, evidence and verification.
FORMAT_VERSION = 2
#: Versions ``from_dict`` reads (fields a version lacks become ``None``).
READ_VERSIONS = (1, 2)

_PROBABILITY = [Interval(Real, 0.0, 1.0, "both")]
#: The values each rule argument may take.
RULE_CONSTRAINTS: dict[str, list[Any]] = {
    **{k: [Interval(Real, 0.0, math.inf, "left")] for k in COSTS},
    "min_recall": [Interval(Real, 0.0, 1.0, "right")],
    "min_precision": [Interval(Real, 0.0, 1.0, "right")],
    "max_false_positive_rate": [Interval(Real, 0.0, 1.0, "left")],
    "threshold": _PROBABILITY,
}
_LEVEL = [Interval(Real, 0.0, 1.0, "neither")]
_BOOT_CONSTRAINTS: dict[str, list[Any]] = {
    "n_boot": [Interval(Integral, 0, math.inf, "left")],
    "confidence": _LEVEL,
    "random_state": [Interval(Integral, 0, math.inf, "left"), OneOf((None,))],
}
_LEVEL_CONSTRAINTS: dict[str, list[Any]] = {
    "at_confidence": [*_LEVEL, OneOf((None,))],
    "verify_level": [*_LEVEL, OneOf((None,))],
}
#: The constrained metric of each constraint, and which one-sided bound checks it.
CONSTRAINED = {
    "min_recall": ("recall", "lower"),
    "min_precision": ("precision", "lower"),
    "max_false_positive_rate": ("false_positive_rate", "upper"),
}


# ------------------------------------------------------------------------- the rule
def decide(proba: ArrayLike, threshold: float) -> BoolArray:
    """The decision rule: ``True`` (decide the positive label) where ``proba >= threshold``.

    Every decision in logitkit goes through this function: the policy, the report, the
    service and the command line, so that a row scored exactly at the threshold is
    decided the same way everywhere. It does not validate ``proba`` (NaN decides
    ``False``); :meth:`ThresholdPolicy.decide` does.

    Parameters
    ----------
    proba : array-like
        Probabilities of the positive label, any shape.
    threshold : float
        The policy's threshold.

    Returns
    -------
    ndarray of bool
        Same shape as ``proba``.

    Examples
    --------
    >>> decide([0.2, 0.3, 0.9], 0.3).tolist()
    [False, True, True]
    """
    out: BoolArray = np.greater_equal(np.asarray(proba, dtype=np.float64), threshold)
    return out


# --------------------------------------------------------------------------- checks
def check_header(data: Mapping[str, Any], kind: str) -> int:
    """Refuse a dict that is not a ``kind`` record of a readable format version.

    Returns
    -------
    int
        The dict's format version (one of :data:`READ_VERSIONS`).
    """
    if not isinstance(data, Mapping) or data.get("type") != kind:
        msg = f"Not a {kind} dict (its 'type' is not {kind!r})."
        raise ArtifactError(msg)
    version = data.get("format_version")
    if isinstance(version, bool) or version not in READ_VERSIONS:
        readable = " or ".join(str(v) for v in READ_VERSIONS)
        msg = f"Unsupported {kind} format_version {version!r}; expected {readable}."
        raise ArtifactError(msg)
    return int(version)


def rule_params(where: str, params: Mapping[str, Any]) -> dict[str, float]:
    """Validate rule arguments (costs, constraint targets, a threshold) and make them floats."""
    validate_params(where, params, {k: RULE_CONSTRAINTS[k] for k in params})
    return {k: float(v) for k, v in params.items()}


def make_rule(
    where: str,
    costs: dict[str, float | None],
    constraints: dict[str, float | None],
    at_confidence: float | None = None,
) -> tuple[str, dict[str, float], float | None]:
    """Validate the rule arguments of ``fit``; return ``(method, params, at_confidence)``."""
    at_confidence = check_level(where, "at_confidence", at_confidence)
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
        params = rule_params(where, {k: costs[k] for k in COSTS})
        if params["cost_fp"] + params["benefit_tn"] + params["cost_fn"] + params["benefit_tp"] == 0:
            msg = (
                f"The costs and benefits passed to {where} are all 0: every threshold "
                "costs the same."
            )
            raise ValueError(msg)
        if at_confidence is not None:
            raise ValueError(_constraints_only(where, "at_confidence", at_confidence))
        return method, params, None
    for k in ("benefit_tp", "benefit_tn"):
        if costs[k] != 0:
            msg = (
                f"The {k!r} parameter of {where} applies only with cost_fp and cost_fn. "
                f"Got {costs[k]!r}."
            )
            raise ValueError(msg)
    return method, rule_params(where, {method: constraints[method]}), at_confidence


def _constraints_only(where: str, name: str, value: Any) -> str:
    return (
        f"The {name!r} parameter of {where} applies only with min_recall, min_precision "
        f"or max_false_positive_rate. Got {value!r}."
    )


def check_level(where: str, name: str, value: Any, method: str | None = None) -> float | None:
    """Validate a confidence level that may be ``None``; refuse it for rules without a target.

    ``method`` (when given) is the rule the level would apply to: a level with the cost
    rule or a fixed threshold would have no effect, so it is refused.
    """
    validate_params(where, {name: value}, {name: _LEVEL_CONSTRAINTS[name]})
    if value is None:
        return None
    if method is not None and method not in CONSTRAINTS:
        raise ValueError(_constraints_only(where, name, value))
    return float(value)


def check_boot(n_boot: Any, confidence: Any, random_state: Any, where: str) -> dict[str, Any]:
    """Validate the bootstrap settings; return them as plain Python values."""
    boot = {"n_boot": n_boot, "confidence": confidence, "random_state": random_state}
    validate_params(where, boot, _BOOT_CONSTRAINTS)
    return {
        "n_boot": int(n_boot),
        "confidence": float(confidence),
        "random_state": None if random_state is None else int(random_state),
    }


# ------------------------------------------------------------------------- numerics
class Curve(NamedTuple):
    """All operating points; index 0 flags no row, index k the rows scored >= s_k."""

    tp: NDArray[np.int64]
    fp: NDArray[np.int64]
    threshold: FloatArray  # the midpoint threshold of each point; NaN if unreachable
    n_pos: int
    n_neg: int


def curve(y: BoolArray, p: FloatArray) -> Curve:
    """Confusion counts and midpoint thresholds of every operating point.

    There are as many points as distinct scores (up to one per row: tens of millions
    at scale). They come from the one sort of :func:`~logitkit._ranks.score_groups`,
    and each array is made once and its sources freed as it goes: about 25 bytes a
    point at the peak.
    """
    pos, neg, scores = score_groups(y, p, scores=True)
    assert scores is not None
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if not scores.size:
        return Curve(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1), 0, 0)
    upper = scores[::-1]  # the points' lowest flagged scores, from the highest down
    threshold = np.empty(upper.size + 1)
    mid = threshold[1:]
    mid[:-1] = upper[1:]  # the next lower score
    mid[-1] = 0.0
    np.add(mid, upper, out=mid)
    mid /= 2
    # Neighbouring floats: the midpoint rounds down to the lower one; take the upper.
    rounded = np.empty(upper.size, dtype=bool)
    np.greater(mid[:-1], upper[1:], out=rounded[:-1])
    rounded[-1] = mid[-1] > 0.0
    np.logical_not(rounded, out=rounded)
    np.copyto(mid, upper, where=rounded)
    del rounded
    top = (1.0 + upper[0]) / 2 if upper[0] < 1.0 else math.nan
    threshold[0] = 1.0 if top <= upper[0] else top
    del upper, scores
    tp = np.zeros(pos.size + 1, dtype=np.int64)  # flagged positives, from the top down
    np.cumsum(pos[::-1], out=tp[1:])
    del pos
    fp = np.zeros_like(tp)
    np.cumsum(neg[::-1], out=fp[1:])
    del neg
    return Curve(tp, fp, threshold, n_pos, n_neg)


def rates(
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


def _constrained_rate(
    method: str, tp: NDArray[np.int64], fp: NDArray[np.int64], n_pos: int, n_neg: int
) -> FloatArray:
    """The constrained metric of ``method`` at every point: :func:`rates`' value, bit
    for bit (``tp + fn`` is ``n_pos`` exactly), without the other metrics' arrays."""
    t, f = tp.astype(np.float64), fp.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "min_recall":
            t /= float(n_pos)
            return t
        if method == "min_precision":
            out: FloatArray = t / (t + f)
            return out
        f /= float(n_neg)
        return f


def or_none(x: float) -> float | None:
    """``x``, or ``None`` where it is not finite (JSON has no NaN)."""
    return float(x) if math.isfinite(x) else None


def proportions(tp: int, fp: int, fn: int, tn: int) -> dict[str, tuple[int, int]]:
    """``(successes, trials)`` behind each proportion metric, from confusion counts."""
    n = tp + fp + fn + tn
    return {
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "false_positive_rate": (fp, fp + tn),
        "negative_predictive_value": (tn, tn + fn),
        "accuracy": (tp + tn, n),
        "predicted_positive_rate": (tp + fp, n),
    }


def constraint_bounds(
    method: str, tp: NDArray[Any], fp: NDArray[Any], n_pos: int, n_neg: int, level: float
) -> FloatArray:
    """One-sided exact bound of the constrained metric of ``method`` at ``level``.

    The lower bound of recall or precision, the upper bound of the false-positive rate
    (elementwise over operating points; NaN where nothing is flagged for precision).
    """
    if method == "min_recall":
        return lower_bound(tp, n_pos, level)
    if method == "min_precision":
        return lower_bound(tp, tp + fp, level)
    return upper_bound(fp, n_neg, level)


def perfect_bound(method: str, n_pos: int, n_neg: int, level: float) -> float:
    """The bound that a result without one error would give on these rows.

    Recall and precision: every positive flagged and nothing else (``n_pos`` of
    ``n_pos``); the false-positive rate: no negative flagged (0 of ``n_neg``).
    """
    if method == "max_false_positive_rate":
        return float(upper_bound(0, n_neg, level))
    return float(lower_bound(n_pos, n_pos, level))


def meets(method: str, value: FloatArray | float, target: float) -> NDArray[np.bool_]:
    """Where ``value`` (a rate or its bound) satisfies the constraint ``method``."""
    v = np.asarray(value, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out: NDArray[np.bool_] = v <= target if method == "max_false_positive_rate" else v >= target
    return out


def percent(level: float) -> str:
    """A confidence level as text: ``0.95 -> "95%"``."""
    return f"{100 * level:.10g}%"


def choose(
    method: str,
    params: Mapping[str, float],
    data: BinaryTarget,
    at_confidence: float | None = None,
) -> float:
    """Return the threshold that ``method`` picks on ``data``.

    With ``at_confidence`` a constraint is met by the one-sided exact bound of its metric
    at that level instead of the point estimate (:func:`constraint_bounds`).
    """
    if method == "fixed":
        return params["threshold"]
    c = curve(data.y, data.p)
    if method == "cost":
        cost = rates(c.tp, c.fp, c.n_pos - c.tp, c.n_neg - c.fp, params)["expected_cost"]
        cost = np.where(np.isfinite(c.threshold), cost, np.inf)
        best = cost.min()
        tied = np.flatnonzero(cost <= best + 1e-12 * max(1.0, abs(best)))
        return float(c.threshold[tied[-1]])
    # Constraints: only points that flag at least one row (index >= 1).
    tp, fp = c.tp[1:], c.fp[1:]
    target = params[method]
    if at_confidence is None:
        # The rate in steps of points: only where it meets the target is kept (at scale
        # the points number tens of millions); all of it only to say why none does.
        ok = np.empty(tp.size, dtype=bool)
        for i in range(0, tp.size, STEP_ROWS):
            part = slice(i, i + STEP_ROWS)
            rate = _constrained_rate(method, tp[part], fp[part], c.n_pos, c.n_neg)
            ok[part] = meets(method, rate, target)
        if not ok.any():
            value = _constrained_rate(method, tp, fp, c.n_pos, c.n_neg)
            raise _unmet(method, target, value, data, c)
    else:
        value = constraint_bounds(method, tp, fp, c.n_pos, c.n_neg, at_confidence)
        ok = meets(method, value, target)
        if not ok.any():
            raise _unshown(method, target, value, data, c, at_confidence)
    # min_recall: the highest threshold (fewest false alarms); the others: the lowest.
    # (The first or last point that meets it, without listing every one: at scale they
    # number tens of millions.)
    k = int(np.argmax(ok)) if method == "min_recall" else ok.size - 1 - int(np.argmax(ok[::-1]))
    return float(c.threshold[1 + k])


def _unmet(
    method: str, target: float, value: FloatArray, data: BinaryTarget, c: Curve
) -> ConstraintError:
    # recall reaches 1 when every row is flagged, so only these two can fail
    if method == "min_precision":
        best, what, op = float(np.max(value)), "precision", ">="
    else:
        best, what, op = float(np.min(value)), "false-positive rate", "<="
    msg = (
        f"No threshold gives a {what} {op} {target:g} on these {data.y.size} rows "
        f"({c.n_pos} positive); the best achievable is {best:.6g}."
    )
    return ConstraintError(msg, best_achievable=best)


_NAMES = {
    "recall": "recall",
    "precision": "precision",
    "false_positive_rate": "false-positive rate",
}


def _unshown(
    method: str, target: float, bound: FloatArray, data: BinaryTarget, c: Curve, level: float
) -> ConstraintError:
    """What the data can show when no threshold's bound meets the target."""
    metric, side = CONSTRAINED[method]
    need = rows_needed(target, level, side=side)
    pct = percent(level)
    best = float(np.nanmax(bound) if side == "lower" else np.nanmin(bound))
    op, digits = (">=", ".3f") if side == "lower" else ("<=", ".3g")
    # From which rows, what the best bound is, and what rows would show the target.
    source, proof, more = {
        "min_recall": (
            f"from {c.n_pos} positives ({data.positive!r})",
            "zero misses proves only",
            f"{need} positives",
        ),
        "min_precision": (
            f"on these {data.y.size} rows ({c.n_pos} positive, {data.positive!r})",
            "the best threshold proves only",
            f"{need} flagged rows, none of them a false alarm",
        ),
        "max_false_positive_rate": (
            f"from {c.n_neg} negatives ({data.negative!r})",
            "the best threshold proves only",
            f"{need} negatives, none of them flagged",
        ),
    }[method]
    name = _NAMES[metric]
    text = (
        f"{name} {op} {target:g} cannot be shown at {pct} confidence {source}: {proof} "
        f"{name} {op} {best:{digits}}"
    )
    tail = (
        f"; it would take at least {more}."
        if need is not None
        else f"; no number of rows can show a {_NAMES[metric]} of exactly {target:g}."
    )
    showable = (
        f"{math.floor(best * 1000) / 1000:.3f} or less"
        if side == "lower"
        else (f"{math.ceil(best * 1000) / 1000:.3f} or more")
    )
    advice = (
        f" Set the target to {showable} (what these rows can show), label more rows, or "
        "choose without at_confidence (on the point estimate) and read the policy's caveats."
    )
    return ConstraintError(text + tail + advice, best_achievable=best)
