"""The damped outer loop shared by Newton and proximal Newton.

Each iteration:

1. **Curvature.** The Hessian at the current point, exact, or estimated on a fixed
   row sample when the data are many times larger than needed to estimate it (a
   sub-sampled Newton step: the exact gradient keeps the fixed point exact, the sampled
   curvature only sets the speed). A proximal step may restrict it to the columns that
   can move (the non-zero coefficients and those whose gradient exceeds the L1 level).
2. **Direction.** From the curvature and the gradient: ``d = -H^{-1} g`` (Newton) or the
   minimiser of the L1-penalised quadratic model (proximal Newton); with it the
   predicted decrease ``delta < 0``.
3. **Line search.** Backtracking until ``F(t) <= F(0) + sigma t delta`` (Armijo; Tseng
   and Yun for the L1 term), from ``t = 1``, or on small problems from the minimum of
   ``F`` (with its L1 term) along ``d`` (:mod:`logitkit.solver.line_search`), until a
   search lands near the full step. Near the optimum,
   where differences of ``F`` drown in rounding, a step that lowers the optimality
   violation without raising ``F`` beyond rounding is accepted too. In Newton's
   quadratic phase one step may reuse the previous Hessian (a chord step).
4. **Stopping.** By :class:`~logitkit.solver.stopping.StoppingRule`: when the largest
   violation of the optimality (KKT) conditions is at most ``tol``, when no decrease is
   possible at rounding level, or at ``max_iter``.

An unpenalised problem switches to exact curvature for the step expected to finish,
so the solution carries the exact Hessian that standard errors need; sampling is also
dropped when a full step gains less than a factor of two.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.objective import Curvature, Objective, Point
from logitkit.solver.result import SolverResult
from logitkit.solver.stopping import StoppingRule

FloatArray = NDArray[np.float64]
#: ``direction(point) -> (d, delta)``; ``delta`` is the predicted decrease (negative).
Direction = Callable[[Point], tuple[FloatArray, float]]
#: ``columns(point)`` -> columns of ``[1, X]`` the next Hessian must cover (None: all).
Columns = Callable[[Point], NDArray[np.intp] | None]

__all__ = ["MIN_STEP", "accepts_step", "damped_descent"]

_SIGMA = 1e-4
#: Steps are halved until accepted, down to this length; then the descent has stalled.
MIN_STEP = 1e-10
_ROUNDING = 1e-13
_SLOW_FULL_STEP = 0.5
#: A reused Hessian is kept while each full step cuts the violation at least this much.
_SLOW_STALE_STEP = 0.4
#: An exact line search that returns within this share of ``t = 1`` is not repeated.
_FULL_STEP_NEAR = 0.05
#: A full Newton step that cuts the violation at least this much marks the quadratic
#: phase, where one step may reuse the previous Hessian.
_QUADRATIC_RATE = 0.05


def _covers(point: Point, needed: NDArray[np.intp] | None, objective: Objective) -> bool:
    if point.hess is None:
        return False
    if point.hess_index is None:
        return True
    if needed is None:
        return False
    return bool(np.isin(objective.parameter_index(needed), point.hess_index).all())


def accepts_step(
    value: float, new_value: float, t: float, delta: float, kkt: float, new_kkt: float
) -> bool:
    """Whether a step of length ``t`` is taken (Armijo's sufficient decrease).

    ``delta`` is the full step's predicted change of the objective (negative). A step
    whose decrease is lost in the objective's rounding is still taken when it lowers
    the optimality violation, so a solve near its optimum is not stopped by rounding.

    Examples
    --------
    >>> accepts_step(10.0, 9.0, 1.0, -1.0, 1e-3, 1e-4)
    True
    >>> accepts_step(10.0, 10.5, 1.0, -1.0, 1e-3, 1e-4)
    False
    """
    return new_value <= value + _SIGMA * t * min(delta, 0.0) or (
        new_value <= value + _ROUNDING * abs(value) and new_kkt < kkt
    )


def damped_descent(
    objective: Objective,
    theta0: FloatArray,
    *,
    tol: float,
    max_iter: int,
    direction: Direction,
    columns: Columns,
    method: str,
    curvature: Curvature | None = None,
) -> SolverResult:
    """Run the damped loop from ``theta0`` (see the module docstring).

    Parameters
    ----------
    objective : Objective
        The problem and its passes.
    theta0 : ndarray
        Flat starting parameters.
    tol : float
        Stop when the largest optimality violation is at most ``tol``.
    max_iter : int
        Largest number of iterations.
    direction : callable
        Step direction and predicted decrease at a point with a Hessian.
    columns : callable
        Which columns the Hessian at a point must cover.
    method : str
        Name recorded in the result.
    curvature : Curvature, optional
        A loss Hessian from a nearby problem (the previous penalty of a path): reused,
        with the penalty's own curvature added exactly, until steps slow down.

    Returns
    -------
    SolverResult
    """
    l1 = objective.problem.l1
    exact_at_end = np.isinf(objective.problem.C)
    exact = "sample" if objective.has_sample else "full"
    mode = exact if curvature is None else "stale"
    # Smooth problems form the first Hessian in the first pass; proximal ones need the
    # gradient first to know which columns can move.
    fused = l1 == 0.0 and mode != "stale"
    point = objective.at(theta0, hessian=mode if fused else None)
    if curvature is not None:
        objective.reuse(point, curvature)
    kkt = objective.kkt_violation(point)
    rate = 1.0
    n_iter = 0
    search = True
    chord = False  # evaluate the next trial without a Hessian and step on with this one
    rule = StoppingRule(tol, max_iter)
    while (stop := rule.check(kkt, n_iter)) is None:
        needed = columns(point)
        if not _covers(point, needed, objective):
            if mode == "stale":
                # Refresh over every column, so that it stays reusable as the working
                # set grows along a path.
                objective.add_hessian(point, exact, None)
            else:
                objective.add_hessian(point, mode, needed)
        n_iter += 1
        d, delta = direction(point)
        if delta >= 0.0 and mode != "full":
            mode = "full"
            objective.add_hessian(point, mode, needed)
            d, delta = direction(point)
        if exact_at_end and mode != "full" and kkt * rate <= tol:
            mode = "full"
        value = point.value(l1)
        trial_columns = columns(point) if needed is None else _union(needed, d, objective)
        # A reused Hessian keeps its refresh rule, which reads full steps. Once a search
        # lands near the full step, Newton's local model is right: stop searching.
        t = 1.0
        if search and mode != "stale":
            t = objective.line_minimum(point, d)
            search = abs(t - 1.0) > _FULL_STEP_NEAR
        accepted: Point | None = None
        while t >= MIN_STEP:
            trial = objective.at(
                point.theta + t * d,
                hessian=None if mode == "stale" or chord else mode,
                columns=trial_columns,
            )
            new_kkt = objective.kkt_violation(trial)
            new_value = trial.value(l1)
            if accepts_step(value, new_value, t, delta, kkt, new_kkt):
                accepted = trial
                break
            t *= 0.5
        if accepted is None:
            stop = rule.stalled(kkt, n_iter)
            break
        rate = new_kkt / kkt
        if chord:
            assert point.curvature is not None
            objective.reuse(accepted, point.curvature)
            chord = False
        elif mode == "full" and l1 == 0.0:
            # In Newton's quadratic phase the Hessian hardly changes from one step to the
            # next: the step after next reuses this one (a chord step), saving one Hessian
            # -- unless the next step is expected to finish, whose point needs its own.
            chord = not search and rate <= _QUADRATIC_RATE and new_kkt * rate > tol
        elif mode == "stale":
            if t == 1.0 and rate <= _SLOW_STALE_STEP:
                assert point.curvature is not None
                objective.reuse(accepted, point.curvature)
            else:
                # Refresh over every column and keep reusing the new one.
                objective.add_hessian(accepted, exact, None)
        elif mode == "sample" and t == 1.0 and rate > _SLOW_FULL_STEP:
            mode = "full"
        point, kkt = accepted, new_kkt
    assert stop is not None  # every way out of the loop sets it
    if mode == "full" and point.stats.hess is None:
        # A chord trial met tol: the solution still carries its exact Hessian.
        point = objective.at(point.theta, hessian="full")
    return SolverResult(
        theta=point.theta.reshape(objective.problem.shape),
        objective=point.value(l1),
        n_passes=objective.n_passes,
        method=method,
        stats=point.stats,
        convergence=stop,
        curvature=point.curvature,
    )


def _union(needed: NDArray[np.intp], d: FloatArray, objective: Objective) -> NDArray[np.intp]:
    """``needed`` plus the columns the step moves (they are non-zero at the trial point)."""
    M, q = objective.problem.shape
    moving = np.flatnonzero((d.reshape(M, q) != 0.0).any(axis=0))
    return np.union1d(needed, moving).astype(np.intp)
