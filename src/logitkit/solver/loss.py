"""Numerically stable binomial and multinomial log-losses on the linear predictor.

These are the only places where ``exp`` meets the linear predictor: every formula is
written so that no intermediate overflows, whatever the size of ``z`` (an unguarded
``exp(-z)`` overflows for ``z < -709``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

FloatArray = NDArray[np.float64]

__all__ = [
    "binomial_loss",
    "intercept_only_loss",
    "log1pexp",
    "multinomial_loss",
    "null_model_loss",
    "null_sums",
    "sigmoid",
    "softmax",
]


def log1pexp(z: FloatArray) -> FloatArray:
    """Return ``log(1 + exp(z))`` without overflow for any finite ``z``.

    As ``max(z, 0) + log1p(exp(-|z|))``, in place on one temporary (faster than
    ``numpy.logaddexp(0, z)`` and as accurate).
    """
    out = np.abs(z)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    out += np.maximum(z, 0.0)
    return out


def sigmoid(z: FloatArray) -> FloatArray:
    """Return ``1 / (1 + exp(-z))``, exact at both tails (0 and 1, never NaN)."""
    return expit(z)  # type: ignore[no-any-return]


def binomial_loss(z: FloatArray, y: FloatArray) -> FloatArray:
    """Per-row negative log-likelihood ``log(1 + exp(z)) - y z`` for ``y`` in {0, 1}."""
    return log1pexp(z) - y * z


def softmax(Z: FloatArray, *, overwrite: bool = False) -> tuple[FloatArray, FloatArray]:
    """Row-wise softmax of an ``(n, K)`` array of linear predictors.

    Parameters
    ----------
    Z : ndarray of shape (n, K)
        Linear predictors.
    overwrite : bool
        Compute in ``Z``'s own memory (``Z`` becomes ``P``): a fit's passes over many
        classes then make no ``n x K`` temporary. The same operations either way.

    Returns
    -------
    P : ndarray of shape (n, K)
        Class probabilities; each row sums to one.
    lse : ndarray of shape (n,)
        ``log(sum(exp(Z), axis=1))``, computed after subtracting the row maximum.
    """
    zmax = Z.max(axis=1, keepdims=True)
    E = np.subtract(Z, zmax, out=Z if overwrite else None)
    np.exp(E, out=E)
    s = E.sum(axis=1, keepdims=True)
    E /= s
    lse = (np.log(s) + zmax)[:, 0]
    return E, lse


def multinomial_loss(Z: FloatArray, y: NDArray[np.intp]) -> FloatArray:
    """Per-row multinomial negative log-likelihood for integer class codes ``y``."""
    _, lse = softmax(Z)
    return lse - Z[np.arange(Z.shape[0]), y]


def intercept_only_loss(
    y: FloatArray, w: FloatArray, offset: FloatArray, *, fit_intercept: bool = True
) -> float:
    """Smallest weighted binomial loss of the model ``logit p_i = b + offset_i``.

    The null model of a fit with an offset (statsmodels' ``llnull`` is its negative):
    one parameter, fitted by :func:`null_model_loss` from the rows in memory.

    Examples
    --------
    >>> import numpy as np
    >>> y, w = np.array([0.0, 1.0, 1.0, 1.0]), np.ones(4)
    >>> bool(np.isclose(intercept_only_loss(y, w, np.zeros(4)), -3 * np.log(0.75) - np.log(0.25)))
    True
    """
    totals = (float(w.sum()), float(w @ y), float(w @ offset))
    return null_model_loss(partial(null_sums, y, w, offset), totals, fit_intercept=fit_intercept)


def null_sums(y: FloatArray, w: FloatArray, offset: FloatArray, b: float) -> FloatArray:
    """``[loss, gradient, curvature]`` in ``b`` of the rows' null model at ``b`` (weighted
    sums, to add over blocks of rows)."""
    z = b + offset
    p = sigmoid(z)
    return np.array([float(w @ binomial_loss(z, y)), float(w @ (p - y)), float(w @ (p * (1 - p)))])


def null_model_loss(
    at: Callable[[float], FloatArray],
    totals: tuple[float, float, float],
    *,
    fit_intercept: bool = True,
) -> float:
    """The null model's smallest loss by safeguarded Newton steps in the intercept ``b``.

    ``at(b)`` gives :func:`null_sums` over every row (one pass over rows out of core);
    ``totals`` are the rows' ``(sum w, sum w y, sum w offset)``. The start is the
    offset-free log-odds less the mean offset; ``b = 0`` is held without an intercept.
    """
    if not fit_intercept:
        return float(at(0.0)[0])
    weight, positive, offset_sum = totals
    share = float(np.clip(positive / weight, 1e-12, 1 - 1e-12))
    b = float(np.log(share / (1 - share)) - offset_sum / weight)
    value, grad, curv = (float(v) for v in at(b))
    for _ in range(100):
        if curv <= 0.0 or abs(grad) <= 1e-13 * weight:
            break
        step = grad / curv
        while True:  # halve until the loss does not rise (it is convex in b)
            trial = [float(v) for v in at(b - step)]
            if trial[0] <= value or abs(step) < 1e-15:
                break
            step /= 2
        b = b - step
        value, grad, curv = trial
    return value
