"""The proximal-Newton model solve with coefficient bounds and per-coordinate L1 levels.

Minimises the quadratic model ``g.(u - theta) + (u - theta)'H(u - theta)/2 +
sum_j levels_j |u_j|`` subject to ``lower <= u <= upper`` on the small ``H`` (no data
touched). Steps, in rounds until the model's optimality violation
(:func:`~logitkit.solver.objective.box_violation`) is at most ``tol``:

1. **Sweep.** One cyclic coordinate-descent sweep over the free coordinates; each
   coordinate moves to its exact minimiser within its bounds
   (:func:`~logitkit.solver.objective.coordinate_minimum`), so coordinates may join or
   leave the support and reach or leave a bound.
2. **Face step.** A Newton step on the coordinates that are inside their bounds and
   non-zero (or unpenalised), with signs held, so that the L1 term is linear there;
   the step stops where the first of them reaches zero or a bound, which it then
   equals exactly. The model decreases along the whole step.

The face step makes the solve take a few rounds whatever the conditioning of ``H``;
the sweeps alone would converge at a rate set by it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.newton import newton_direction
from logitkit.solver.objective import box_violation, coordinate_minimum

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["box_descent"]

#: Rounds (one sweep, one face step) before the solve stops; a round typically settles
#: one change of the active set, and this cap only guards against a cycle.
_MAX_ROUNDS = 200


def _sweep(
    indices: list[int],
    H: FloatArray,
    q: FloatArray,
    u: FloatArray,
    levels: list[float],
    lower: list[float],
    upper: list[float],
) -> None:
    """One cyclic sweep, in place (``q``, the model gradient, follows ``u``)."""
    for j in indices:
        hjj = float(H[j, j])
        if hjj <= 0.0:
            continue
        old = float(u[j])
        new = coordinate_minimum(old - float(q[j]) / hjj, levels[j] / hjj, lower[j], upper[j])
        if new != old:
            u[j] = new
            q += (new - old) * H[j]


def _face_step(
    H: FloatArray,
    q: FloatArray,
    u: FloatArray,
    levels: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    free: BoolArray,
) -> None:
    """Newton step on the face of ``u`` (see the module docstring), in place."""
    inside = (u > lower) & (u < upper)
    face = np.flatnonzero(free & inside & ((u != 0.0) | (levels == 0.0)))
    if face.size == 0:
        return
    level, value = levels[face], u[face]
    step = newton_direction(H[np.ix_(face, face)], q[face] + level * np.sign(value))
    # How far each coordinate may go: to zero (penalised, moving towards it), or to
    # the bound it moves towards.
    to_zero, to_bound = np.full(face.size, np.inf), np.full(face.size, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        towards = (level > 0.0) & (value * step < 0.0)
        to_zero[towards] = -value[towards] / step[towards]
        up, down = step > 0.0, step < 0.0
        to_bound[up] = (upper[face][up] - value[up]) / step[up]
        to_bound[down] = (lower[face][down] - value[down]) / step[down]
    limit = np.minimum(to_zero, to_bound)
    first = int(np.argmin(limit))
    t = min(1.0, float(limit[first]))
    u[face] = value + t * step
    if t < 1.0:
        # The coordinate that stopped the step sits exactly where it stopped.
        j = int(face[first])
        if to_zero[first] <= to_bound[first]:
            u[j] = 0.0
        else:
            u[j] = upper[j] if step[first] > 0.0 else lower[j]
    np.clip(u, lower, upper, out=u)


def box_descent(
    H: FloatArray,
    g: FloatArray,
    theta: FloatArray,
    levels: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    free: BoolArray,
    tol: float,
) -> FloatArray:
    """Minimise the bounded, L1-penalised quadratic model (see the module docstring).

    Parameters
    ----------
    H : ndarray of shape (n, n)
        Symmetric positive semi-definite curvature.
    g : ndarray of shape (n,)
        Gradient at ``theta``.
    theta : ndarray of shape (n,)
        Current point (inside the bounds), also the starting point.
    levels : ndarray of shape (n,)
        L1 strength on each coordinate (0 where unpenalised).
    lower, upper : ndarray of shape (n,)
        Bounds on each coordinate (``-inf``/``inf`` for none).
    free : ndarray of bool
        Which coordinates may move.
    tol : float
        Stop when the model's largest optimality violation is at most ``tol``.

    Returns
    -------
    ndarray
        The minimiser ``u``.

    Examples
    --------
    >>> import numpy as np
    >>> H, g = np.eye(2), np.array([-1.0, 2.0])
    >>> inf = np.inf
    >>> u = box_descent(H, g, np.zeros(2), np.zeros(2), np.array([-inf, 0.0]),
    ...                 np.array([0.5, inf]), np.ones(2, bool), 1e-12)
    >>> u.tolist()  # the Newton point (1, -2) projected on the box
    [0.5, 0.0]
    """
    u = np.clip(theta, lower, upper)
    coordinates = [int(j) for j in np.flatnonzero(free)]
    level_list, lower_list, upper_list = levels.tolist(), lower.tolist(), upper.tolist()

    def model_gradient() -> FloatArray:
        # Recomputed rather than carried: the sweeps' running updates drift by rounding.
        return np.asarray(g + H @ (u - theta))

    q = model_gradient()
    for _ in range(_MAX_ROUNDS):
        _sweep(coordinates, H, q, u, level_list, lower_list, upper_list)
        q = model_gradient()
        if box_violation(q, u, levels, lower, upper, free) <= tol:
            break
        _face_step(H, q, u, levels, lower, upper, free)
        q = model_gradient()
        if box_violation(q, u, levels, lower, upper, free) <= tol:
            break
    return u
