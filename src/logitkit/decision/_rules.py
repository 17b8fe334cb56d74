"""What the decision rules share: the metric vocabulary, rule checks and operating points.

The distinct scores ``s_1 > s_2 > ... > s_m`` split the thresholds into operating points:
every ``t`` in ``(s_{k+1}, s_k]`` flags exactly the rows scored ``>= s_k``. :func:`curve`
lists them all with their confusion counts and midpoint thresholds, :func:`rates` turns
counts into metrics (elementwise, so it serves the bootstrap too) and :func:`choose`
applies a rule to pick one point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from logitkit._params import Interval, OneOf, validate_params
from logitkit._validation import BinaryTarget
from logitkit.exceptions import ArtifactError, ConstraintError

__all__ = [
    "CONSTRAINTS",
    "COSTS",
    "FORMAT_VERSION",
    "POLICY_METRICS",
    "RULE_CONSTRAINTS",
    "RULE_KEYS",
    "Curve",
    "check_boot",
    "check_header",
    "choose",
    "curve",
    "make_rule",
    "or_none",
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
RULE_KEYS = frozenset({*CONSTRAINTS, *COSTS, "threshold"})
FORMAT_VERSION = 1

_PROBABILITY = [Interval(Real, 0.0, 1.0, "both")]
#: The values each rule argument may take.
RULE_CONSTRAINTS: dict[str, list[Any]] = {
    **{k: [Interval(Real, 0.0, math.inf, "left")] for k in COSTS},
    "min_recall": [Interval(Real, 0.0, 1.0, "right")],
    "min_precision": [Interval(Real, 0.0, 1.0, "right")],
    "max_false_positive_rate": [Interval(Real, 0.0, 1.0, "left")],
    "threshold": _PROBABILITY,
}
_BOOT_CONSTRAINTS: dict[str, list[Any]] = {
    "n_boot": [Interval(Integral, 0, math.inf, "left")],
    "confidence": [Interval(Real, 0.0, 1.0, "neither")],
    "random_state": [Interval(Integral, 0, math.inf, "left"), OneOf((None,))],
}


# --------------------------------------------------------------------------- checks
def check_header(data: Mapping[str, Any], kind: str) -> None:
    """Refuse a dict that is not a ``kind`` record of this format version."""
    if not isinstance(data, Mapping) or data.get("type") != kind:
        msg = f"Not a {kind} dict (its 'type' is not {kind!r})."
        raise ArtifactError(msg)
    if data.get("format_version") != FORMAT_VERSION:
        msg = (
            f"Unsupported {kind} format_version {data.get('format_version')!r}; "
            f"expected {FORMAT_VERSION}."
        )
        raise ArtifactError(msg)


def rule_params(where: str, params: Mapping[str, Any]) -> dict[str, float]:
    """Validate rule arguments (costs, constraint targets, a threshold) and make them floats."""
    validate_params(where, params, {k: RULE_CONSTRAINTS[k] for k in params})
    return {k: float(v) for k, v in params.items()}


def make_rule(
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
        params = rule_params(where, {k: costs[k] for k in COSTS})
        if params["cost_fp"] + params["benefit_tn"] + params["cost_fn"] + params["benefit_tp"] == 0:
            msg = (
                f"The costs and benefits passed to {where} are all 0: every threshold "
                "costs the same."
            )
            raise ValueError(msg)
        return method, params
    for k in ("benefit_tp", "benefit_tn"):
        if costs[k] != 0:
            msg = (
                f"The {k!r} parameter of {where} applies only with cost_fp and cost_fn. "
                f"Got {costs[k]!r}."
            )
            raise ValueError(msg)
    return method, rule_params(where, {method: constraints[method]})


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
    """Confusion counts and midpoint thresholds of every operating point."""
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
    return Curve(tp, fp, np.r_[top, mid], n_pos, y.size - n_pos)


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


def or_none(x: float) -> float | None:
    """``x``, or ``None`` where it is not finite (JSON has no NaN)."""
    return float(x) if math.isfinite(x) else None


def choose(method: str, params: Mapping[str, float], data: BinaryTarget) -> float:
    """Return the threshold that ``method`` picks on ``data``."""
    if method == "fixed":
        return params["threshold"]
    c = curve(data.y, data.p)
    reachable = np.isfinite(c.threshold)
    if method == "cost":
        cost = rates(c.tp, c.fp, c.n_pos - c.tp, c.n_neg - c.fp, params)["expected_cost"]
        cost = np.where(reachable, cost, np.inf)
        best = cost.min()
        tied = np.flatnonzero(cost <= best + 1e-12 * max(1.0, abs(best)))
        return float(c.threshold[tied[-1]])
    # Constraints: only points that flag at least one row (index >= 1).
    tp, fp = c.tp[1:], c.fp[1:]
    r = rates(tp, fp, c.n_pos - tp, c.n_neg - fp, {})
    target = params[method]
    if method == "min_recall":
        k = int(np.flatnonzero(r["recall"] >= target)[0])  # recall reaches 1 at the end
        return float(c.threshold[1 + k])
    if method == "min_precision":
        ok, best, what = r["precision"] >= target, np.max(r["precision"]), "precision"
    else:
        fpr = r["false_positive_rate"]
        ok, best, what = fpr <= target, np.min(fpr), "false-positive rate"
    if not ok.any():
        op = ">=" if method == "min_precision" else "<="
        msg = (
            f"No threshold gives a {what} {op} {target:g} on these {data.y.size} rows "
            f"({c.n_pos} positive); the best achievable is {best:.6g}."
        )
        raise ConstraintError(msg, best_achievable=float(best))
    return float(c.threshold[1 + np.flatnonzero(ok)[-1]])
