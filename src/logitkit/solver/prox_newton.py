"""Proximal Newton for L1 and elastic-net penalties (intercepts unpenalised).

The direction minimises the L1-penalised quadratic model ``g.d + d'Hd/2 +
l1 ||beta + d||_1`` on the small ``H`` (no data touched), by rounds of a cyclic
coordinate-descent sweep, which finds the support, and an exact Newton solve on the
support with its signs held (:func:`coordinate_descent`), to a tolerance relative to the
current optimality violation (a forcing sequence, as in newGLMNET). ``H`` covers only the working set: the
columns with a non-zero coefficient, or whose gradient comes near the L1 level; a
column outside it that later violates the optimality conditions joins at the next
step. The loop around it is :func:`logitkit.solver.damped.damped_descent`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.box import box_descent
from logitkit.solver.damped import damped_descent
from logitkit.solver.newton import newton_direction
from logitkit.solver.objective import (
    Curvature,
    Objective,
    Point,
    box_violation,
    coordinate_minimum,
)
from logitkit.solver.result import SolverResult

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["coordinate_descent", "prox_newton"]

#: Rounds of (one sweep, one face step) before the model solve gives up. A round
#: typically settles one change of the support, so a solve needs a few; this cap only
#: guards against a cycle.
_MAX_ROUNDS = 100


def _sweep(
    indices: list[int], H: FloatArray, q: FloatArray, u: FloatArray, levels: list[float]
) -> None:
    """One cyclic coordinate-descent sweep, in place (``q``, the model gradient, follows ``u``).

    Each coordinate moves to the minimiser of the model along it, by the one
    coordinate rule :func:`~logitkit.solver.objective.coordinate_minimum` (unbounded here).
    """
    for j in indices:
        hjj = float(H[j, j])
        if hjj <= 0.0:
            continue
        old = float(u[j])
        new = coordinate_minimum(old - float(q[j]) / hjj, levels[j] / hjj, -math.inf, math.inf)
        if new != old:
            u[j] = new
            q += (new - old) * H[j]


def _minimise_on_face(
    H: FloatArray,
    g: FloatArray,
    theta: FloatArray,
    u: FloatArray,
    levels: FloatArray,
    free: BoolArray,
) -> None:
    """Minimise the model over the face of ``u`` (its support and signs held), in place.

    On a face the L1 term is linear, ``levels * sign(u)``, so the model is a smooth
    quadratic whose minimiser one linear solve finds, however ill-conditioned ``H``.
    A Newton step that would carry a coefficient through zero stops where the first
    one reaches it; that coefficient leaves the support and the step is repeated on
    the smaller face (as in feature-sign search). The model decreases all the way, and
    each cut shrinks the face, so this ends after at most ``size of the support`` cuts.
    Whether a coefficient should join or leave the support is for the next sweep.
    """
    for _ in range(int(free.sum()) + 1):
        face = np.flatnonzero(free & ((u != 0.0) | (levels == 0.0)))
        if face.size == 0:
            return
        level, value = levels[face], u[face]
        slope = g[face] + H[face] @ (u - theta) + level * np.sign(value)
        step = newton_direction(H[np.ix_(face, face)], slope)
        toward_zero = (level > 0.0) & (value * step < 0.0)
        ratios = np.full(face.size, np.inf)
        ratios[toward_zero] = -value[toward_zero] / step[toward_zero]
        first = int(np.argmin(ratios))
        if ratios[first] >= 1.0:
            u[face] = value + step
            return
        u[face] = value + ratios[first] * step
        u[face[first]] = 0.0


def coordinate_descent(
    H: FloatArray,
    g: FloatArray,
    theta: FloatArray,
    l1: float,
    penalised: BoolArray,
    free: BoolArray,
    tol: float,
) -> tuple[FloatArray, int]:
    """Minimise ``g.(u - theta) + (u - theta)'H(u - theta)/2 + l1 ||u[penalised]||_1``.

    Rounds of one cyclic coordinate-descent sweep over the free coordinates (which
    lets coordinates join and leave the support) and one Newton step on the face the
    sweep left (support and signs held, see ``_minimise_on_face``). Coordinate descent
    alone converges at a rate set by the conditioning of ``H``: with a weak penalty on nearly
    separable data, where most rows have probabilities near 0 or 1, that took
    thousands of sweeps per model. The face step solves the model exactly once the
    sweeps have found the support, so a solve takes a few rounds whatever the
    conditioning. Stops when the model's own optimality violation is at most ``tol``.

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
        Stop when the model's largest optimality violation (as
        :func:`~logitkit.solver.objective.box_violation` measures it, with the model's
        gradient) is at most ``tol``.

    Returns
    -------
    u : ndarray
        The minimiser.
    n_sweeps : int
        Coordinate-descent sweeps taken.

    Examples
    --------
    >>> import numpy as np
    >>> H, g = np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([-1.0, -0.45])
    >>> on = np.ones(2, bool)
    >>> u, n_sweeps = coordinate_descent(H, g, np.zeros(2), 0.1, on, on, 1e-12)
    >>> u.round(6).tolist(), n_sweeps
    ([0.9, 0.0], 1)
    """
    u = theta.copy()
    levels = np.where(penalised, l1, 0.0)
    level_list = [float(v) for v in levels]
    coordinates = [int(j) for j in np.flatnonzero(free)]

    def model_gradient() -> FloatArray:
        # Recomputed rather than carried: the sweeps' running updates drift by rounding.
        return np.asarray(g + H @ (u - theta))

    q = g.copy()
    n_sweeps = 0
    while n_sweeps < _MAX_ROUNDS:
        n_sweeps += 1
        _sweep(coordinates, H, q, u, level_list)
        q = model_gradient()
        if box_violation(q, u, levels, None, None, free) <= tol:
            break
        _minimise_on_face(H, g, theta, u, levels, free)
        q = model_gradient()
        if box_violation(q, u, levels, None, None, free) <= tol:
            break
    return u, n_sweeps


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
    levels = objective.l1_levels  # l1 times each parameter's penalty factor
    free, penalised = objective.free, objective.penalised
    M, q = objective.problem.shape

    def columns(point: Point) -> NDArray[np.intp] | None:
        moving = (point.theta != 0.0) | (np.abs(point.grad) > _SCREEN * levels) | ~penalised
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
        if objective.needs_box_solve:  # bounds or penalty factors: logitkit.solver.box
            lower, upper = objective.box_limits()
            u[index] = box_descent(
                point.hess,
                point.grad[index],
                point.theta[index],
                levels[index],
                lower[index],
                upper[index],
                free[index],
                _inner_tol(objective.kkt_violation(point), tol),
            )
        else:
            u[index], n_sweeps = coordinate_descent(
                point.hess,
                point.grad[index],
                point.theta[index],
                l1,
                penalised[index],
                free[index],
                _inner_tol(objective.kkt_violation(point), tol),
            )
            sweeps[0] += n_sweeps
        d = u - point.theta
        # Summed term by term: the difference of the two norms would drown in rounding.
        l1_change = np.abs(u[penalised]) - np.abs(point.theta[penalised])
        return d, float(point.grad @ d) + float(levels[penalised] @ l1_change)

    sweeps = [0]  # coordinate-descent sweeps over all model solves
    result = damped_descent(
        objective,
        theta0,
        tol=tol,
        max_iter=max_iter,
        direction=direction,
        columns=columns,
        method="prox-newton",
        curvature=curvature,
    )
    result.n_sweeps = sweeps[0]
    return result
