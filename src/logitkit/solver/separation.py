"""Detect (quasi-)complete separation, where the unpenalised estimate does not exist.

The classes are separated when some direction ``theta`` (intercept included) puts every
row on its own class's side: ``s_i * (theta_0 + x_i . theta) >= 0`` with ``s_i = +1`` for
the positive class and ``-1`` otherwise, and at least one inequality strict. Then the
likelihood keeps rising along ``theta`` and some coefficients diverge. We look for such a
direction with a linear program (Konis, 2007): maximise ``sum_i s_i x_i . theta`` subject
to the inequalities and ``-1 <= theta <= 1``; a positive optimum proves separation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

FloatArray = NDArray[np.float64]

__all__ = ["Separation", "find_separation", "single_feature_separation"]

_LP_TOL = 1e-6


@dataclass(frozen=True)
class Separation:
    """A separating direction.

    Attributes
    ----------
    direction : ndarray of shape (p,)
        Coefficients of the direction on the standardised scale (intercept excluded).
    features : list of int
        Indices of the features that take part, largest weight first.
    complete : bool
        True when every row lies strictly on its side (complete separation), False for
        quasi-complete separation (some rows on the boundary).
    n_separated : int
        Rows strictly on their side, whose fitted probabilities run to 0 or 1.
    """

    direction: FloatArray
    features: list[int]
    complete: bool
    n_separated: int


def single_feature_separation(Xs: FloatArray, positive: NDArray[np.bool_]) -> list[int]:
    """Features that on their own order the classes (every positive at or above, or below)."""
    hi_pos, lo_pos = Xs[positive].max(axis=0), Xs[positive].min(axis=0)
    hi_neg, lo_neg = Xs[~positive].max(axis=0), Xs[~positive].min(axis=0)
    nonconstant = Xs.max(axis=0) > Xs.min(axis=0)
    separates = ((lo_pos >= hi_neg) | (hi_pos <= lo_neg)) & nonconstant
    return [int(j) for j in np.flatnonzero(separates)]


def find_separation(
    Xs: FloatArray, positive: NDArray[np.bool_], *, fit_intercept: bool = True
) -> Separation | None:
    """Look for a direction that separates ``positive`` rows from the others.

    Parameters
    ----------
    Xs : ndarray of shape (n, p)
        Standardised features (dense).
    positive : ndarray of bool, shape (n,)
        Which rows belong to the positive class.
    fit_intercept : bool
        Whether the direction may include an intercept.

    Returns
    -------
    Separation or None
        None when the classes overlap (the estimate exists).
    """
    n = Xs.shape[0]
    s = np.where(positive, 1.0, -1.0)
    A = np.column_stack([np.ones(n), Xs]) if fit_intercept else Xs
    signed = A * s[:, None]
    res = linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(n),
        bounds=[(-1.0, 1.0)] * A.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= _LP_TOL * max(n, 1):
        return None
    theta = np.asarray(res.x)
    direction = theta[1:] if fit_intercept else theta
    margins = signed @ theta
    order = np.argsort(-np.abs(direction))
    features = [int(j) for j in order if abs(direction[j]) > _LP_TOL]
    if not features:
        return None
    strict = margins > _LP_TOL
    return Separation(
        direction=direction,
        features=features,
        complete=bool(strict.all()),
        n_separated=int(strict.sum()),
    )
