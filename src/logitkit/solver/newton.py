"""Damped Newton for smooth objectives (no penalty, or L2).

Steps, in order, each iteration:

1. **Hessian.** Exact from the last pass, or, on data many times larger than needed to
   estimate it, from a fixed row sample (a sub-sampled Newton step: the exact gradient
   keeps the fixed point exact, the sampled curvature only sets the speed). Sampling is
   dropped for exact curvature as soon as a step gains less than a factor of four.
2. **Direction.** ``d = -H^{-1} g`` by Cholesky on the free parameters; a symmetric
   eigen-decomposition with a pseudo-inverse when ``H`` is singular (collinear features).
3. **Line search.** Backtracking from ``t = 1`` until the Armijo condition holds; near
   the optimum, where objective differences drown in rounding, a step that lowers the
   gradient without raising the objective beyond rounding is accepted too.
4. **Stopping.** When the largest gradient entry is at most ``tol``; when the step is
   predicted to finish, the last pass also forms the exact Hessian, which inference needs.
   At ``max_iter`` the result says so (the caller warns with the iteration count).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import eigh
from scipy.linalg.lapack import dpotrf, dpotrs

from logitkit.solver.objective import Objective, Point
from logitkit.solver.result import SolverResult

FloatArray = NDArray[np.float64]

__all__ = ["newton", "newton_direction"]

_ARMIJO = 1e-4
_MIN_STEP = 1e-10
_SLOW = 0.25
_ROUNDING = 1e-13


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


def _direction(point: Point, free: NDArray[np.bool_]) -> FloatArray:
    """Newton direction on the free parameters (zero on the fixed ones)."""
    assert point.hess is not None
    if free.all():
        return newton_direction(point.hess, point.grad)
    d = np.zeros_like(point.theta)
    d[free] = newton_direction(point.hess[np.ix_(free, free)], point.grad[free])
    return d


def _accepts(
    point: Point, trial: Point, slope: float, t: float, kkt: float, new_kkt: float
) -> bool:
    if trial.smooth <= point.smooth + _ARMIJO * t * slope:
        return True
    within_rounding = trial.smooth <= point.smooth + _ROUNDING * abs(point.smooth)
    return within_rounding and new_kkt < kkt


def newton(objective: Objective, theta0: FloatArray, *, tol: float, max_iter: int) -> SolverResult:
    """Minimise a smooth objective (``l1 == 0``) by damped Newton.

    Parameters
    ----------
    objective : Objective
        The problem and its passes.
    theta0 : ndarray
        Flat starting parameters.
    tol : float
        Stop when the largest gradient entry of a free parameter is at most ``tol``.
    max_iter : int
        Largest number of Newton steps.

    Returns
    -------
    SolverResult
    """
    free = objective.free
    use_sample = objective.has_sample
    point = objective.at(theta0, hessian="sample" if use_sample else "full")
    kkt = objective.kkt_violation(point)
    rate = 1.0
    n_iter = 0
    message = "converged: gradient below tol"
    while kkt > tol:
        if n_iter >= max_iter:
            message = f"stopped at max_iter={max_iter}"
            break
        n_iter += 1
        assert point.hess is not None
        d = _direction(point, free)
        slope = float(point.grad @ d)
        if slope >= 0.0:
            if use_sample:
                use_sample = False
                point = objective.at(point.theta, hessian="full")
                continue
            message = "stopped: no descent direction (rounding level reached)"
            break
        # Exact curvature for the step expected to finish, so the solution carries it.
        finishing = not use_sample or kkt * rate <= tol
        mode = "full" if finishing else "sample"
        t = 1.0
        while True:
            trial = objective.at(point.theta + t * d, hessian=mode)
            new_kkt = objective.kkt_violation(trial)
            if _accepts(point, trial, slope, t, kkt, new_kkt):
                break
            t *= 0.5
            if t < _MIN_STEP:
                trial = point
                new_kkt = kkt
                break
        if trial is point:
            message = "stopped: line search found no decrease (rounding level reached)"
            break
        rate = new_kkt / kkt
        if use_sample and rate > _SLOW:
            use_sample = False
            if trial.hess is None or mode == "sample":
                trial = objective.at(trial.theta, hessian="full")
        point, kkt = trial, new_kkt
    # A stop at rounding level counts as converged when the gradient is nearly at tol.
    at_rounding = "rounding level" in message and kkt <= 1e3 * tol
    return SolverResult(
        theta=point.theta.reshape(objective.problem.shape),
        objective=point.value(objective.problem.l1),
        kkt=kkt,
        converged=kkt <= tol or at_rounding,
        n_iter=n_iter,
        n_passes=objective.n_passes,
        method="newton",
        stats=point.stats,
        message=message,
    )
