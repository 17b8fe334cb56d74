"""First pass: weighted feature moments and class totals, merged chunk by chunk.

Means and variances are combined with Chan et al.'s pairwise update, which stays
accurate when a feature's mean is large compared with its spread (the textbook
``E[x^2] - E[x]^2`` loses all digits there).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from logitkit.solver.statistics import Chunk, ChunkSource, Scaling

FloatArray = NDArray[np.float64]

__all__ = ["Moments", "chunk_moments", "feature_moments"]


@dataclass
class Moments:
    """Weighted moments of each feature and weighted class totals.

    Attributes
    ----------
    weight : float
        Sum of sample weights.
    mean : ndarray of shape (p,)
        Weighted means.
    m2 : ndarray of shape (p,)
        Weighted sums of squared deviations from the mean.
    class_weight_sums : ndarray of shape (K,)
        Sum of the loss weights (sample times class weight) per class.
    class_counts : ndarray of shape (K,)
        Rows per class.
    n_rows : int
        Rows seen.
    """

    weight: float
    mean: FloatArray
    m2: FloatArray
    class_weight_sums: FloatArray
    class_counts: NDArray[np.int64]
    n_rows: int

    def __add__(self, other: Moments) -> Moments:
        total = self.weight + other.weight
        if total == 0.0:
            mean, m2 = self.mean, self.m2 + other.m2
        else:
            delta = other.mean - self.mean
            mean = self.mean + delta * (other.weight / total)
            m2 = self.m2 + other.m2 + delta * delta * (self.weight * other.weight / total)
        return Moments(
            total,
            mean,
            m2,
            self.class_weight_sums + other.class_weight_sums,
            self.class_counts + other.class_counts,
            self.n_rows + other.n_rows,
        )

    def variance(self) -> FloatArray:
        """Weighted population variance of each feature."""
        return self.m2 / self.weight if self.weight > 0 else np.zeros_like(self.m2)

    def zero_variance(self) -> NDArray[np.bool_]:
        """Features whose variance is zero up to rounding (scikit-learn's StandardScaler test)."""
        eps = np.finfo(np.float64).eps
        var, n = self.variance(), self.weight
        return np.asarray(var <= n * eps * var + (n * self.mean * eps) ** 2)

    def scaling(self, *, center: bool, scale: bool) -> Scaling:
        """Scaling from these moments; a zero-variance feature keeps scale 1, as in scikit-learn."""
        p = self.mean.shape[0]
        mean = self.mean.copy() if center else np.zeros(p)
        if not scale:
            return Scaling(mean, np.ones(p))
        std = np.sqrt(self.variance())
        std[self.zero_variance()] = 1.0
        return Scaling(mean, std)


def chunk_moments(chunk: Chunk, n_classes: int) -> Moments:
    """Moments of one chunk."""
    X, sw = chunk.X, chunk.sample_weight
    weight = float(sw.sum())
    if sp.issparse(X):
        s1 = np.asarray(X.T @ sw).ravel()
        s2 = np.asarray(X.multiply(X).T @ sw).ravel()
        mean = s1 / weight if weight > 0 else np.zeros(X.shape[1])
        m2 = np.maximum(s2 - weight * mean * mean, 0.0)
    else:
        Xd = np.asarray(X, dtype=np.float64)
        mean = (sw @ Xd) / weight if weight > 0 else np.zeros(X.shape[1])
        dev = Xd - mean
        dev *= dev
        m2 = sw @ dev
    sums = np.bincount(chunk.y, weights=chunk.w, minlength=n_classes).astype(np.float64)
    counts = np.bincount(chunk.y, minlength=n_classes).astype(np.int64)
    return Moments(weight, mean, m2, sums, counts, X.shape[0])


def feature_moments(source: ChunkSource, n_classes: int) -> Moments:
    """One pass over ``source`` collecting :class:`Moments`."""
    return source.map_reduce(partial(chunk_moments, n_classes=n_classes))
