"""Detect complete and quasi-complete separation, where the unpenalised estimate does not exist.

Write ``a_i = (1, x_i)`` (without the 1 when there is no intercept) and ``s_i = +1`` for
the positive class, ``-1`` otherwise. The classes are

* **completely separated** when some direction ``theta`` puts every row strictly on its
  own class's side: ``s_i a_i . theta > 0`` for all ``i``;
* **quasi-completely separated** when no direction does that, but one satisfies
  ``s_i a_i . theta >= 0`` for all ``i`` with at least one inequality strict: the rows
  with equality are tied on the boundary.

Either way the likelihood keeps rising along ``theta`` and some coefficients diverge
(Albert and Anderson, 1984). Three linear programs, each run only when needed:

1. **Screen** (Konis, 2007): maximise ``sum_i s_i a_i . theta`` subject to
   ``s_i a_i . theta >= 0`` and ``-1 <= theta <= 1``; an optimum of 0 proves overlap.
2. **Complete?** The constraints ``s_i a_i . theta >= 1`` are feasible exactly when the
   separation is complete (scale any strict direction up). Minimising ``||theta||_1``
   (the intercept free) over them names a small set of features that suffices.
3. **Otherwise, which rows?** Maximise ``sum_i t_i`` subject to
   ``s_i a_i . theta >= t_i`` and ``0 <= t_i <= 1``. Directions that separate rows
   strictly add up, so one direction separates the whole set of separable rows, and the
   optimum sets ``t_i = 1`` on exactly that set: the rows whose fitted probabilities run
   to 0 or 1. The other rows are tied on the boundary of every separating direction.
   A minimal-``||theta||_1`` direction over those constraints then names the features.

References
----------
Albert, A. and Anderson, J. A. (1984). On the existence of maximum likelihood estimates
in logistic regression models. Biometrika, 71(1), 1-10.
Konis, K. (2007). Linear programming algorithms for detecting separated data in binary
logistic regression models. DPhil thesis, University of Oxford.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["Separation", "find_separation", "single_feature_separation"]

_LP_TOL = 1e-6


@dataclass(frozen=True)
class Separation:
    """A separating direction and what it separates.

    Attributes
    ----------
    direction : ndarray of shape (p,)
        Coefficients of the direction on the scale of the features given (intercept
        excluded), of least L1 norm among those that separate the same rows.
    features : list of int
        Indices of the features that take part, largest weight first.
    complete : bool
        True when every row lies strictly on its side (complete separation), False for
        quasi-complete separation (some rows tied on the boundary of every separating
        direction).
    n_separated : int
        Rows strictly on their side, whose fitted probabilities run to 0 or 1.
    separated : ndarray of bool, shape (n,)
        Which rows those are.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[-2.0], [-1.0], [0.0], [0.0], [1.0], [2.0]])
    >>> positive = np.array([False, False, False, True, True, True])
    >>> found = find_separation(X, positive)  # ties at x = 0
    >>> found.complete, found.n_separated, found.separated.tolist()
    (False, 4, [True, True, False, False, True, True])
    """

    direction: FloatArray
    features: list[int]
    complete: bool
    n_separated: int
    separated: BoolArray


def single_feature_separation(
    Xs: FloatArray, positive: BoolArray, *, strict: bool = False
) -> list[int]:
    """Features that on their own order the classes.

    Parameters
    ----------
    Xs : ndarray of shape (n, p)
        Features (dense).
    positive : ndarray of bool, shape (n,)
        Which rows belong to the positive class.
    strict : bool, default=False
        Require a gap between the classes (complete separation by that feature alone);
        by default ties at the boundary count too (quasi-complete).

    Returns
    -------
    list of int
        Indices of the separating features, in column order.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [1.0, 2.0], [1.0, 3.0], [2.0, 0.0]])
    >>> positive = np.array([False, False, True, True])
    >>> single_feature_separation(X, positive), single_feature_separation(X, positive, strict=True)
    ([0], [])
    """
    hi_pos, lo_pos = Xs[positive].max(axis=0), Xs[positive].min(axis=0)
    hi_neg, lo_neg = Xs[~positive].max(axis=0), Xs[~positive].min(axis=0)
    nonconstant = Xs.max(axis=0) > Xs.min(axis=0)
    if strict:
        separates = (lo_pos > hi_neg) | (hi_pos < lo_neg)
    else:
        separates = (lo_pos >= hi_neg) | (hi_pos <= lo_neg)
    return [int(j) for j in np.flatnonzero(separates & nonconstant)]


def _screen(signed: FloatArray) -> bool:
    """Konis's LP: True when some direction separates at least one row strictly."""
    n, q = signed.shape
    res = linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(n),
        bounds=[(-1.0, 1.0)] * q,
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > _LP_TOL * max(n, 1))


