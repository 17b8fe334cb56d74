"""Hessian-free fallback for many features: L-BFGS-B on gradient passes only.

Used where a ``p x p`` Hessian is too large to form (thousands of features, or wide
sparse data). Steps: each function evaluation is one statistics pass without the
Hessian; an L1 term is handled exactly by splitting each penalised coefficient into a
positive and a negative part with bounds at zero (at the optimum one of them is zero,
so the split problem has the same minimiser); the solve stops when the largest
projected-gradient entry is at most ``tol``, when the line search reaches rounding
level, or at ``max_iter``; :class:`~logitkit.solver.stopping.StoppingRule` then judges
the optimality violation at the end like every other method's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

from logitkit.solver.objective import Objective, Point
from logitkit.solver.result import SolverResult
from logitkit.solver.stopping import StoppingRule

FloatArray = NDArray[np.float64]

__all__ = ["lbfgs"]


def lbfgs(objective: Objective, theta0: FloatArray, *, tol: float, max_iter: int) -> SolverResult:
    """Minimise the objective with L-BFGS-B.

    Parameters
    ----------
    objective : Objective
        The problem and its passes.
    theta0 : ndarray
        Flat starting parameters.
    tol : float
        Projected-gradient tolerance.
    max_iter : int
        Largest number of L-BFGS iterations.

    Returns
    -------
    SolverResult
    """
    l1 = objective.problem.l1
    free = np.flatnonzero(objective.free)
    pen = objective.penalised[free]
    n_free = free.size
    split = l1 > 0.0
    last: dict[str, Point] = {}

    def unpack(v: FloatArray) -> FloatArray:
        theta = np.zeros_like(theta0)
        if split:
            theta[free] = v[:n_free] - np.where(pen, v[n_free:], 0.0)
        else:
            theta[free] = v
        return theta

    def fun(v: FloatArray) -> tuple[float, FloatArray]:
        point = objective.at(unpack(v))
        last["point"] = point
        g = point.grad[free]
        if not split:
            return point.smooth, g
        # Split: theta = v_plus - v_minus; |theta| = v_plus + v_minus on penalised coords.
        value = point.smooth + l1 * float(np.sum(v[:n_free][pen]) + np.sum(v[n_free:][pen]))
        grad = np.concatenate([g + l1 * pen, np.where(pen, -g + l1, 0.0)])
        return value, grad

    start = theta0[free]
    bounds: list[tuple[float | None, float | None]] | None = None
    if split:
        pos = np.where(pen, np.maximum(start, 0.0), start)
        neg = np.where(pen, np.maximum(-start, 0.0), 0.0)
        start = np.concatenate([pos, neg])
        positive: tuple[float | None, float | None] = (0.0, None)
        free_bound: tuple[float | None, float | None] = (None, None)
        bounds = [positive if p else free_bound for p in pen] + [positive] * n_free
    result = minimize(
        fun,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "gtol": tol, "ftol": 0.0, "maxcor": 20},
    )
    point = objective.at(unpack(result.x))
    kkt = objective.kkt_violation(point)
    rule = StoppingRule(tol, max_iter)
    n_iter = int(result.nit)
    # Short of tol and of max_iter, L-BFGS-B stopped because its line search found no
    # decrease: objective differences have drowned in rounding (ftol is 0).
    stop = rule.check(kkt, n_iter) or rule.stalled(kkt, n_iter, detail=str(result.message))
    return SolverResult(
        theta=point.theta.reshape(objective.problem.shape),
        objective=point.value(l1),
        n_passes=objective.n_passes,
        method="lbfgs",
        stats=point.stats,
        convergence=stop,
    )
