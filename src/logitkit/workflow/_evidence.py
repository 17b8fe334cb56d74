"""What one pass over the fitting rows gathers for the stages after the fit.

A scan of :mod:`._rows` applies :func:`block_evidence` to each block of rows (on a Dask
worker for a partition) and :class:`EvidenceWriter` consumes the results in row order:

* **row vectors**, one value per row, written to temporary on-disk arrays (numpy
  memmaps, never all in memory at once): the class codes, the sample weights, the
  out-of-fold class probabilities (each row from the fold model that did not see it)
  and the shipped model's fitted probabilities. The policy, the evaluation and the
  saturation check read them as arrays; their size is ``n x (2K + 2) x 8`` bytes on
  disk, not ``n x p``;
* **feature moments**, exact and combinable (Chan et al.'s pairwise update): the
  weighted mean and covariance (for the correlation matrix: collinearity and VIF), the
  unweighted mean and variance, the minimum and maximum;
* **histogram counts** of every feature and of the predicted score against the bin
  edges of the reference profile (exact counts, so the profile's shares are exact);
* the **fingerprints** of the rows: the SHA-256 of the model matrix and labels (equal
  to :func:`logitkit.artifact.data_fingerprint` of the rows in memory) and the Bloom
  filter of :class:`~logitkit.data.fingerprint.RowFingerprint`.

:func:`sample_block` gathers the *reference sample* on an earlier scan: the rows whose
hash (:func:`~logitkit.data.sources.hash_folds` with its own seed) falls below a share
that keeps about :data:`SAMPLE_ROWS` rows, every row when there are fewer. Its quantiles
give the reference bin edges (the whole data's quantiles when it holds every row; else
within the Dvoretzky-Kiefer-Wolfowitz bound ``sqrt(log(2 / 0.05) / (2 m))`` in
probability, about 0.0043 for ``m = 100,000`` sample rows, at 95%).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import tempfile
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitkit._artifact_model import plain
from logitkit._memory import STEP_ROWS, hand_back_free_memory, release_pages
from logitkit.data.fingerprint import BloomBits, RowFingerprint, row_hashes
from logitkit.data.row_filters import RowFilter
from logitkit.data.sources import row_hashes64
from logitkit.workflow._hash_search import FoldModels, fold_proba, probabilities

__all__ = [
    "SAMPLE_ROWS",
    "SAMPLE_SEED",
    "Evidence",
    "EvidenceWriter",
    "Moments",
    "bin_counts",
    "block_evidence",
    "feature_references",
    "sample_block",
    "sample_mask",
    "sample_masks",
    "sample_share",
]

FloatArray = NDArray[np.float64]

#: Rows kept (about) for the reference profile's bin edges and KS sample.
SAMPLE_ROWS = 100_000
#: Resolution of the sample's hash share.
_SHARE_STEPS = 2**30
#: Seed of the reference sample's hash (independent of the folds').
SAMPLE_SEED = 0x5A3B1E
#: Blocks that may wait for the hashing thread (each a copy of its rows' features).
_HASHING = 2


def sample_share(n_rows: int, rows: int = SAMPLE_ROWS) -> int:
    """Hash steps (of ``2**30``) below which a row joins a sample of about ``rows`` of
    ``n_rows`` rows (every row when there are no more).

    Examples
    --------
    >>> sample_share(5_000) == 2**30, sample_share(10_000_000) == 2**30 // 100
    (True, True)
    """
    if n_rows <= rows:
        return _SHARE_STEPS
    return int(_SHARE_STEPS * rows // n_rows)


def sample_block(X: FloatArray, *, share: int) -> FloatArray:
    """The rows of a block (of fitting rows) in the reference sample: those whose hash
    falls below ``share`` of :data:`_SHARE_STEPS` (all of them at the full share)."""
    return np.array(X if share >= _SHARE_STEPS else X[sample_mask(X, share=share)])


def sample_mask(X: FloatArray, *, share: int, seed: int = SAMPLE_SEED) -> NDArray[np.bool_]:
    """Which rows of a block are in the hash sample of that ``share`` and ``seed`` (by
    default the reference sample, see :func:`sample_block`)."""
    return sample_masks(X, [(share, seed)])[0]


def sample_masks(X: FloatArray, samples: Sequence[tuple[int, int]]) -> list[NDArray[np.bool_]]:
    """:func:`sample_mask` of each ``(share, seed)``, the rows' values read once for all.

    A row's step is :func:`~logitkit.data.sources.hash_folds` of ``2**30`` folds with
    that seed: the top 30 bits of its 64-bit hash.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(1000, 3))
    >>> a, b = sample_masks(X, [(2**29, 1), (2**28, 2)])
    >>> bool((a == sample_mask(X, share=2**29, seed=1)).all()), bool(0.1 < b.mean() < 0.4)
    (True, True)
    """
    hashed = [(share, seed) for share, seed in samples if share < _SHARE_STEPS]
    h = row_hashes64(X, [seed for _, seed in hashed]) if hashed else None
    out, k = [], 0
    for share, _ in samples:
        if share >= _SHARE_STEPS:
            out.append(np.ones(X.shape[0], dtype=bool))
            continue
        assert h is not None
        out.append(np.asarray((h[:, k] >> np.uint64(34)) < share))
        k += 1
    return out


@dataclass
class Moments:
    """Exact, combinable feature moments of some rows (see the module notes).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> both = Moments.of(X[:2], np.ones(2)) + Moments.of(X[2:], np.ones(4))
    >>> bool(np.allclose(both.sd, X.std(axis=0))), both.low.tolist(), both.high.tolist()
    (True, [0.0, 1.0], [10.0, 11.0])
    """

    n: int
    mean: FloatArray  # unweighted
    m2: FloatArray  # unweighted sum of squared deviations
    weight: float
    wmean: FloatArray
    wcov: FloatArray  # weighted sum of cross products of deviations (p x p)
    low: FloatArray
    high: FloatArray

    @classmethod
    def of(cls, X: FloatArray, sw: FloatArray) -> Moments:
        """The moments of one block."""
        n = X.shape[0]
        mean = X.mean(axis=0) if n else np.zeros(X.shape[1])
        D = X - mean
        m2 = np.einsum("ij,ij->j", D, D)
        weight = float(sw.sum())
        if n and (sw == 1.0).all():  # unit weights: the weighted moments are the plain ones
            wmean = mean
        else:
            wmean = sw @ X / weight if weight > 0 else np.zeros(X.shape[1])
            np.subtract(X, wmean, out=D)
            D *= np.sqrt(sw)[:, None]  # sum_i w_i d_i d_i^T as one D^T D
        return cls(
            n,
            mean,
            m2,
            weight,
            wmean,
            D.T @ D,  # a symmetric rank-k update (numpy's BLAS syrk)
            X.min(axis=0, initial=np.inf),
            X.max(axis=0, initial=-np.inf),
        )

    def __add__(self, other: Moments) -> Moments:
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n) if n else self.mean
        m2 = self.m2 + other.m2 + delta**2 * (self.n * other.n / n if n else 0.0)
        weight = self.weight + other.weight
        wdelta = other.wmean - self.wmean
        share = other.weight / weight if weight > 0 else 0.0
        wmean = self.wmean + wdelta * share
        wcov = self.wcov + other.wcov + np.outer(wdelta, wdelta) * (self.weight * share)
        return Moments(
            n,
            mean,
            m2,
            weight,
            wmean,
            wcov,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
        )

    @property
    def sd(self) -> FloatArray:
        """Unweighted (population) standard deviations."""
        return np.sqrt(self.m2 / max(self.n, 1))

    @property
    def wvar(self) -> FloatArray:
        """Weighted variances."""
        return np.diag(self.wcov) / self.weight

    def correlation(self) -> FloatArray:
        """The weighted correlation matrix (0 rows and columns for constant features)."""
        sd = np.sqrt(np.maximum(self.wvar, 0.0))
        scale = np.where(sd > 0, sd, 1.0)
        return np.asarray(self.wcov / self.weight / np.outer(scale, scale))


def bin_counts(X: FloatArray, edges: list[FloatArray]) -> list[NDArray[np.int64]]:
    """Each feature's rows per bin of its reference edges (as
    :func:`~logitkit.reference.feature_profile` counts them)."""
    return [
        np.bincount(np.searchsorted(e, X[:, j], side="right"), minlength=e.size + 1)
        for j, e in enumerate(edges)
    ]


def feature_references(
    names: list[str],
    profiles: list[dict[str, Any]],
    counts: list[NDArray[np.int64]],
    moments: Moments,
) -> dict[str, dict[str, Any]]:
    """The features' reference profiles: edges and KS sample from the reference
    sample's ``profiles``, exact bin shares (``counts``), moments and range."""
    n = max(moments.n, 1)
    return {
        name: {
            **profiles[j],
            "shares": (counts[j] / n).tolist(),
            "mean": float(moments.mean[j]),
            "std": float(moments.sd[j]),
            "min": float(moments.low[j]),
            "max": float(moments.high[j]),
            "n": int(moments.n),
        }
        for j, name in enumerate(names)
    }