def _least_l1(signed: FloatArray, strict: BoolArray, fit_intercept: bool) -> FloatArray | None:
    """The direction of least L1 norm with margin >= 1 on ``strict`` rows and >= 0 elsewhere.

    Written as ``theta = u - v`` with ``u, v >= 0``; the intercept is not counted in the
    norm. None when the program is infeasible.
    """
    q = signed.shape[1]
    cost = np.ones(q)
    if fit_intercept:
        cost[0] = 0.0
    res = linprog(
        c=np.concatenate([cost, cost]),
        A_ub=-np.hstack([signed, -signed]),
        b_ub=-strict.astype(np.float64),
        bounds=[(0.0, None)] * (2 * q),
        method="highs",
    )
    if res.status != 0:
        return None
    x = np.asarray(res.x)
    return np.asarray(x[:q] - x[q:], dtype=np.float64)


def _separable_rows(signed: FloatArray) -> BoolArray:
    """The rows that some direction puts strictly on their side (step 3 of the module)."""
    n, q = signed.shape
    A_ub = sp.hstack([sp.csr_matrix(-signed), sp.identity(n, format="csr")], format="csr")
    res = linprog(
        c=np.concatenate([np.zeros(q), -np.ones(n)]),
        A_ub=A_ub,
        b_ub=np.zeros(n),
        bounds=[(None, None)] * q + [(0.0, 1.0)] * n,
        method="highs",
    )
    if res.status != 0:
        return np.zeros(n, dtype=bool)
    # The optimum is 0/1 in exact arithmetic; 1/2 splits the solver's tolerance.
    return np.asarray(res.x[q:] > 0.5)


def find_separation(
    Xs: FloatArray, positive: BoolArray, *, fit_intercept: bool = True
) -> Separation | None:
    """Look for a direction that separates ``positive`` rows from the others.

    Parameters
    ----------
    Xs : ndarray of shape (n, p)
        Features (dense), best standardised so that the tolerances mean the same for
        every column.
    positive : ndarray of bool, shape (n,)
        Which rows belong to the positive class.
    fit_intercept : bool
        Whether the direction may include an intercept.

    Returns
    -------
    Separation or None
        None when the classes overlap (the estimate exists).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
    >>> found = find_separation(X, np.array([False, False, True, True]))
    >>> found.complete, found.features
    (True, [0])
    >>> find_separation(X, np.array([False, True, False, True])) is None
    True
    """
    n = Xs.shape[0]
    s = np.where(positive, 1.0, -1.0)
    A = np.column_stack([np.ones(n), Xs]) if fit_intercept else Xs
    signed = A * s[:, None]
    if not _screen(signed):
        return None
    theta = _least_l1(signed, np.ones(n, dtype=bool), fit_intercept)
    if theta is not None:
        separated = np.ones(n, dtype=bool)
    else:
        separated = _separable_rows(signed)
        if not separated.any():
            return None
        theta = _least_l1(signed, separated, fit_intercept)
        if theta is None:  # the solver disagrees with itself at its tolerance: overlap
            return None
    direction = theta[1:] if fit_intercept else theta
    scale = float(np.abs(direction).max(initial=0.0))
    order = np.argsort(-np.abs(direction), kind="stable")
    features = [int(j) for j in order if abs(direction[j]) > _LP_TOL * max(scale, 1.0)]
    if not features:
        return None
    return Separation(
        direction=direction,
        features=features,
        complete=bool(separated.all()),
        n_separated=int(separated.sum()),
        separated=separated,
    )
