"""Rows in memory with an offset: a known term added to each row's linear predictor.

An offset enters the fit as R's ``glm(..., offset=)`` and statsmodels'
``GLM(..., offset=)`` do: the loss of row ``i`` is taken at ``eta_i + offset_i``, and
the offset has no coefficient. Typical uses are the log of an exposure, a score from
another model, or ``log(pi_1 / pi_0)`` to undo the sampling of a case-control study.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from logitkit.data.memory import ArraySource
from logitkit.solver.statistics import Chunk

FloatArray = NDArray[np.float64]

__all__ = ["OffsetSource"]


class OffsetSource(ArraySource):
    """An :class:`~logitkit.data.memory.ArraySource` whose chunks carry their rows' offsets.

    Parameters
    ----------
    source : ArraySource
        The rows.
    offset : ndarray of shape (n,)
        The offset of each row (finite).

    Examples
    --------
    >>> import numpy as np
    >>> rows = ArraySource(np.eye(2), np.array([0, 1]), np.ones(2), np.ones(2), 1)
    >>> OffsetSource(rows, np.array([0.5, -0.5])).single_chunk().offset.tolist()
    [0.5, -0.5]
    """

    def __init__(self, source: ArraySource, offset: FloatArray) -> None:
        super().__init__(
            source.X,
            source.y,
            source.w,
            source.sample_weight,
            source.n_outputs,
            blocks=source.blocks,
        )
        self.offset = offset

    def chunk(self, rows: slice) -> Chunk:
        """The chunk of the given rows, with their offsets."""
        base = super().chunk(rows)
        return Chunk(base.X, base.y, base.w, base.sample_weight, self.offset[rows])

    def hessian_sample(self, max_rows: int) -> None:
        """No row sample: with an offset every Hessian is formed on all rows."""
