"""The rows under the pipeline on hash folds: in memory, a streamed file, or Dask partitions.

:class:`PassRows` is all the pipeline of :mod:`._scaled` asks of its rows: the classes
and the model's columns, a fit on the rows a filter keeps (a hash fold, or all), and a
*scan*: a function of each block's ``(X, codes, sample_weight)``, its results returned
in row order. The three kinds differ only in where the blocks come from:

* :class:`FrameRows`: an encoded frame in memory, in blocks of :data:`BLOCK_ROWS` rows;
* :class:`SourceRows` over a :class:`~logitkit.data.stream.FileSource`: record batches
  read and encoded as the solver's passes read them;
* :class:`SourceRows` over a :class:`~logitkit.data.dask.DaskSource`: each partition on
  its worker (the scan's function is shipped there, and only its result comes back).

Rows with an offset column (R's ``glm(offset=)``; :attr:`PassRows.offsets` true) hand
each block's offsets to a scan's function as the keyword ``offsets=`` (the kept rows'
in a fold scan); a function that computes probabilities adds them to its linear
predictors. Without offsets the keyword is not given.

A *fold scan* (:meth:`PassRows.scan_folds`) gives its function the rows a filter keeps
and each one's hash fold. In memory and from a file, each block's kept rows and folds
are computed on the first such scan and kept (two bytes a row) for the later ones:
the blocks come back the same on every pass, and hashing every row again on each
solver step would cost as much as the step's arithmetic. On Dask each partition's
kept rows and folds are computed on its worker once and kept there.

Fits on every kind equal one another (the solver's passes are exact sums), so the
stages above see the same numbers wherever the rows live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.data._batches import one_blas_thread
from logitkit.data.row_filters import RowFilter
from logitkit.data.sources import hash_folds
from logitkit.data.stream import FileSource
from logitkit.model import LogisticModel

if TYPE_CHECKING:
    from logitkit.data.encoding import TableEncoder
    from logitkit.selection import HashKFold

__all__ = ["BLOCK_ROWS", "FoldScanFn", "FrameRows", "PassRows", "ScanFn", "SourceRows"]

FloatArray = NDArray[np.float64]
T = TypeVar("T")
#: ``fn(X, codes, sample_weight)`` of one block of rows.
ScanFn = Callable[[FloatArray, NDArray[np.intp], FloatArray], T]
#: ``fn(X, codes, sample_weight, fold)`` of one block's kept rows and their hash folds.
FoldScanFn = Callable[[FloatArray, NDArray[np.intp], FloatArray, NDArray[np.int8]], T]
#: A block's kept rows (None: all) and their folds, kept between fold scans.
_Folds = tuple[NDArray[np.bool_] | None, NDArray[np.int8]]
#: A block of rows: features, class codes, sample weights and offsets (or None).
_Block = tuple[FloatArray, NDArray[np.intp], FloatArray, FloatArray | None]
#: Rows per block of a scan in memory (as a streamed file's default batch).
BLOCK_ROWS = 65_536
#: Dask partitions computed at once by a scan (their results are held until consumed).
_DASK_GROUP = 4


class PassRows(Protocol):
    """What the pipeline on hash folds needs of its rows (see the module notes)."""

    classes: NDArray[Any]
    feature_names: list[str]
    encoder: TableEncoder | None
    where: str

    @property
    def n_rows(self) -> int:
        """Rows read (before any filter)."""
        ...

    @property
    def offsets(self) -> bool:
        """Whether the rows carry offsets (scans then pass ``offsets=``)."""
        ...

    def fit(self, model: LogisticModel, keep: RowFilter | None = None) -> LogisticModel:
        """Fit ``model`` on the rows ``keep`` keeps (all rows when None)."""
        ...

    def scan(self, fn: ScanFn[T]) -> Iterator[T]:
        """``fn`` of every block of rows, results in row order."""
        ...

    def grid_data(self, class_weight: Any, keep: RowFilter | None = None) -> Any:
        """The kept rows prepared as a fit prepares them (moments, the null model)."""
        ...

    def scan_folds(
        self, fn: FoldScanFn[T], folds: HashKFold, keep: RowFilter | None
    ) -> Iterator[T]:
        """``fn`` of every block's rows that ``keep`` keeps, with each one's fold."""
        ...


def block_folds(X: FloatArray, folds: HashKFold, keep: RowFilter | None) -> _Folds:
    """Which rows of a block ``keep`` keeps (None: all), and the kept rows' folds."""
    mask = None if keep is None else np.asarray(keep.mask(X), dtype=bool)
    kept = X if mask is None else X[mask]
    return mask, hash_folds(kept, folds.n_splits, folds.seed).astype(np.int8)


def _call(fn: Callable[..., T], block: _Block, *extra: Any) -> T:
    """``fn`` of a block's rows (and ``extra``), with ``offsets=`` when it has offsets."""
    X, codes, sw, offsets = block
    if offsets is None:
        return fn(X, codes, sw, *extra)
    return fn(X, codes, sw, *extra, offsets=offsets)


