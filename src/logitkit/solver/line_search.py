"""Exact minimisation of a smooth objective along a search direction, on small data.

Newton's step on a logistic loss is often too short far from the optimum: the loss
flattens as the fit sharpens, so the quadratic model overestimates the curvature ahead
and each full step covers only part of the way (on the breast-cancer data the violation
falls by a factor of about 0.4 per step for five steps). On data small enough to keep
standardised in memory, the linear predictor along a direction, ``Z + t D``, costs one
matrix-vector product; after that the one-dimensional function ``phi(t) = F(theta + t d)``
and its first two derivatives cost ``O(n M)`` each and no pass over the columns. Going to
the minimum of ``phi`` instead of trying ``t = 1`` cuts the number of Newton steps a fit
takes (9 to 6 on the breast-cancer data), and near the optimum, where the full step is
already right, it costs one evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitkit.solver.loss import sigmoid, softmax

FloatArray = NDArray[np.float64]
#: ``derivatives(t) -> (phi'(t), phi''(t))``.
Derivatives = Callable[[float], tuple[float, float]]

__all__ = ["l1_slope_along", "loss_derivatives_along", "minimise_along"]

#: The step is never extended beyond this multiple of the Newton step: past it a new
#: direction (a new Hessian) is worth more than a longer walk along the old one.
MAX_STEP = 10.0
_MAX_EVALUATIONS = 8
#: Stop once the slope along the line is this small a share of the slope at ``t = 0``.
_SLOPE_REDUCTION = 1e-2


def loss_derivatives_along(
    Z: FloatArray, D: FloatArray, y: NDArray[Any], w: FloatArray
) -> Derivatives:
    """``t -> (first, second)`` derivative in ``t`` of the weighted loss at ``Z + t D``.

    Parameters
    ----------
    Z, D : ndarray of shape (n, M)
        Linear predictor at the start and its change per unit step; ``M == 1`` is a
        binary model (the logit of class 1), else one column per class.
    y : ndarray of shape (n,)
        Class codes (for a binary model also accepted as floats 0.0 and 1.0).
    w : ndarray of shape (n,)
        Row weights.

    Returns
    -------
    callable
        ``t -> (d/dt sum_i w_i loss_i, d2/dt2 sum_i w_i loss_i)``; the second derivative
        is never negative.
    """
    if Z.shape[1] == 1:
        z, dz = Z[:, 0], D[:, 0]
        target = y if y.dtype == np.float64 else y.astype(np.float64)
        weighted = w * dz
        weighted_sq = weighted * dz

        def binary(t: float) -> tuple[float, float]:
            prob = sigmoid(z + t * dz)
            first = float(weighted @ (prob - target))
            prob *= 1.0 - prob
            return first, float(weighted_sq @ prob)

        return binary
    rows = np.arange(Z.shape[0])
    D_true = D[rows, y]

    def multinomial(t: float) -> tuple[float, float]:
        P, _ = softmax(Z + t * D)
        PD = P * D
        mean_change = PD.sum(axis=1)
        first = float(w @ (mean_change - D_true))
        second = float(w @ ((PD * D).sum(axis=1) - mean_change * mean_change))
        return first, max(second, 0.0)

    return multinomial


def l1_slope_along(
    theta: FloatArray, d: FloatArray, levels: FloatArray
) -> Callable[[float], float]:
    """``t ->`` the right derivative in ``t`` of ``sum_j levels_j |theta_j + t d_j|``.

    The L1 term along a line is convex and piecewise linear, with a kink where a
    coefficient crosses zero; its right derivative is ``sum_j levels_j d_j s_j`` with
    ``s_j`` the sign of ``theta_j + t d_j``, or of ``d_j`` at the zero itself. With it,
    :func:`minimise_along` searches the L1-penalised objective too: the sign of the
    slope still brackets the minimum, which may sit on a kink.

    Parameters
    ----------
    theta, d : ndarray
        The start and the direction.
    levels : ndarray
        L1 strength on each coordinate (0 where unpenalised).

    Returns
    -------
    callable
        ``t -> slope``; identically 0 when no coordinate with a level moves.

    Examples
    --------
    >>> import numpy as np
    >>> slope = l1_slope_along(np.array([1.0]), np.array([-1.0]), np.array([2.0]))
    >>> slope(0.5), slope(1.0)  # |1 - t| falls until t = 1, then rises
    (-2.0, 2.0)
    """
    moving = (levels > 0.0) & (d != 0.0)
    start, step, level = theta[moving], d[moving], levels[moving]
    direction_sign = np.sign(step)

    def slope(t: float) -> float:
        at = start + t * step
        sign = np.where(at == 0.0, direction_sign, np.sign(at))
        return float(level @ (step * sign))

    return slope


def minimise_along(derivatives: Derivatives, slope: float) -> float:
    """Step length that (nearly) minimises a convex ``phi`` with ``phi'(0) = slope < 0``.

    Safeguarded Newton from ``t = 1``: every evaluated point narrows a bracket around the
    minimum (the sign of ``phi'`` says on which side it lies), and a Newton step that
    leaves the bracket is replaced by its midpoint. Stops when the slope has fallen to a
    small share of ``slope``, when the step changes by less than that share, or after a
    few evaluations; never returns more than :data:`MAX_STEP`.

    Parameters
    ----------
    derivatives : callable
        ``t -> (phi'(t), phi''(t))``.
    slope : float
        ``phi'(0)``, negative for a descent direction.

    Returns
    -------
    float
        The step; 1.0 when ``slope`` is not negative (nothing to search).
    """
    if not slope < 0.0:
        return 1.0
    low, high = 0.0, MAX_STEP
    t = 1.0
    for _ in range(_MAX_EVALUATIONS):
        first, second = derivatives(t)
        if abs(first) <= _SLOPE_REDUCTION * abs(slope):
            return t
        if first < 0.0:
            low = t
        else:
            high = t
        step = t - first / second if second > 0.0 else np.inf
        if not low < step < high:
            step = 0.5 * (low + high)
        if abs(step - t) <= _SLOPE_REDUCTION * t:
            return float(step)
        t = float(step)
    return t
