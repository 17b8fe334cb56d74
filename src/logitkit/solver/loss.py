"""Numerically stable binomial and multinomial log-losses on the linear predictor.

These are the only places where ``exp`` meets the linear predictor: every formula is
written so that no intermediate overflows, whatever the size of ``z`` (an unguarded
``exp(-z)`` overflows for ``z < -709``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

FloatArray = NDArray[np.float64]

__all__ = [
    "binomial_loss",
    "log1pexp",
    "multinomial_loss",
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


def softmax(Z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row-wise softmax of an ``(n, K)`` array of linear predictors.

    Returns
    -------
    P : ndarray of shape (n, K)
        Class probabilities; each row sums to one.
    lse : ndarray of shape (n,)
        ``log(sum(exp(Z), axis=1))``, computed after subtracting the row maximum.
    """
    zmax = Z.max(axis=1, keepdims=True)
    E = np.exp(Z - zmax)
    s = E.sum(axis=1, keepdims=True)
    E /= s
    lse = (np.log(s) + zmax)[:, 0]
    return E, lse


def multinomial_loss(Z: FloatArray, y: NDArray[np.intp]) -> FloatArray:
    """Per-row multinomial negative log-likelihood for integer class codes ``y``."""
    _, lse = softmax(Z)
    return lse - Z[np.arange(Z.shape[0]), y]
