"""Proximal Newton for L1 and elastic-net penalties (intercepts unpenalised), with
optional coefficient bounds and per-feature penalty factors.

The direction minimises the quadratic model ``g.d + d'Hd/2 + sum_j l1_j |beta_j +
d_j|`` within the bounds on the small ``H`` (no data touched), by rounds of a cyclic
coordinate-descent sweep, which finds the support and the coefficients at a bound,
and an exact Newton solve on the rest with their signs held
(:func:`coordinate_descent`, one solver for every case: no bounds and unit factors are
infinite bounds and equal levels), to a tolerance relative to the current optimality
violation (a forcing sequence, as in newGLMNET). ``H`` covers only the working set:
the columns with a non-zero coefficient, or whose gradient comes near the L1 level; a
column outside it that later violates the optimality conditions joins at the next
step. The loop around it is :func:`logitkit.solver.damped.damped_descent`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

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

__all__ = ["WorkingSetTooLarge", "coordinate_descent", "prox_newton"]

#: Rounds of (one sweep, one face solve) before the model solve gives up. A round
#: typically settles one change of the support, so a solve needs a few; this cap only
#: guards against a cycle.
_MAX_ROUNDS = 100


def _sweep(
    indices: list[int],
    H: FloatArray,
    q: FloatArray,
    u: FloatArray,
    levels: list[float],
    lower: list[float],
    upper: list[float],
) -> None:
    """One cyclic coordinate-descent sweep, in place (``q``, the model gradient, follows ``u``).

    Each coordinate moves to the minimiser of the model along it within its bounds, by
    the one coordinate rule :func:`~logitkit.solver.objective.coordinate_minimum`.
    """
    for j in indices:
        hjj = float(H[j, j])
        if hjj <= 0.0:
            continue
        old = float(u[j])
        new = coordinate_minimum(old - float(q[j]) / hjj, levels[j] / hjj, lower[j], upper[j])
        if new != old:
            u[j] = new
            q += (new - old) * H[j]


def _minimise_on_face(
    H: FloatArray,
    g: FloatArray,
    theta: FloatArray,
    u: FloatArray,
    levels: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    free: BoolArray,
) -> None:
    """Minimise the model over the face of ``u``, in place.

    The face is the free coordinates strictly inside their bounds and non-zero (or
    unpenalised); the others stay where they are. On it the L1 term is linear,
    ``levels * sign(u)``, and the bounds are inactive, so the model is a smooth
    quadratic whose minimiser one linear solve finds, however ill-conditioned ``H``.
    A Newton step that would carry a coefficient through zero or past a bound stops
    where the first one reaches it; that coefficient is set there exactly, leaves the
    face, and the step is repeated on the smaller face (as in feature-sign search).
    The model decreases all the way, and each cut shrinks the face, so this ends after
    at most ``size of the face`` cuts. Whether a coordinate should join or leave the
    face is for the next sweep.
    """
    for _ in range(int(free.sum()) + 1):
        on_face = free & (u > lower) & (u < upper) & ((u != 0.0) | (levels == 0.0))
        face = np.flatnonzero(on_face)
        if face.size == 0:
            return
        level, value = levels[face], u[face]
        slope = g[face] + H[face] @ (u - theta) + level * np.sign(value)
        step = newton_direction(H[np.ix_(face, face)], slope)
        # How far each coordinate may go: to zero (penalised, moving towards it), or to
        # the bound it moves towards (infinitely far when there is none).
        to_zero = np.full(face.size, np.inf)
        towards = (level > 0.0) & (value * step < 0.0)
        to_zero[towards] = -value[towards] / step[towards]
        to_bound = np.full(face.size, np.inf)
        up, down = step > 0.0, step < 0.0
        to_bound[up] = (upper[face][up] - value[up]) / step[up]
        to_bound[down] = (lower[face][down] - value[down]) / step[down]
        ratios = np.minimum(to_zero, to_bound)
        first = int(np.argmin(ratios))
        if ratios[first] >= 1.0:
            u[face] = value + step
            return
        u[face] = np.clip(value + ratios[first] * step, lower[face], upper[face])
        # The coordinate that stopped the step sits exactly where it stopped.
        j = int(face[first])
        if to_zero[first] <= to_bound[first]:
            u[j] = 0.0
        else:
            u[j] = upper[j] if step[first] > 0.0 else lower[j]


def coordinate_descent(
    H: FloatArray,
    g: FloatArray,
    theta: FloatArray,
    l1: float | FloatArray,
    penalised: BoolArray,
    free: BoolArray,
    tol: float,
    *,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
) -> tuple[FloatArray, int]:
    """Minimise ``g.(u - theta) + (u - theta)'H(u - theta)/2 + sum_j l1_j |u_j|`` (over
    the penalised ``j``) subject to ``lower <= u <= upper``.

    Rounds of one cyclic coordinate-descent sweep over the free coordinates (which
    lets coordinates join and leave the support and reach or leave a bound) and an
    exact minimisation on the face the sweep left (support, signs and bounds held, see
    ``_minimise_on_face``). Coordinate descent alone converges at a rate set by the
    conditioning of ``H``: with a weak penalty on nearly separable data, where most
    rows have probabilities near 0 or 1, that took thousands of sweeps per model. The
    face solve solves the model exactly once the sweeps have found the active set, so
    a solve takes a few rounds whatever the conditioning. Stops when the model's own
    optimality violation is at most ``tol``.

    Parameters
    ----------
    H : ndarray of shape (n, n)
        Symmetric positive semi-definite curvature.
    g : ndarray of shape (n,)
        Gradient at ``theta``.
    theta : ndarray of shape (n,)
        Current point, also the starting point (clipped to the bounds).
    l1 : float or ndarray of shape (n,)
        L1 strength on the penalised coordinates: one level, or one per coordinate
        (the L1 level times a penalty factor).
    penalised, free : ndarray of bool
        Which coordinates carry the L1 term, and which may move.
    tol : float
        Stop when the model's largest optimality violation (as
        :func:`~logitkit.solver.objective.box_violation` measures it, with the model's
        gradient) is at most ``tol``.
    lower, upper : ndarray of shape (n,), optional
        Bounds on each coordinate (``-inf``/``inf`` for none); unbounded when omitted.

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

    With bounds, the Newton point ``(1, -2)`` of ``H = I`` projected on the box:

    >>> u, _ = coordinate_descent(np.eye(2), np.array([-1.0, 2.0]), np.zeros(2), 0.0,
    ...                           on, on, 1e-12, lower=np.array([-np.inf, 0.0]),
    ...                           upper=np.array([0.5, np.inf]))
    >>> u.tolist()
    [0.5, 0.0]
    """
    n = theta.shape[0]
    low = np.full(n, -np.inf) if lower is None else lower
    high = np.full(n, np.inf) if upper is None else upper
    u = np.clip(theta, low, high)
    levels = np.where(penalised, l1, 0.0)
    coordinates = [int(j) for j in np.flatnonzero(free)]
    level_list, low_list, high_list = levels.tolist(), low.tolist(), high.tolist()

    def model_gradient() -> FloatArray:
        # Recomputed rather than carried: the sweeps' running updates drift by rounding.
        return np.asarray(g + H @ (u - theta))

    def violation() -> float:
        return box_violation(q, u, levels, low, high, free)

    q = model_gradient()
    n_sweeps = 0
    while n_sweeps < _MAX_ROUNDS:
        n_sweeps += 1
        _sweep(coordinates, H, q, u, level_list, low_list, high_list)
        q = model_gradient()
        if violation() <= tol:
            break
        _minimise_on_face(H, g, theta, u, levels, low, high, free)
        q = model_gradient()
        if violation() <= tol:
            break
    return u, n_sweeps


#: Columns whose gradient is within this share of the L1 level join the working set
#: (a screening margin in the spirit of glmnet's strong rules).
_SCREEN = 0.9


class WorkingSetTooLarge(Exception):
    """The working set outgrew the Hessian size allowed to :func:`prox_newton`.

    Attributes
    ----------
    theta : ndarray
        The flat parameters reached (a valid warm start for another method).
    size : int
        Parameters the working set would have covered.
    """

    def __init__(self, theta: FloatArray, size: int) -> None:
        super().__init__(f"the working set covers {size} parameters")
        self.theta = theta
        self.size = size


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
    max_hessian: int | None = None,
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
    max_hessian : int, optional
        Largest number of parameters the working set (and so its Hessian) may cover;
        none by default. On wide data with a strong L1 term the working set is a few
        hundred columns out of many thousands, and the Hessian over it is cheap.

    Returns
    -------
    SolverResult

    Raises
    ------
    WorkingSetTooLarge
        When the working set needs more than ``max_hessian`` parameters (the point
        reached goes with it).
    """
    levels = objective.l1_levels  # l1 times each parameter's penalty factor
    free, penalised = objective.free, objective.penalised
    M, q = objective.problem.shape

    def columns(point: Point) -> NDArray[np.intp] | None:
        moving = (point.theta != 0.0) | (np.abs(point.grad) > _SCREEN * levels) | ~penalised
        moving &= free
        used = moving.reshape(M, q).any(axis=0)
        used[0] = True
        if max_hessian is not None and M * int(used.sum()) > max_hessian:
            raise WorkingSetTooLarge(point.theta, M * int(used.sum()))
        return None if used.all() else np.flatnonzero(used).astype(np.intp)

    def direction(point: Point) -> tuple[FloatArray, float]:
        assert point.hess is not None
        index = point.hess_index
        if index is None:
            index = np.arange(point.theta.size)
        u = point.theta.copy()
        lower, upper = objective.lower, objective.upper
        u[index], n_sweeps = coordinate_descent(
            point.hess,
            point.grad[index],
            point.theta[index],
            levels[index],
            penalised[index],
            free[index],
            _inner_tol(objective.kkt_violation(point), tol),
            lower=None if lower is None else lower[index],
            upper=None if upper is None else upper[index],
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