def _apply(fn: FoldScanFn[T], block: _Block, found: _Folds) -> T:
    X, codes, sw, offsets = block
    mask, fold = found
    if mask is not None:
        X, codes, sw = X[mask], codes[mask], sw[mask]
        offsets = None if offsets is None else offsets[mask]
    return _call(fn, (X, codes, sw, offsets), fold)


def _partition_folds(
    X: FloatArray,
    codes: NDArray[np.intp],  # noqa: ARG001 - a scan's signature
    sw: FloatArray,  # noqa: ARG001
    *,
    folds: HashKFold,
    keep: RowFilter | None,
    offsets: FloatArray | None = None,  # noqa: ARG001 - folds hash the features only
) -> _Folds:
    """:func:`block_folds` of a Dask partition (kept on its worker)."""
    return block_folds(X, folds, keep)


def _with_folds(
    X: FloatArray,
    codes: NDArray[np.intp],
    sw: FloatArray,
    found: _Folds,
    *,
    fn: FoldScanFn[T],
    offsets: FloatArray | None = None,
) -> T:
    """A fold scan's Dask partition, with its kept rows and folds."""
    return _apply(fn, (X, codes, sw, offsets), found)


def _rows_of(found: _Folds) -> int:
    """The rows of the block that ``found`` was computed on."""
    mask, fold = found
    return int(fold.size if mask is None else mask.size)


