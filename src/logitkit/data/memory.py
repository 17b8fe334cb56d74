"""In-memory chunk source: row blocks of a numpy array or a CSR matrix, as views."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from logitkit.solver.statistics import Chunk, Matrix, S

__all__ = ["ArraySource"]

#: Bytes of features per block: large enough for efficient BLAS calls, small enough
#: that the per-block temporaries (the Hessian's weighted copy) stay a small share of X.
_BLOCK_BYTES = 16 * 2**20
#: Non-zeros per block of a sparse X: a CSR block's temporaries are O(nnz), but each
#: block also costs O(p) dense work (its gradient, the scaling correction), so blocks
#: sized as if X were dense (256 rows of a 100,000-column matrix) spend their time there.
_BLOCK_NNZ = 2**24
#: Rows per block of the Hessian sample: small blocks spread evenly over the data, so a
#: sample of data sorted by the target still sees every part of it.
_SAMPLE_BLOCK_ROWS = 256


class ArraySource:
    """Rows held in memory, passed over in blocks without copying.

    Parameters
    ----------
    X : ndarray of shape (n, p) or CSR matrix
        Features.
    y : ndarray of shape (n,)
        Integer class codes.
    w : ndarray of shape (n,)
        Loss weights (sample weight times class weight).
    sample_weight : ndarray of shape (n,)
        Sample weights alone.
    n_outputs : int
        1 for binary, K for multinomial.
    blocks : sequence of slice, optional
        Row blocks to visit; by default all rows in blocks of about 16 MiB (dense) or
        2**24 non-zeros (sparse).
    """

    def __init__(
        self,
        X: Matrix,
        y: NDArray[np.intp],
        w: NDArray[np.float64],
        sample_weight: NDArray[np.float64],
        n_outputs: int,
        blocks: Sequence[slice] | None = None,
    ) -> None:
        self.X, self.y, self.w, self.sample_weight = X, y, w, sample_weight
        self.n_features = int(X.shape[1])
        self.n_outputs = n_outputs
        n = int(X.shape[0])
        if blocks is None:
            if sp.issparse(X):
                rows = max(256, int(n * _BLOCK_NNZ / max(X.nnz, 1)))
            else:
                rows = max(256, _BLOCK_BYTES // (8 * max(self.n_features, 1)))
            blocks = [slice(i, min(i + rows, n)) for i in range(0, n, rows)]
        self.blocks = list(blocks)
        self.n_rows = sum(b.stop - b.start for b in self.blocks)

    def chunk(self, rows: slice) -> Chunk:
        """The chunk of the given rows."""
        # A block of every row is X itself: scipy copies a CSR matrix on any row slice.
        whole = rows.start == 0 and rows.stop == self.X.shape[0] and rows.step in (None, 1)
        X = self.X if whole else self.X[rows]
        return Chunk(X, self.y[rows], self.w[rows], self.sample_weight[rows])

    def single_chunk(self) -> Chunk | None:
        """All rows as one chunk, when they form a single block."""
        return self.chunk(self.blocks[0]) if len(self.blocks) == 1 else None

    def map_reduce(self, fn: Callable[[Chunk], S]) -> S:
        """Apply ``fn`` to each block and add up the results."""
        total: S | None = None
        for rows in self.blocks:
            part = fn(self.chunk(rows))
            total = part if total is None else total + part
        if total is None:
            msg = "no rows to pass over"
            raise ValueError(msg)
        return total

    def hessian_sample(self, max_rows: int) -> ArraySource | None:
        """About ``max_rows`` rows in evenly spaced small blocks, copied together once.

        The copy is a small share of X (it exists only when X has more than twice as
        many rows) and lets the sampled Hessian run as one efficient block.
        """
        if self.n_rows <= 2 * max_rows:
            return None
        n = int(self.X.shape[0])
        n_blocks = max(1, max_rows // _SAMPLE_BLOCK_ROWS)
        starts = np.linspace(0, n - _SAMPLE_BLOCK_ROWS, n_blocks).astype(np.int64)
        rows = (starts[:, None] + np.arange(_SAMPLE_BLOCK_ROWS)[None, :]).ravel()
        rows = np.unique(rows)
        return ArraySource(
            self.X[rows],
            self.y[rows],
            self.w[rows],
            self.sample_weight[rows],
            self.n_outputs,
        )