@dataclass
class Evidence:
    """What :func:`block_evidence` returns for one block of rows."""

    codes: NDArray[np.intp]
    sw: FloatArray
    oof: FloatArray
    fitted: FloatArray
    moments: Moments
    counts: list[NDArray[np.int64]]
    score_counts: NDArray[np.int64] | None
    X: FloatArray  # C-ordered, -0.0 as 0.0: the SHA-256 reads its bytes in row order
    row_hashes: NDArray[np.uint64]
    held_codes: NDArray[np.intp]  # the held-out rows: their classes and fitted probabilities
    held_proba: FloatArray


def block_evidence(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    *,
    folds: FoldModels,
    coef: FloatArray,
    intercept: FloatArray,
    edges: list[FloatArray],
    score_edges: FloatArray | None,
    positive: int | None,
    keep: RowFilter | None = None,
    offsets: FloatArray | None = None,
) -> Evidence:
    """Row vectors, moments, histogram counts and row hashes of one block's fitting rows
    (those ``keep`` keeps; all when None), and the held-out rows' fitted probabilities
    (every probability at the rows' ``offsets`` when they have them).
    """
    Z = X @ coef.T + intercept
    if offsets is not None:
        Z += offsets[:, None]
    fitted = probabilities(Z)
    held_codes, held_proba = codes[:0], fitted[:0]
    if keep is not None:
        mask = keep.mask(X)
        held_codes, held_proba = codes[~mask], fitted[~mask]
        X, codes, sw, fitted = X[mask], codes[mask], sw[mask], fitted[mask]
        offsets = None if offsets is None else offsets[mask]
    counts = bin_counts(X, edges)
    score_counts = None
    if score_edges is not None and positive is not None:
        score = fitted[:, positive]
        score_counts = np.bincount(
            np.searchsorted(score_edges, score, side="right"), minlength=score_edges.size + 1
        )
    return Evidence(
        np.asarray(codes, dtype=np.intp),
        np.asarray(sw, dtype=np.float64),
        fold_proba(X, folds, offsets),
        fitted,
        Moments.of(X, sw),
        counts,
        score_counts,
        np.ascontiguousarray(np.asarray(X, dtype="<f8") + 0.0),
        row_hashes(X),
        np.asarray(held_codes, dtype=np.intp),
        held_proba,
    )