class _FoldMemo:
    """Each block's kept rows and folds, by block number, per (folds, filter)."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, int, RowFilter | None], list[_Folds]] = {}

    def scan(
        self,
        blocks: Iterable[_Block],
        fn: FoldScanFn[T],
        folds: HashKFold,
        keep: RowFilter | None,
    ) -> Iterator[T]:
        key = (folds.n_splits, folds.seed, keep)
        known = self._found.get(key)
        found: list[_Folds] = []
        for i, block in enumerate(blocks):
            X = block[0]
            if known is not None and i < len(known) and _rows_of(known[i]) == X.shape[0]:
                hit = known[i]
            else:
                known, hit = None, block_folds(X, folds, keep)
            found.append(hit)
            yield _apply(fn, block, hit)
        self._found[key] = found  # a whole pass: the next one reads the same blocks


@dataclass
class FrameRows:
    """Encoded rows in memory: the model matrix, the labels and the sample weights.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rows = FrameRows(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), np.array(["a", "b", "a"]), None)
    >>> rows.classes.tolist(), rows.n_rows
    (['a', 'b'], 3)
    >>> [int(codes.sum()) for _, codes, _ in rows.scan(lambda X, c, w: (X, c, w))]
    [1]
    """

    E: pd.DataFrame
    labels: NDArray[Any]
    weights: FloatArray | None
    encoder: TableEncoder | None = None
    where: str = "data frame"
    #: Each row's log-odds offset (R's ``glm(offset=)``), or None.
    row_offsets: FloatArray | None = None
    classes: NDArray[Any] = field(init=False)
    feature_names: list[str] = field(init=False)
    _X: FloatArray = field(init=False, repr=False)
    _codes: NDArray[np.intp] = field(init=False, repr=False)
    _sw: FloatArray = field(init=False, repr=False)
    _memo: _FoldMemo = field(init=False, repr=False, default_factory=_FoldMemo)

    def __post_init__(self) -> None:
        self.classes = np.unique(self.labels)
        self.feature_names = [str(c) for c in self.E.columns]
        self._X = self.E.to_numpy(dtype=np.float64)
        self._codes = np.searchsorted(self.classes, self.labels).astype(np.intp)
        self._sw = (
            np.ones(len(self.labels))
            if self.weights is None
            else np.asarray(self.weights, dtype=np.float64)
        )

    @property
    def n_rows(self) -> int:
        """Rows of the frame."""
        return int(self._X.shape[0])

    @property
    def offsets(self) -> bool:
        """Whether the rows carry offsets."""
        return self.row_offsets is not None

    def fit(self, model: LogisticModel, keep: RowFilter | None = None) -> LogisticModel:
        """Fit ``model`` on the kept rows (a copy of them, as a fold of a CV makes)."""
        if keep is None:
            return model.fit(
                self.E, self.labels, sample_weight=self.weights, offset=self.row_offsets
            )
        mask = keep.mask(self._X)
        return model.fit(
            self.E.iloc[np.flatnonzero(mask)],
            self.labels[mask],
            sample_weight=None if self.weights is None else self._sw[mask],
            offset=None if self.row_offsets is None else self.row_offsets[mask],
        )

    def _blocks(self) -> Iterator[_Block]:
        for start in range(0, self.n_rows, BLOCK_ROWS):
            rows = slice(start, start + BLOCK_ROWS)
            offsets = None if self.row_offsets is None else self.row_offsets[rows]
            yield self._X[rows], self._codes[rows], self._sw[rows], offsets

    def scan(self, fn: ScanFn[T]) -> Iterator[T]:
        """``fn`` of each block of :data:`BLOCK_ROWS` rows, in order (BLAS on one thread,
        as in a solver's pass: a block is a small problem)."""
        with one_blas_thread():
            for block in self._blocks():
                yield _call(fn, block)

    def scan_folds(
        self, fn: FoldScanFn[T], folds: HashKFold, keep: RowFilter | None
    ) -> Iterator[T]:
        """``fn`` of each block's kept rows and their folds (kept from the first such scan)."""
        with one_blas_thread():
            yield from self._memo.scan(self._blocks(), fn, folds, keep)

    def grid_data(self, class_weight: Any, keep: RowFilter | None = None) -> Any:
        """The kept rows prepared as a fit prepares them (moments, class totals)."""
        from logitkit._fitting import prepare  # noqa: PLC0415 - the fit's own preparation

        mask = np.ones(self.n_rows, dtype=bool) if keep is None else keep.mask(self._X)
        weights = None if self.weights is None else self._sw[mask]
        return prepare(self._X[mask], self.labels[mask], weights, class_weight)


@dataclass
class SourceRows:
    """A streamed file or Dask partitions, read by passes.

    ``encoder`` is the source's own (levels learned in its schema pass) unless one is
    given (learned in passes with formula, imputation or named reference levels).
    """

    source: Any  # FileSource or DaskSource
    encoder: TableEncoder | None = None
    where: str = ""
    classes: NDArray[Any] = field(init=False)
    feature_names: list[str] = field(init=False)
    _n_rows: int = field(init=False, repr=False)
    _memo: _FoldMemo = field(init=False, repr=False, default_factory=_FoldMemo)
    _kept: dict[tuple[int, int, RowFilter | None], list[Any]] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        schema = self.source.schema()
        self.classes = np.asarray(schema.classes)
        self.feature_names = [str(c) for c in schema.feature_names or []]
        self._n_rows = int(schema.n_rows)
        if self.encoder is None:
            self.encoder = schema.encoder
        self.where = self.where or (
            str(self.source.path) if isinstance(self.source, FileSource) else "dask partitions"
        )

    @property
    def n_rows(self) -> int:
        """Rows of the source."""
        return self._n_rows

    @property
    def offsets(self) -> bool:
        """Whether the rows carry offsets (the source's offset column)."""
        return getattr(self.source, "offset", None) is not None

    def fit(self, model: LogisticModel, keep: RowFilter | None = None) -> LogisticModel:
        """Fit ``model`` by passes over the rows ``keep`` keeps."""
        fitted = model.fit(self.source if keep is None else self.source.subset(keep))
        if self.encoder is not None:
            fitted.encoder_ = self.encoder
        return fitted

    def scan(self, fn: ScanFn[T]) -> Iterator[T]:
        """``fn`` of each record batch (a file; BLAS on one thread, as in a solver's pass,
        while the reading thread decodes the next batches) or partition (Dask, on the
        workers)."""
        if isinstance(self.source, FileSource):
            with one_blas_thread():
                for block in self._file_blocks():
                    yield _call(fn, block)
            return
        from dask.base import compute  # noqa: PLC0415 - the dask extra

        parts = self.source.chunk_source(0).map_blocks(fn)
        for start in range(0, len(parts), _DASK_GROUP):
            yield from compute(*parts[start : start + _DASK_GROUP])  # type: ignore[no-untyped-call]

    def scan_folds(
        self, fn: FoldScanFn[T], folds: HashKFold, keep: RowFilter | None
    ) -> Iterator[T]:
        """``fn`` of each block's kept rows and their folds: from a file, kept from the
        first such scan (its blocks come back the same each pass); on Dask, computed on
        each partition's worker once and kept there (persisted)."""
        if isinstance(self.source, FileSource):
            with one_blas_thread():
                yield from self._memo.scan(self._file_blocks(), fn, folds, keep)
            return
        from dask.base import compute  # noqa: PLC0415 - the dask extra

        chunks = self.source.chunk_source(0)
        key = (folds.n_splits, folds.seed, keep)
        if key not in self._kept:
            found = partial(_partition_folds, folds=folds, keep=keep)
            self._kept[key] = chunks.kept_blocks(found)
        parts = chunks.map_blocks_with(partial(_with_folds, fn=fn), self._kept[key])
        for start in range(0, len(parts), _DASK_GROUP):
            yield from compute(*parts[start : start + _DASK_GROUP])  # type: ignore[no-untyped-call]

    def _file_blocks(self) -> Iterator[_Block]:
        with closing(self.source.encoded_blocks()) as blocks:  # its reader stops on errors
            for X, codes, sw, _, offsets in blocks:
                yield np.ascontiguousarray(X), codes, sw, offsets

    def grid_data(self, class_weight: Any, keep: RowFilter | None = None) -> Any:
        """The kept rows prepared as a fit prepares them (schema and moments passes)."""
        from logitkit._fitting_sources import prepare_source  # noqa: PLC0415

        rows = self.source if keep is None else self.source.subset(keep)
        return prepare_source(rows, class_weight=class_weight)
