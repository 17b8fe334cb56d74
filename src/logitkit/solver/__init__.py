"""Numerics only: the statistics pass and the solvers built on it (numpy and scipy, no I/O).

:func:`solve` picks the algorithm: Newton for smooth problems, proximal Newton for L1
and elastic net, and L-BFGS-B where a ``p x p`` Hessian would be too large.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.lbfgs import lbfgs
from logitkit.solver.newton import newton
from logitkit.solver.objective import Curvature, Objective, Problem
from logitkit.solver.prox_newton import WorkingSetTooLarge, prox_newton
from logitkit.solver.result import SolverResult
from logitkit.solver.statistics import Chunk, ChunkSource, Scaling, Stats
from logitkit.solver.stopping import Convergence, StopReason

__all__ = [
    "Chunk",
    "ChunkSource",
    "Convergence",
    "Curvature",
    "Objective",
    "Problem",
    "Scaling",
    "SolverResult",
    "Stats",
    "StopReason",
    "initial_theta",
    "solve",
]

#: Above this many parameters the Hessian-free method is used by default.
MAX_HESSIAN_PARAMETERS = 2500
#: Above this many parameters a smooth, penalised problem goes to L-BFGS by default: a
#: Newton step forms an n x d^2 Hessian, an L-BFGS step costs about n x d, and the ten-odd
#: times more steps L-BFGS takes cost less from a few hundred parameters on (measured:
#: 5,000 x 2,000 L2 1.6 s against 14.8 s; 50 classes x 31 L2 1.6 s against 22.7 s, the
#: objectives equal to 1e-14). Unpenalised fits keep Newton up to MAX_HESSIAN_PARAMETERS
#: for its exact Hessian at the solution.
NEWTON_MAX_PARAMETERS = 400


def initial_theta(problem: Problem, class_weight_sums: NDArray[np.float64]) -> NDArray[np.float64]:
    """Start at the null model: coefficients zero, intercepts at the weighted log-odds."""
    theta = np.zeros(problem.shape)
    if problem.fit_intercept:
        share = np.clip(class_weight_sums / class_weight_sums.sum(), 1e-12, 1.0)
        if problem.n_outputs == 1:
            theta[0, 0] = np.log(share[1] / share[0])
        else:
            logs = np.log(share)
            theta[:, 0] = logs - logs.mean()
    return theta.ravel()


def _fits(curvature: Curvature | None, problem: Problem) -> Curvature | None:
    """``curvature`` if it belongs to a problem of the same shape, else None."""
    if curvature is None:
        return None
    n_params = problem.n_outputs * (problem.n_features + 1)
    size = n_params if curvature.index is None else curvature.index.size
    if curvature.hess.shape != (size, size) or (
        curvature.index is not None and curvature.index.max(initial=-1) >= n_params
    ):
        return None
    return curvature


def solve(
    problem: Problem,
    theta0: NDArray[np.float64],
    *,
    method: str = "auto",
    tol: float = 1e-8,
    max_iter: int = 100,
    presolve: bool = False,
    curvature: Curvature | None = None,
) -> SolverResult:
    """Minimise the problem's objective from ``theta0``.

    Parameters
    ----------
    problem : Problem
        The data source, scaling and penalty.
    theta0 : ndarray
        Flat starting parameters (warm start or :func:`initial_theta`).
    method : {"auto", "newton", "lbfgs"}
        "newton" means Newton for smooth problems and proximal Newton when there is an
        L1 term; "auto" chooses "lbfgs" for a smooth problem above
        ``MAX_HESSIAN_PARAMETERS`` parameters, and for a penalised one above
        ``NEWTON_MAX_PARAMETERS``. With an L1 term "auto" chooses proximal Newton, whose
        Hessian covers only the working set; above ``MAX_HESSIAN_PARAMETERS``
        parameters it goes on with "lbfgs" from where it got if the working set outgrows
        that many parameters.
    tol : float
        Optimality tolerance on the normalised objective's gradient (KKT conditions).
    max_iter : int
        Largest number of outer iterations.
    presolve : bool
        On data large enough for a Hessian sample, first solve the problem on that
        sample and start from its solution, with its last Hessian as ``curvature``
        when none is given (saves full passes from a cold start; leave it off for a
        warm start that is already close).
    curvature : Curvature, optional
        ``result.curvature`` of a nearby problem (the previous penalty on a path, a
        bootstrap resample): its Hessian is reused while steps stay fast.

    Returns
    -------
    SolverResult
        For an unpenalised problem with at most ``MAX_HESSIAN_PARAMETERS`` parameters,
        ``stats.hess`` is the exact Hessian of the loss at the solution; otherwise it
        may be None or cover only the working set of a proximal step.
    """
    objective = Objective(problem)
    n_params = problem.n_outputs * (problem.n_features + 1)
    # Proximal Newton on a wide L1 problem: its Hessian covers the working set only, and
    # the fit moves to L-BFGS if that grows too large (bounds or penalty factors: never).
    working_set_cap: int | None = None
    requested = method
    if method == "auto":
        smooth_penalised = problem.l1 == 0.0 and not np.isinf(problem.C)
        wide = n_params > MAX_HESSIAN_PARAMETERS or (
            smooth_penalised and n_params > NEWTON_MAX_PARAMETERS
        )
        if not wide or problem.needs_coordinate_descent:
            method = "newton"
        elif problem.l1 > 0.0:
            method, working_set_cap = "newton", MAX_HESSIAN_PARAMETERS
        else:
            method = "lbfgs"
    sample = objective.sample_problem() if presolve and method == "newton" else None
    if sample is not None:
        # Loosely: the sample optimum is only within sampling error of the full one.
        pre = solve(sample, theta0, method=requested, tol=max(tol, 1e-4), max_iter=max_iter)
        theta0 = pre.theta.ravel()
        if curvature is None:
            # Its last Hessian is a sampled Hessian at the new start already: reused while
            # full steps stay fast instead of forming another one per step.
            curvature = pre.curvature
    if method == "lbfgs" and problem.needs_coordinate_descent:
        msg = "The lbfgs method takes no bounds nor L1 penalty factors; use method='newton'."
        raise ValueError(msg)
    if method == "lbfgs":
        result = lbfgs(objective, theta0, tol=tol, max_iter=max(max_iter, 1000))
    elif problem.l1 > 0.0 or problem.bounded:
        try:
            result = prox_newton(
                objective,
                theta0,
                tol=tol,
                max_iter=max_iter,
                # A reused Hessian is refreshed over every column: not on wide data.
                curvature=None if working_set_cap else _fits(curvature, problem),
                max_hessian=working_set_cap,
            )
        except WorkingSetTooLarge as grown:
            result = lbfgs(objective, grown.theta, tol=tol, max_iter=max(max_iter, 1000))
    else:
        result = newton(
            objective, theta0, tol=tol, max_iter=max_iter, curvature=_fits(curvature, problem)
        )
    exact = result.stats.hess is not None and result.stats.hess.shape[0] == n_params
    if np.isinf(problem.C) and not exact and n_params <= MAX_HESSIAN_PARAMETERS:
        # Standard errors of an unpenalised fit need the exact Hessian at the solution;
        # one more pass when the last step did not form it.
        result.stats = objective.at(result.theta.ravel(), hessian="full").stats
        result.n_passes = objective.n_passes
    return result
