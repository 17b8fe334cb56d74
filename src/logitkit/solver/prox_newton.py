"""Proximal Newton for L1 and elastic-net penalties (intercepts unpenalised).

Steps, in order, each outer iteration (as in glmnet / newGLMNET):

1. **Quadratic model.** From one pass: the gradient ``g`` and Hessian ``H`` of the smooth
   part (loss plus the L2 share of the penalty); ``H`` from a row sample on large data,
   as in :mod:`logitkit.solver.newton`.
2. **Subproblem.** Minimise ``g.d + d'Hd/2 + l1 ||beta + d||_1`` by cyclic coordinate
   descent on the ``p x p`` model (no data touched): one full sweep, then sweeps over
   the non-zero coordinates only until they settle, then a full sweep to confirm.
3. **Line search.** Backtracking on the full objective with the sufficient-decrease
   condition of Tseng and Yun (``F(t) <= F(0) + sigma t Delta``).
4. **Stopping.** When the largest violation of the optimality (KKT) conditions is at
   most ``tol``; at ``max_iter`` the result says so.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.objective import Objective, Point
from logitkit.solver.result import SolverResult

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["coordinate_descent", "prox_newton"]

_SIGMA = 1e-4
_MIN_STEP = 1e-10
_SLOW = 0.25
_ROUNDING = 1e-13
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


def prox_newton(
    objective: Objective, theta0: FloatArray, *, tol: float, max_iter: int
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
    max_iter : int
        Largest number of outer iterations.

    Returns
    -------
    SolverResult
    """
    l1 = objective.problem.l1
    free, penalised = objective.free, objective.penalised
    use_sample = objective.has_sample
    point = objective.at(theta0, hessian="sample" if use_sample else "full")
    kkt = objective.kkt_violation(point)
    rate = 1.0
    n_iter = 0
    message = "converged: KKT violation below tol"
    while kkt > tol:
        if n_iter >= max_iter:
            message = f"stopped at max_iter={max_iter}"
            break
        n_iter += 1
        assert point.hess is not None
        inner_tol = max(0.1 * kkt, 0.1 * tol)
        u = coordinate_descent(point.hess, point.grad, point.theta, l1, penalised, free, inner_tol)
        d = u - point.theta
        # Summed term by term: the difference of the two norms would drown in rounding.
        l1_change = np.abs(u[penalised]) - np.abs(point.theta[penalised])
        delta = float(point.grad @ d) + l1 * float(l1_change.sum())
        if delta >= 0.0 and use_sample:
            use_sample = False
            point = objective.at(point.theta, hessian="full")
            continue
        finishing = not use_sample or kkt * rate <= tol
        mode = "full" if finishing else "sample"
        value = point.value(l1)
        t = 1.0
        trial: Point | None = None
        while t >= _MIN_STEP:
            candidate = objective.at(point.theta + t * d, hessian=mode)
            new_kkt = objective.kkt_violation(candidate)
            new_value = candidate.value(l1)
            if new_value <= value + _SIGMA * t * delta or (
                new_value <= value + _ROUNDING * abs(value) and new_kkt < kkt
            ):
                trial = candidate
                break
            t *= 0.5
        if trial is None:
            message = "stopped: line search found no decrease (rounding level reached)"
            break
        rate = new_kkt / kkt
        if use_sample and rate > _SLOW:
            use_sample = False
            if mode == "sample":
                trial = objective.at(trial.theta, hessian="full")
        point, kkt = trial, new_kkt
    at_rounding = "rounding level" in message and kkt <= 1e3 * tol
    return SolverResult(
        theta=point.theta.reshape(objective.problem.shape),
        objective=point.value(l1),
        kkt=kkt,
        converged=kkt <= tol or at_rounding,
        n_iter=n_iter,
        n_passes=objective.n_passes,
        method="prox-newton",
        stats=point.stats,
        message=message,
    )
