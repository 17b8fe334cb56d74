"""Which rows a pass keeps, decided by each row's own values: hash shares and their combinations.

A row source keeps the rows a filter's ``mask(X)`` marks (``FileSource.subset``,
``DaskSource.subset``); :class:`~logitkit.data.sources.FoldFilter` keeps one hash fold.
Here: :class:`HashShare` keeps the rows whose hash falls in (or out of) a share, the
held-out split of the pipeline on hash folds, and :class:`AllOf` keeps the rows every
one of its filters keeps (a fold of the fitting rows). Like the folds, they depend on a
row's values only, so the same rows are kept in memory, in a file and on any Dask
partitioning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from logitkit.data.sources import hash_folds

__all__ = ["AllOf", "HashShare", "RowFilter"]

#: Resolution of a hash share: the share is rounded to a multiple of 2**-30.
SHARE_STEPS = 2**30


class RowFilter(Protocol):
    """Keeps the rows its mask marks."""

    def mask(self, X: Any) -> NDArray[np.bool_]:
        """Which rows of ``X`` (encoded values) to keep."""
        ...


@dataclass(frozen=True)
class HashShare:
    """The rows whose hash falls below ``share`` (``held=True``), or the others.

    The hash is :func:`~logitkit.data.sources.hash_folds` with ``2**30`` folds and its
    own ``seed``: each row is in the share with probability ``share``, independently of
    the folds of another seed.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(2000.0).reshape(1000, 2)
    >>> held = HashShare(0.25, seed=7).mask(X)
    >>> 200 < int(held.sum()) < 300, bool((held ^ HashShare(0.25, 7, held=False).mask(X)).all())
    (True, True)
    """

    share: float
    seed: int
    held: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.share < 1.0:
            msg = f"share must be in (0, 1); got {self.share!r}."
            raise ValueError(msg)

    def mask(self, X: Any) -> NDArray[np.bool_]:
        """Which rows of ``X`` to keep."""
        inside = hash_folds(X, SHARE_STEPS, self.seed) < round(self.share * SHARE_STEPS)
        return np.asarray(inside if self.held else ~inside)


@dataclass(frozen=True)
class AllOf:
    """The rows every filter keeps.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit.data.sources import FoldFilter
    >>> X = np.arange(2000.0).reshape(1000, 2)
    >>> both = AllOf((HashShare(0.5, 1, held=False), FoldFilter(5, 0, train=False)))
    >>> bool((both.mask(X) <= FoldFilter(5, 0, train=False).mask(X)).all())
    True
    """

    filters: tuple[RowFilter, ...]

    def mask(self, X: Any) -> NDArray[np.bool_]:
        """Which rows of ``X`` to keep."""
        keep = np.ones(np.shape(X)[0], dtype=bool)
        for f in self.filters:
            keep &= f.mask(X)
        return keep
