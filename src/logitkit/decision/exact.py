"""Exact (Clopper-Pearson) bounds for the proportions behind a decision rule.

A rate such as recall is ``k`` successes out of ``n`` rows. The Clopper-Pearson interval
inverts the binomial test, so its coverage is at least the stated level for every ``n``
and every true rate; unlike a bootstrap percentile interval it never collapses to a point
(159 of 159 gives 0.977 to 1 at 95%, not "1 to 1").

One-sided bounds at level ``v`` (``alpha = 1 - v``):

* lower: ``Beta(alpha; k, n - k + 1)`` quantile, 0 when ``k = 0``, and ``alpha ** (1 / n)``
  when ``k = n`` (the closed form, so that :func:`rows_needed` agrees with it exactly);
* upper: ``1 - lower(n - k, n)``, by the symmetry of the binomial.

The two-sided interval at level ``v`` puts ``alpha / 2`` in each tail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from logitkit._params import Interval, OneOf, validate_params

__all__ = ["clopper_pearson", "lower_bound", "rows_needed", "upper_bound"]

FloatArray = NDArray[np.float64]
_MAX_ROWS = 2**62

_LEVEL = [Interval(Real, 0.0, 1.0, "neither")]
_INTERVAL_CHECKS: dict[str, list[Any]] = {
    "confidence": _LEVEL,
    "side": [OneOf(("two-sided", "lower", "upper"))],
}
_ROWS_CHECKS: dict[str, list[Any]] = {
    "target": [Interval(Real, 0.0, 1.0, "both")],
    "level": _LEVEL,
    "side": [OneOf(("lower", "upper"))],
}


def lower_bound(k: ArrayLike, n: ArrayLike, level: float) -> FloatArray:
    """One-sided exact lower bound of ``k / n`` at ``level`` (elementwise; NaN where ``n = 0``).

    Examples
    --------
    >>> lower_bound([0, 159], 159, 0.95).round(4).tolist()
    [0.0, 0.9813]
    """
    k_, n_ = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    alpha = 1.0 - level
    out = np.full(k_.shape, np.nan)
    out[(k_ == 0) & (n_ > 0)] = 0.0
    inner = (k_ > 0) & (k_ < n_)
    out[inner] = special.betaincinv(k_[inner], n_[inner] - k_[inner] + 1.0, alpha)
    full = (k_ == n_) & (n_ > 0)
    out[full] = alpha ** (1.0 / n_[full])
    return out


def upper_bound(k: ArrayLike, n: ArrayLike, level: float) -> FloatArray:
    """One-sided exact upper bound of ``k / n`` at ``level`` (elementwise; NaN where ``n = 0``).

    Examples
    --------
    >>> upper_bound([0, 267], 267, 0.95).round(4).tolist()
    [0.0112, 1.0]
    """
    k_, n_ = np.broadcast_arrays(np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64))
    return 1.0 - lower_bound(n_ - k_, n_, level)


def clopper_pearson(
    k: int, n: int, confidence: float = 0.95, *, side: str = "two-sided"
) -> tuple[float, float]:
    """The exact (Clopper-Pearson) confidence interval of the proportion ``k / n``.

    Parameters
    ----------
    k, n : int
        Successes and trials, ``0 <= k <= n`` and ``n >= 1``.
    confidence : float in (0, 1), default=0.95
        Coverage of the interval.
    side : {"two-sided", "lower", "upper"}, default="two-sided"
        ``"lower"`` returns ``(lower bound, 1.0)`` and ``"upper"`` ``(0.0, upper bound)``,
        each one-sided at ``confidence``.

    Returns
    -------
    tuple of float
        ``(low, high)``.

    Examples
    --------
    >>> low, high = clopper_pearson(159, 159)
    >>> round(low, 4), high
    (0.9771, 1.0)
    >>> round(clopper_pearson(159, 159, side="lower")[0], 4)
    0.9813
    """
    validate_params("clopper_pearson", {"confidence": confidence, "side": side}, _INTERVAL_CHECKS)
    if isinstance(k, bool) or isinstance(n, bool) or not 0 <= int(k) <= int(n) or int(n) < 1:
        msg = f"clopper_pearson needs counts 0 <= k <= n with n >= 1. Got k={k!r}, n={n!r}."
        raise ValueError(msg)
    if side == "lower":
        return float(lower_bound(k, n, confidence)), 1.0
    if side == "upper":
        return 0.0, float(upper_bound(k, n, confidence))
    level = 1.0 - (1.0 - confidence) / 2
    return float(lower_bound(k, n, level)), float(upper_bound(k, n, level))


def rows_needed(target: float, level: float = 0.95, *, side: str = "lower") -> int | None:
    """Least ``n`` for which ``n`` rows without one error show the target at ``level``.

    ``side="lower"`` is for a rate that must be at least ``target`` (recall, precision):
    ``n`` of ``n`` gives the lower bound ``(1 - level) ** (1 / n)``. ``side="upper"`` is
    for one that must be at most ``target`` (the false-positive rate): 0 of ``n`` gives
    the upper bound ``1 - (1 - level) ** (1 / n)``. ``None`` when no ``n`` is enough (a
    target of 1, or of 0 for an upper bound: a perfect rate can be bounded, never shown).

    Examples
    --------
    >>> rows_needed(0.995)  # ceil(ln 0.05 / ln 0.995)
    598
    >>> rows_needed(0.01, side="upper")
    299
    >>> rows_needed(1.0) is None
    True
    """
    validate_params("rows_needed", {"target": target, "level": level, "side": side}, _ROWS_CHECKS)
    goal = target if side == "lower" else 1.0 - target
    if goal >= 1.0:
        return None
    if goal <= 0.0:
        return 1
    guess = math.ceil(math.log(1.0 - level) / math.log(goal))

    def shown(m: int) -> bool:
        if side == "lower":
            return bool(lower_bound(m, m, level) >= target)
        return bool(upper_bound(0, m, level) <= target)

    # The closed form can be off in floating point: settle it with the bound itself.
    return least_n(shown, guess)


def least_n(holds: Callable[[int], bool], guess: int) -> int | None:
    """The least ``n >= 1`` for which ``holds`` (monotone in ``n``) is true.

    A bracket around ``guess``, then bisection, so a guess far off in floating point
    costs a few dozen calls. ``None`` when even ``2 ** 62`` rows do not do.

    Examples
    --------
    >>> least_n(lambda n: n * n >= 50, guess=3)
    8
    """
    hi = max(1, guess)
    while not holds(hi):
        if hi >= _MAX_ROWS:
            return None
        hi = min(2 * hi + 1, _MAX_ROWS)
    lo = max(0, min(hi, guess) // 2)  # holds(lo) is false or lo == 0
    while lo > 0 and holds(lo):
        lo //= 2
    while hi - lo > 1:  # holds(hi), not holds(lo) (or lo == 0)
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi
