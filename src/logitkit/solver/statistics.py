"""The one primitive every fit is built on: a pass over row chunks returning statistics.

A *pass* maps each chunk of rows to its :class:`Stats` (weighted loss, gradient and,
when asked, the Hessian ``X^T W X``) at the current coefficients, and adds them up.
Newton, proximal Newton, standard errors and robust covariances then work on these
small statistics only, so the same solver runs whether the chunks come from memory,
from a file read in batches, or from the partitions of a Dask cluster: a
:class:`ChunkSource` decides how the map and the reduction run.

Parameters live on the *standardised* scale: for each of ``M`` linear predictors
(``M = 1`` for a binary model, the number of classes for a multinomial one) a row
``theta[m] = (intercept, beta_1, ..., beta_p)`` acts on ``x_s = (x - mean) / scale``.
Standardisation is folded into the algebra: the linear predictor is computed as
``X @ (beta / scale) + (intercept - mean . beta / scale)``, so ``X`` is never copied,
and sparse ``X`` stays sparse. Only the Hessian builds a standardised copy of one
chunk at a time, which it needs anyway to weight the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk

from logitkit.solver.loss import binomial_loss, sigmoid, softmax

FloatArray = NDArray[np.float64]
Matrix = FloatArray | sp.csr_matrix | sp.csr_array

__all__ = [
    "Chunk",
    "ChunkSource",
    "Scaling",
    "Stats",
    "chunk_statistics",
    "linear_predictor",
]


@dataclass(frozen=True)
class Chunk:
    """A block of rows: features, target codes and row weights.

    Attributes
    ----------
    X : ndarray of shape (n, p) or CSR matrix
        Features in original units.
    y : ndarray of shape (n,)
        Integer class codes ``0 .. K-1``.
    w : ndarray of shape (n,)
        Row weights in the loss (sample weight times class weight), non-negative.
    sample_weight : ndarray of shape (n,)
        Sample weights alone, for the standardisation statistics (a row of weight 2
        counts as the row twice; class weights do not move the scaling).
    """

    X: Matrix
    y: NDArray[np.intp]
    w: FloatArray
    sample_weight: FloatArray


@dataclass(frozen=True)
class Scaling:
    """Centre and scale of each feature; ``x_s = (x - mean) / scale``."""

    mean: FloatArray
    scale: FloatArray

    @classmethod
    def identity(cls, n_features: int) -> Scaling:
        """No standardisation: mean 0, scale 1."""
        return cls(np.zeros(n_features), np.ones(n_features))


@dataclass
class Stats:
    """Sufficient statistics of one pass, summed over chunks.

    Attributes
    ----------
    loss : float
        Weighted sum of per-row negative log-likelihoods.
    weight : float
        Sum of row weights.
    grad : ndarray of shape (M, p + 1)
        Gradient of ``loss`` with respect to the standardised parameters.
    hess : ndarray of shape (M * (p + 1), M * (p + 1)) or None
        Hessian of ``loss``; only the upper triangle is accumulated until
        :meth:`finish` mirrors it.
    n_rows : int
        Number of rows seen.
    """

    loss: float
    weight: float
    grad: FloatArray
    hess: FloatArray | None
    n_rows: int

    def __add__(self, other: Stats) -> Stats:
        hess = None
        if self.hess is not None and other.hess is not None:
            hess = self.hess + other.hess
        return Stats(
            self.loss + other.loss,
            self.weight + other.weight,
            self.grad + other.grad,
            hess,
            self.n_rows + other.n_rows,
        )

    def finish(self) -> Stats:
        """Mirror the accumulated upper triangle of the Hessian into a full matrix."""
        if self.hess is not None:
            upper = np.triu(self.hess)
            self.hess = upper + np.triu(upper, 1).T
        return self


class Summable(Protocol):
    """Anything a pass can add up."""

    def __add__(self: S, other: S, /) -> S: ...


S = TypeVar("S", bound=Summable)


class ChunkSource(Protocol):
    """Where rows live and how a pass over them runs.

    Implementations: in memory (a loop over row blocks), streamed from files, and
    distributed on Dask. The solver only calls :meth:`map_reduce`.
    """

    n_features: int
    n_outputs: int

    def map_reduce(self, fn: Callable[[Chunk], S]) -> S:
        """Apply ``fn`` to every chunk and return the sum of the results."""
        ...

    def hessian_sample(self, max_rows: int) -> ChunkSource | None:
        """A cheap subset of rows for approximate Hessians, or None to use all rows."""
        ...


def iter_row_blocks(n_rows: int, block_rows: int) -> Iterator[slice]:
    """Yield consecutive row slices of at most ``block_rows`` rows."""
    for start in range(0, n_rows, block_rows):
        yield slice(start, min(start + block_rows, n_rows))


def original_units(theta: FloatArray, scaling: Scaling) -> tuple[FloatArray, FloatArray]:
    """Turn standardised ``theta`` of shape (M, p+1) into ``coef`` (M, p) and ``intercept`` (M,)."""
    coef = theta[:, 1:] / scaling.scale
    intercept = theta[:, 0] - coef @ scaling.mean
    return coef, intercept


def linear_predictor(X: Matrix, theta: FloatArray, scaling: Scaling) -> FloatArray:
    """Return the ``(n, M)`` linear predictor for standardised ``theta`` without scaling ``X``."""
    coef, intercept = original_units(theta, scaling)
    Z = np.asarray(X @ coef.T, dtype=np.float64)
    Z += intercept
    return Z


def _standardised_block(X: Matrix, scaling: Scaling) -> FloatArray:
    """``[1, (X - mean) / scale]`` for one dense chunk (a chunk-sized copy)."""
    n, p = X.shape
    out = np.empty((n, p + 1))
    out[:, 0] = 1.0
    Xd = X.toarray() if sp.issparse(X) else X
    np.subtract(Xd, scaling.mean, out=out[:, 1:])
    out[:, 1:] *= 1.0 / scaling.scale
    return out


def _weighted_cross(X: Matrix, v: FloatArray, scaling: Scaling, *, nonneg: bool) -> FloatArray:
    """Upper triangle of ``Xa^T diag(v) Xa`` with ``Xa = [1, (X - mean) / scale]``."""
    if sp.issparse(X):
        return _weighted_cross_sparse(X, v, scaling)
    block = _standardised_block(X, scaling)
    if nonneg:
        block *= np.sqrt(v)[:, None]
        # syrk reads block^T (Fortran order, no copy) and forms block^T block.
        return np.asarray(dsyrk(1.0, block.T, trans=0, lower=0))
    return np.asarray((block * v[:, None]).T @ block)


def _weighted_cross_sparse(X: Matrix, v: FloatArray, scaling: Scaling) -> FloatArray:
    """Sparse form: expand ``D^-1 (X - 1 m^T)^T V (X - 1 m^T) D^-1`` without densifying X."""
    p = X.shape[1]
    m, s = scaling.mean, scaling.scale
    XtVX = np.asarray((X.T @ X.multiply(v[:, None]).tocsr()).toarray())
    a = np.asarray(X.T @ v).ravel()
    c = float(v.sum())
    out = np.empty((p + 1, p + 1))
    out[0, 0] = c
    cross = (a - c * m) / s
    out[0, 1:] = cross
    out[1:, 0] = cross
    inner = XtVX - np.outer(m, a) - np.outer(a, m) + c * np.outer(m, m)
    out[1:, 1:] = inner / np.outer(s, s)
    return out


def _gradient_block(X: Matrix, R: FloatArray, scaling: Scaling) -> FloatArray:
    """Gradient rows ``[sum r, (X^T r - mean sum r) / scale]`` for each column of ``R``."""
    XtR = np.asarray(X.T @ R).T  # (M, p)
    sums = R.sum(axis=0)
    grad = np.empty((R.shape[1], X.shape[1] + 1))
    grad[:, 0] = sums
    grad[:, 1:] = (XtR - np.outer(sums, scaling.mean)) / scaling.scale
    return grad


def chunk_statistics(
    chunk: Chunk, theta: FloatArray, scaling: Scaling, *, hessian: bool
) -> Stats:
    """Loss, gradient and (optionally) Hessian of one chunk at standardised ``theta``.

    Parameters
    ----------
    chunk : Chunk
        The rows.
    theta : ndarray of shape (M, p + 1)
        Standardised parameters; ``M == 1`` means a binary model, else multinomial.
    scaling : Scaling
        Feature centre and scale.
    hessian : bool
        Whether to accumulate the Hessian (the expensive part).

    Returns
    -------
    Stats
        Un-mirrored statistics of this chunk (call :meth:`Stats.finish` after the sum).
    """
    X, y, w = chunk.X, chunk.y, chunk.w
    if not sp.issparse(X) and X.dtype != np.float64:
        X = np.asarray(X, dtype=np.float64)
    Z = linear_predictor(X, theta, scaling)
    M = theta.shape[0]
    hess = None
    if M == 1:
        z = Z[:, 0]
        yf = y.astype(np.float64)
        loss = float(w @ binomial_loss(z, yf))
        prob = sigmoid(z)
        R = (w * (prob - yf))[:, None]
        grad = _gradient_block(X, R, scaling)
        if hessian:
            hess = _weighted_cross(X, w * prob * (1.0 - prob), scaling, nonneg=True)
    else:
        P, lse = softmax(Z)
        rows = np.arange(Z.shape[0])
        loss = float(w @ (lse - Z[rows, y]))
        R = P.copy()
        R[rows, y] -= 1.0
        R *= w[:, None]
        grad = _gradient_block(X, R, scaling)
        if hessian:
            hess = _multinomial_hessian(X, P, w, scaling)
    return Stats(loss, float(w.sum()), grad, hess, Z.shape[0])


def _multinomial_hessian(X: Matrix, P: FloatArray, w: FloatArray, scaling: Scaling) -> FloatArray:
    """Upper block triangle of the multinomial Hessian, blocks ``(k, l)`` of size p + 1."""
    M = P.shape[1]
    q = X.shape[1] + 1
    hess = np.zeros((M * q, M * q))
    block = None if sp.issparse(X) else _standardised_block(X, scaling)
    for k in range(M):
        for l in range(k, M):
            v = w * P[:, k] * ((1.0 if k == l else 0.0) - P[:, l])
            if block is None:
                cross = _weighted_cross_sparse(X, v, scaling)
            else:
                cross = (block * v[:, None]).T @ block
            hess[k * q : (k + 1) * q, l * q : (l + 1) * q] = cross
    return hess
