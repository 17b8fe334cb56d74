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
and sparse ``X`` stays sparse. Only a dense Hessian standardises rows, a cache-sized
block at a time, which it needs anyway to weight them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, Self, TypeAlias, TypeVar

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from logitkit.solver.loss import binomial_loss, log1pexp, sigmoid, softmax

FloatArray = NDArray[np.float64]
#: A dense float array or a scipy CSR matrix (scipy ships no type information for these).
Matrix: TypeAlias = Any

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
    offset : ndarray of shape (n,) or None
        A known term added to every linear predictor of the row (R's ``glm(offset=)``);
        None means zero.
    """

    X: Matrix
    y: NDArray[np.intp]
    w: FloatArray
    sample_weight: FloatArray
    offset: FloatArray | None = None


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
        Hessian of ``loss``, when asked for.
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


class Summable(Protocol):
    """Anything a pass can add up."""

    def __add__(self, other: Self, /) -> Self: ...


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


def standardised_block(X: Matrix, scaling: Scaling) -> FloatArray:
    """``Xa = [1, (X - mean) / scale]`` for one chunk (a chunk-sized dense copy).

    Column-major: weighting the rows for a Hessian then runs down contiguous columns.
    """
    n, p = X.shape
    out = np.empty((p + 1, n))
    out[0] = 1.0
    body = out[1:]
    body[...] = (X.toarray() if sp.issparse(X) else X).T
    body -= scaling.mean[:, None]
    body *= (1.0 / scaling.scale)[:, None]
    return out.T


def _syrk(A: FloatArray) -> FloatArray:
    """``A^T A``; numpy recognises the transposed pair and runs a symmetric rank-k update.

    (numpy's BLAS rather than scipy's ``dsyrk``: on a loaded machine scipy's threaded
    syrk was seen to run two hundred times slower.)
    """
    return np.asarray(A.T @ A)


def _features(columns: NDArray[np.intp] | None, q: int) -> tuple[NDArray[np.intp], bool]:
    """Feature indices (0-based) and whether the intercept is among ``columns``."""
    if columns is None:
        return np.arange(q - 1), True
    return columns[columns > 0] - 1, bool((columns == 0).any())


def _assemble(inner: FloatArray, cross: FloatArray, corner: float, intercept: bool) -> FloatArray:
    """``[[corner, cross], [cross, inner]]`` (or just ``inner`` without an intercept)."""
    if not intercept:
        return inner
    k = inner.shape[0]
    out = np.empty((k + 1, k + 1))
    out[0, 0] = corner
    out[0, 1:] = cross
    out[1:, 0] = cross
    out[1:, 1:] = inner
    return out


#: Values per row block of a dense Hessian: a block is centred and weighted in one reused
#: buffer that stays in cache (a chunk-sized copy costs more in fresh memory and page
#: faults than the product itself: 100,000 x 20, 10.6 ms against 4 ms) ...
_GRAM_BLOCK_VALUES = 2**16
#: ... and at least this many rows per column, so that on wide data each block's product
#: stays efficient (its k x k update is small beside the block's n k^2 / 2 work).
_GRAM_ROWS_PER_COLUMN = 4


class _DenseGram:
    """``Xa_c^T diag(v) Xa_c`` over chosen columns ``c`` of ``Xa = [1, (X - mean) / scale]``.

    Rows are centred block by block into one small buffer, and the products summed over
    the blocks; the scale is applied to the small result, not to the rows.
    """

    def __init__(self, X: FloatArray, scaling: Scaling, columns: NDArray[np.intp] | None) -> None:
        feats, self.intercept = _features(columns, X.shape[1] + 1)
        full = columns is None or feats.size == X.shape[1]
        self.X = X if full else X[:, feats]
        self.mean = scaling.mean[feats]
        self.inv_scale = 1.0 / scaling.scale[feats]
        n, k = self.X.shape
        self.rows = max(_GRAM_BLOCK_VALUES // max(k, 1), _GRAM_ROWS_PER_COLUMN * k, 1)
        self.buffer = np.empty((min(self.rows, n), k))

    def __call__(self, v: FloatArray) -> FloatArray:
        n, k = self.X.shape
        inner, cross = np.zeros((k, k)), np.zeros(k)
        nonnegative = bool((v >= 0).all())
        for start in range(0, n, self.rows):
            block = self.X[start : start + self.rows]
            B = np.subtract(block, self.mean, out=self.buffer[: block.shape[0]])
            vb = v[start : start + self.rows]
            if nonnegative:
                root = np.sqrt(vb)
                B *= root[:, None]
                inner += _syrk(B)  # a sum of exactly symmetric products
                cross += B.T @ root
            else:
                cross += B.T @ vb
                inner += (B * vb[:, None]).T @ B
        inner *= np.outer(self.inv_scale, self.inv_scale)
        cross *= self.inv_scale
        return _assemble(inner, cross, float(v.sum()), self.intercept)


def _sparse_gram(
    X: Matrix, v: FloatArray, scaling: Scaling, columns: NDArray[np.intp] | None
) -> FloatArray:
    """Sparse form: expand ``D^-1 (X - 1 m^T)^T V (X - 1 m^T) D^-1`` without densifying X."""
    feats, intercept = _features(columns, X.shape[1] + 1)
    Xf = X if feats.size == X.shape[1] else X[:, feats]
    m, s = scaling.mean[feats], scaling.scale[feats]
    XtVX = np.asarray((Xf.T @ Xf.multiply(v[:, None]).tocsr()).toarray())
    a = np.asarray(Xf.T @ v).ravel()
    c = float(v.sum())
    inner = (XtVX - np.outer(m, a) - np.outer(a, m) + c * np.outer(m, m)) / np.outer(s, s)
    return _assemble(inner, (a - c * m) / s, c, intercept)


def _residuals(
    Z: FloatArray, y: NDArray[np.intp], w: FloatArray, *, overwrite: bool = False
) -> tuple[float, FloatArray, FloatArray]:
    """Weighted loss, weighted residuals ``R = w (P - Y)`` and probabilities ``P``.

    For a binary model (one column of ``Z``) ``P`` holds the probability of class 1.
    ``overwrite`` lets a multinomial ``R`` take ``Z``'s memory, when the caller needs
    neither ``Z`` nor ``P`` afterwards (``P`` is then ``R``): no ``n x K`` copies, which
    with many classes cost as much as the pass's two matrix products.
    """
    if Z.shape[1] == 1:
        z = Z[:, 0]
        yf = y.astype(np.float64)
        loss = float(w @ binomial_loss(z, yf))
        prob = sigmoid(z)
        return loss, (w * (prob - yf))[:, None], prob[:, None]
    rows = np.arange(Z.shape[0])
    true = Z[rows, y]  # before an in-place softmax overwrites Z
    P, lse = softmax(Z, overwrite=overwrite)
    lse -= true
    loss = float(w @ lse)
    R = P if overwrite else P.copy()
    R[rows, y] -= 1.0
    if not (w == 1.0).all():
        R *= w[:, None]
    return loss, R, P


Gram = Callable[[FloatArray], FloatArray]


def _hessian(P: FloatArray, w: FloatArray, gram: Gram) -> FloatArray:
    """Hessian of the loss from per-row curvature weights; ``gram(v)`` forms ``Xa^T V Xa``."""
    M = P.shape[1]
    if M == 1:
        prob = P[:, 0]
        return gram(w * prob * (1.0 - prob))
    blocks: dict[tuple[int, int], FloatArray] = {}
    for k in range(M):
        for l in range(k, M):
            v = w * P[:, k] * ((1.0 if k == l else 0.0) - P[:, l])
            blocks[k, l] = gram(v)
    q = blocks[0, 0].shape[0]
    hess = np.empty((M * q, M * q))
    for (k, l), cross in blocks.items():
        hess[k * q : (k + 1) * q, l * q : (l + 1) * q] = cross
        hess[l * q : (l + 1) * q, k * q : (k + 1) * q] = cross.T
    return hess


def block_statistics(
    Xa: FloatArray,
    y: NDArray[Any],
    w: FloatArray,
    theta: FloatArray,
    *,
    hessian: bool,
    columns: NDArray[np.intp] | None = None,
    linear: FloatArray | None = None,
) -> Stats:
    """Statistics from a standardised block ``Xa = [1, X_s]`` (see :func:`standardised_block`).

    ``linear``, the ``(n, M)`` linear predictor ``Xa theta^T`` when the caller has it,
    saves its product. For a binary model ``y`` may be given as floats (0.0 and 1.0).
    """
    if theta.shape[0] == 1:
        z = Xa @ theta[0] if linear is None else linear[:, 0]
        return _binary_block_statistics(Xa, y, w, z, hessian=hessian, columns=columns)
    Z = Xa @ theta.T if linear is None else linear
    # The caller's linear predictor is kept (the line search reads it); a product made
    # here is free to overwrite.
    loss, R, P = _residuals(Z, y, w, overwrite=linear is None and not hessian)
    grad = np.ascontiguousarray((Xa.T @ R).T)
    hess = None
    if hessian:
        sub = Xa if columns is None else Xa[:, columns]

        def gram(v: FloatArray) -> FloatArray:
            if (v >= 0).all():
                return _syrk(sub * np.sqrt(v)[:, None])
            return np.asarray((sub * v[:, None]).T @ sub)

        hess = _hessian(P, w, gram)
    return Stats(loss, float(w.sum()), grad, hess, Z.shape[0])


def _binary_block_statistics(
    Xa: FloatArray,
    y: NDArray[Any],
    w: FloatArray,
    z: FloatArray,
    *,
    hessian: bool,
    columns: NDArray[np.intp] | None,
) -> Stats:
    """The binary case of :func:`block_statistics` with vectors only, at linear predictor ``z``.

    Small fits (cross-validation, bootstrap) run thousands of these passes, where each
    avoided temporary shows.
    """
    prob = sigmoid(z)
    yf = y if y.dtype == np.float64 else y.astype(np.float64)
    terms = log1pexp(z)
    terms -= yf * z
    loss = float(w @ terms)
    r = prob - yf
    r *= w
    grad = (Xa.T @ r)[None, :]
    hess = None
    if hessian:
        prob *= 1.0 - prob  # the curvature weights, in place
        prob *= w
        sub = Xa if columns is None else Xa[:, columns]
        hess = _weighted_gram(sub, prob)
    return Stats(loss, float(w.sum()), grad, hess, z.shape[0])


#: Blocks with at most this many columns, and at most this many ``n k^2`` multiply-adds,
#: form ``A^T V A`` as a general product: OpenBLAS's symmetric rank-k update has a fixed
#: cost that outweighs its halved arithmetic there (569 x 31: 23 us against 33 us).
_GEMM_MAX_COLUMNS = 40
_GEMM_MAX_WORK = 1_000_000


def _weighted_gram(A: FloatArray, v: FloatArray) -> FloatArray:
    """``A^T diag(v) A`` for non-negative ``v`` (``v`` is overwritten), exactly symmetric."""
    n, k = A.shape
    if k <= _GEMM_MAX_COLUMNS and n * k * k <= _GEMM_MAX_WORK:
        gram = np.asarray(A.T @ (A * v[:, None]))
        gram += gram.T  # the two triangles round differently: average them
        gram *= 0.5
        return gram
    np.sqrt(v, out=v)
    return _syrk(A * v[:, None])


def _gradient_block(X: Matrix, R: FloatArray, scaling: Scaling) -> FloatArray:
    """Gradient rows ``[sum r, (X^T r - mean sum r) / scale]`` for each column of ``R``."""
    XtR = np.asarray(X.T @ R).T  # (M, p)
    sums = R.sum(axis=0)
    grad = np.empty((R.shape[1], X.shape[1] + 1))
    grad[:, 0] = sums
    grad[:, 1:] = (XtR - np.outer(sums, scaling.mean)) / scaling.scale
    return grad


def chunk_statistics(
    chunk: Chunk,
    theta: FloatArray,
    scaling: Scaling,
    *,
    hessian: bool,
    columns: NDArray[np.intp] | None = None,
) -> Stats:
    """Loss, gradient and (optionally) Hessian of one chunk at standardised ``theta``.

    The linear predictor (plus the chunk's offset, if any) and gradient fold the
    standardisation into the coefficients and read ``X`` as it is; a dense Hessian centres
    the rows (of the requested columns only) a block at a time, which it needs anyway to
    weight them; sparse chunks are never densified.

    Parameters
    ----------
    chunk : Chunk
        The rows.
    theta : ndarray of shape (M, p + 1)
        Standardised parameters; ``M == 1`` means a binary model, else multinomial.
    scaling : Scaling
        Feature centre and scale.
    hessian : bool
        Whether to form the Hessian (the expensive part).
    columns : ndarray of int, optional
        Columns of ``[1, X]`` (0 is the intercept) to form the Hessian over, for every
        class; all by default. The result then has ``M * len(columns)`` rows.

    Returns
    -------
    Stats
    """
    X, y, w = chunk.X, chunk.y, chunk.w
    sparse = sp.issparse(X)
    if not sparse and X.dtype != np.float64:
        X = np.asarray(X, dtype=np.float64)
    Z = linear_predictor(X, theta, scaling)
    if chunk.offset is not None:
        Z += chunk.offset[:, None]
    loss, R, P = _residuals(Z, y, w, overwrite=not hessian)
    grad = _gradient_block(X, R, scaling)
    hess = None
    if hessian:
        if sparse:

            def gram(v: FloatArray) -> FloatArray:
                return _sparse_gram(X, v, scaling, columns)

            hess = _hessian(P, w, gram)
        else:
            hess = _hessian(P, w, _DenseGram(X, scaling, columns))
    return Stats(loss, float(w.sum()), grad, hess, Z.shape[0])
