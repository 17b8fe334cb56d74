"""Damped Newton for smooth objectives (no penalty, or L2).

The direction is ``d = -H^{-1} g`` by Cholesky on the free parameters, or, when ``H``
is singular (collinear features), a symmetric eigen-decomposition with a
pseudo-inverse; the loop around it (sampled curvature, line search, stopping) is
:func:`logitkit.solver.damped.damped_descent`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import eigh
from scipy.linalg.lapack import dpotrf, dpotrs

from logitkit.solver.damped import damped_descent
from logitkit.solver.objective import Curvature, Objective, Point
from logitkit.solver.result import SolverResult

FloatArray = NDArray[np.float64]

__all__ = ["newton", "newton_direction"]


def newton_direction(H: FloatArray, g: FloatArray) -> FloatArray:
    """Solve ``H d = -g``; minimum-norm solution when ``H`` is singular."""
    # LAPACK directly: small fits run thousands of these, and the wrappers cost more.
    factor, info = dpotrf(H, lower=0, clean=0)
    if info == 0:
        d, info = dpotrs(factor, g, lower=0)
        if info == 0 and np.all(np.isfinite(d)):
            return np.asarray(-d)
    vals, vecs = eigh(H, check_finite=False)
    keep = vals > max(vals.max(), 0.0) * 1e-12
    inv = np.zeros_like(vals)
    inv[keep] = 1.0 / vals[keep]
    return np.asarray(-(vecs @ (inv * (vecs.T @ g))))


def _all_columns(_point: Point) -> None:
    """Newton always uses the whole Hessian."""


def newton(
    objective: Objective,
    theta0: FloatArray,
    *,
    tol: float,
    max_iter: int,
    curvature: Curvature | None = None,
) -> SolverResult:
    """Minimise a smooth objective (``l1 == 0``) by damped Newton.

    Parameters
    ----------
    objective : Objective
        The problem and its passes.
    theta0 : ndarray
        Flat starting parameters.
    tol : float
        Stop when the largest gradient entry of a free parameter is at most ``tol``.
    curvature : Curvature, optional
        A loss Hessian from a nearby problem to start with (see ``damped_descent``).
    max_iter : int
        Largest number of Newton steps.

    Returns
    -------
    SolverResult
    """
    free = objective.free
    all_free = bool(free.all())

    def direction(point: Point) -> tuple[FloatArray, float]:
        assert point.hess is not None
        if all_free:
            d = newton_direction(point.hess, point.grad)
        else:
            d = np.zeros_like(point.theta)
            d[free] = newton_direction(point.hess[np.ix_(free, free)], point.grad[free])
        return d, float(point.grad @ d)

    return damped_descent(
        objective,
        theta0,
        tol=tol,
        max_iter=max_iter,
        direction=direction,
        columns=_all_columns,
        method="newton",
        curvature=curvature,
    )
