"""Proximal Newton for L1 and elastic-net penalties (intercepts unpenalised).

The direction minimises the L1-penalised quadratic model ``g.d + d'Hd/2 +
l1 ||beta + d||_1`` by cyclic coordinate descent on the small ``H`` (no data touched):
one full sweep, then sweeps over the non-zero coordinates until they settle, then a full
sweep to confirm (as in glmnet / newGLMNET). ``H`` covers only the working set: the
columns with a non-zero coefficient, or whose gradient comes near the L1 level; a
column outside it that later violates the optimality conditions joins at the next
step. The loop around it is :func:`logitkit.solver.damped.damped_descent`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.damped import damped_descent
from logitkit.solver.objective import Curvature, Objective, Point
from logitkit.solver.result import SolverResult

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["coordinate_descent", "prox_newton"]

_MAX_SWEEPS = 200


def _sweep(
    indices: list[int],
    H: FloatArray,
    q: FloatArray,
    u: FloatArray,
    l1: float,
    penalised: BoolArray,
) -> float:
    """One coordinate-descent sweep, in place; returns the largest curvature-scaled change."""
    largest = 0.0
    for j in indices:
        hjj = H[j, j]
        if hjj <= 0.0:
            continue
        old = u[j]
        z = old - q[j] / hjj
        if penalised[j]:
            shrink = l1 / hjj
            new = z - shrink if z > shrink else (z + shrink if z < -shrink else 0.0)
        else:
            new = z
        delta = new - old
        if delta != 0.0:
            u[j] = new
            q += delta * H[j]
            change = hjj * delta * delta
            largest = max(largest, change)
    return largest


def coordinate_descent(
    H: FloatArray,
    g: FloatArray,
    theta: FloatArray,
    l1: float,
    penalised: BoolArray,
    free: BoolArray,
    tol: float,
) -> FloatArray:
    """Minimise ``g.(u - theta) + (u - theta)'H(u - theta)/2 + l1 ||u[penalised]||_1``.

    Parameters
    ----------
    H : ndarray of shape (n, n)
        Symmetric positive semi-definite curvature.
    g : ndarray of shape (n,)
        Gradient at ``theta``.
    theta : ndarray of shape (n,)
        Current point, also the starting point.
    l1 : float
        L1 strength on the penalised coordinates.
    penalised, free : ndarray of bool
        Which coordinates carry the L1 term, and which may move.
    tol : float
        Stop when a sweep's largest ``H_jj * delta_j**2`` is below ``tol**2``.

    Returns
    -------
    ndarray
        The minimiser ``u``.
    """
    u = theta.copy()
    q = g.copy()  # gradient of the quadratic model at u
    all_free = [int(j) for j in np.flatnonzero(free)]
    threshold = tol * tol
    for _ in range(_MAX_SWEEPS):
        if _sweep(all_free, H, q, u, l1, penalised) <= threshold:
            break
        active = [j for j in all_free if u[j] != 0.0 or not penalised[j]]
        for _ in range(_MAX_SWEEPS):
            if _sweep(active, H, q, u, l1, penalised) <= threshold:
                break
    return u


#: Columns whose gradient is within this share of the L1 level join the working set
#: (a screening margin in the spirit of glmnet's strong rules).
_SCREEN = 0.9


def _inner_tol(kkt: float, tol: float) -> float:
    """How accurately to solve the quadratic model: a forcing sequence ``min(0.1, kkt^0.5)``.

    Relative to the current violation, so early steps stay cheap, and tightening as it
    shrinks, so the outer iteration converges superlinearly instead of at rate 0.1.
    """
    return max(0.01 * tol, kkt * min(0.1, math.sqrt(kkt)))


def prox_newton(
    objective: Objective,
    theta0: FloatArray,
    *,
    tol: float,
    max_iter: int,
    curvature: Curvature | None = None,
) -> SolverResult:
    """Minimise a smooth objective plus an L1 term by proximal Newton.

    Parameters
    ----------
    objective : Objective
        The problem (with ``l1 > 0``) and its passes.
    theta0 : ndarray
        Flat starting parameters.
    tol : float
        Stop when the largest KKT violation is at most ``tol``.
    curvature : Curvature, optional
        A loss Hessian from a nearby problem to start with (see ``damped_descent``).
    max_iter : int
        Largest number of outer iterations.

    Returns
    -------
    SolverResult
    """
    l1 = objective.problem.l1
    free, penalised = objective.free, objective.penalised
    M, q = objective.problem.shape

    def columns(point: Point) -> NDArray[np.intp] | None:
        moving = (point.theta != 0.0) | (np.abs(point.grad) > _SCREEN * l1) | ~penalised
        moving &= free
        used = moving.reshape(M, q).any(axis=0)
        used[0] = True
        return None if used.all() else np.flatnonzero(used).astype(np.intp)

    def direction(point: Point) -> tuple[FloatArray, float]:
        assert point.hess is not None
        index = point.hess_index
        if index is None:
            index = np.arange(point.theta.size)
        u = point.theta.copy()
        u[index] = coordinate_descent(
            point.hess,
            point.grad[index],
            point.theta[index],
            l1,
            penalised[index],
            free[index],
            _inner_tol(objective.kkt_violation(point), tol),
        )
        d = u - point.theta
        # Summed term by term: the difference of the two norms would drown in rounding.
        l1_change = np.abs(u[penalised]) - np.abs(point.theta[penalised])
        return d, float(point.grad @ d) + l1 * float(l1_change.sum())

    return damped_descent(
        objective,
        theta0,
        tol=tol,
        max_iter=max_iter,
        direction=direction,
        columns=columns,
        method="prox-newton",
        curvature=curvature,
    )