def _memmap(n: int, width: int, dtype: Any) -> NDArray[Any]:
    """A temporary on-disk array (deleted with its last reference: the file is unlinked).

    Column-major, so that one class's column is read without the others' pages.
    """
    shape = (n, width) if width else (n,)
    size = max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1)
    with tempfile.TemporaryFile(prefix="logitkit-rows-") as handle:  # the map keeps its own
        handle.truncate(size)
        pages = mmap.mmap(handle.fileno(), size)
    return np.ndarray(shape, dtype=dtype, buffer=pages, order="F")


class EvidenceWriter:
    """Consume :class:`Evidence` blocks in row order (see the module notes)."""

    def __init__(self, n_rows: int, n_classes: int, classes: NDArray[Any], n_held: int = 0) -> None:
        self.n = 0
        self.n_held = 0
        self.held_codes = _memmap(n_held, 0, np.intp)
        self.held_proba = _memmap(n_held, n_classes, np.float64)
        self.classes = classes
        # One byte a class code (up to 127 classes), and no weights while all are 1:
        # the row vectors are read back whole, so each byte a row counts at scale.
        self.codes = _memmap(n_rows, 0, np.int8 if len(classes) <= 127 else np.intp)
        self._n_rows = n_rows
        self._sw: NDArray[np.float64] | None = None  # None: every weight so far is 1
        self.oof = _memmap(n_rows, n_classes, np.float64)
        self.fitted = _memmap(n_rows, n_classes, np.float64)
        self.moments: Moments | None = None
        self.counts: list[NDArray[np.int64]] | None = None
        self.score_counts: NDArray[np.int64] | None = None
        self._sha = hashlib.sha256()
        self._bloom = BloomBits(n_rows)
        self._shape_written = False
        # The fingerprints are taken on a thread of their own (SHA-256 lets go of the GIL
        # on large buffers), block after block in row order, beside the next block's
        # arithmetic; at most _HASHING blocks wait.
        self._hashing = ThreadPoolExecutor(1, thread_name_prefix="logitkit-fingerprint")
        self._waiting: deque[Future[None]] = deque()
        self._released = 0  # rows written when the pages were last handed back

    def add(self, part: Evidence) -> None:
        """Write one block's rows and add its aggregates."""
        m = part.codes.shape[0]
        if not self._shape_written:
            rows, width = self.codes.shape[0], part.X.shape[1]
            self._sha.update(str((rows, width)).encode())
            self._shape_written = True
        held = slice(self.n_held, self.n_held + part.held_codes.shape[0])
        self.held_codes[held], self.held_proba[held] = part.held_codes, part.held_proba
        self.n_held = held.stop
        rows = slice(self.n, self.n + m)
        self.codes[rows] = part.codes
        if self._sw is None and not (part.sw == 1.0).all():
            self._sw = _memmap(self._n_rows, 0, np.float64)
            self._sw[: self.n] = 1.0
        if self._sw is not None:
            self._sw[rows] = part.sw
        self.oof[rows], self.fitted[rows] = part.oof, part.fitted
        self.n += m
        self.moments = part.moments if self.moments is None else self.moments + part.moments
        if self.counts is None:
            self.counts = part.counts
        else:
            self.counts = [a + b for a, b in zip(self.counts, part.counts, strict=True)]
        if part.score_counts is not None:
            self.score_counts = (
                part.score_counts
                if self.score_counts is None
                else self.score_counts + part.score_counts
            )
        self._waiting.append(self._hashing.submit(self._fingerprint, part.X, part.row_hashes))
        while len(self._waiting) > _HASHING:
            self._waiting.popleft().result()
        if self.n - self._released >= STEP_ROWS:  # the written pages leave memory
            self.release()
            self._released = self.n

    @property
    def sw(self) -> NDArray[np.float64]:
        """The rows' sample weights (a read-only view of ones when every weight is 1)."""
        if self._sw is None:
            return np.broadcast_to(np.float64(1.0), (self.n,))
        return self._sw[: self.n]

    def release(self) -> None:
        """Hand the row vectors' pages back (:func:`release_pages`; their values stay),
        and the heap's free memory (:func:`~logitkit._memory.hand_back_free_memory`):
        called between the stages that read them."""
        arrays = [self.codes, self.oof, self.fitted, self.held_codes, self.held_proba]
        release_pages(*arrays, *([] if self._sw is None else [self._sw]))
        hand_back_free_memory()

    def labels(self) -> NDArray[Any]:
        """The labels of the rows (from their class codes): integer classes in the
        smallest integer type that holds them (the same values; one byte a row for 0/1
        rather than eight)."""
        classes = self.classes
        if classes.dtype.kind in "iu" and classes.size:
            low, high = classes.min(), classes.max()
            classes = classes.astype(
                np.result_type(np.min_scalar_type(low), np.min_scalar_type(high))
            )
        return np.asarray(classes[self.codes])

    def _fingerprint(self, X: FloatArray, hashes: NDArray[np.uint64]) -> None:
        """Add one block to both fingerprints (on the hashing thread, in row order)."""
        self._sha.update(X.data.cast("B"))  # C-ordered: the bytes in row order
        self._bloom.add(hashes)

    def _hashed(self) -> None:
        """Wait until every block written is in the fingerprints."""
        while self._waiting:
            self._waiting.popleft().result()

    def data_fingerprint(self) -> str:
        """SHA-256 of the shape, the model matrix and the labels (``data_fingerprint``'s)."""
        self._hashed()
        digest = self._sha.copy()
        # Each class's JSON once; the rows' list is their words joined by ", ".
        words = np.array([json.dumps(plain(c)) for c in self.classes.tolist()], dtype=object)
        digest.update(b"[")
        step = 1 << 16
        for start in range(0, self.n, step):
            part = ", ".join(words[self.codes[start : start + step]].tolist())
            digest.update(((", " if start else "") + part).encode())
        digest.update(b"]")
        return digest.hexdigest()

    def row_fingerprint(self) -> RowFingerprint:
        """The Bloom filter of the rows (``RowFingerprint.of_rows``'s)."""
        self._hashed()
        return replace(self._bloom.fingerprint(), n_rows=self.n)
