"""What streamed and distributed row sources share: schema, hash folds, samples, progress.

A *row source* holds a fit's data outside this process's memory (a file read in
batches, :mod:`logitkit.data.stream`; partitions on a Dask cluster,
:mod:`logitkit.data.dask`). A fit on one runs in three steps (see
:mod:`logitkit._fitting_sources`):

1. ``source.schema()``: a cheap pass for what must be known before any arithmetic --
   the distinct target labels (the classes), the categorical levels, the row count;
2. ``source.chunk_source()``: a :class:`~logitkit.solver.ChunkSource` whose first
   pass gathers the moments and class totals (and, on the way, the Hessian's row
   sample, :class:`RowSample`);
3. the solver's passes over that chunk source.

Cross-validation at scale needs folds that do not depend on where a row sits, so
:func:`hash_folds` assigns each row to a fold by a hash of its feature values: the same
row falls in the same fold in memory, in any file layout and on any partitioning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.data.memory import ArraySource
from logitkit.exceptions import DataError
from logitkit.solver.statistics import ChunkSource

if TYPE_CHECKING:
    from logitkit.data.encoding import TableEncoder
    from logitkit.data.grouped import GroupedData

FloatArray = NDArray[np.float64]

__all__ = [
    "FoldFilter",
    "OutOfCoreChunks",
    "PassProgress",
    "RawSplit",
    "RowSample",
    "RowSource",
    "SourceSchema",
    "check_classes",
    "hash_folds",
    "pass_progress",
    "raw_values",
    "row_hashes64",
    "sample_positions",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: Rows per block of the Hessian sample (as :class:`~logitkit.data.memory.ArraySource`).
SAMPLE_BLOCK_ROWS = 256


# ------------------------------------------------------------------------ raw rows
def raw_values(frame: pd.DataFrame) -> NDArray[np.float64]:
    """The raw values of ``frame`` as float64, alike whatever read them (for a row hash).

    Numbers (integers, floats, decimals) as float64, booleans as 0/1, text (or
    categorical) values as the top 53 bits of pandas' stable 64-bit hash of the text,
    missing values as NaN: a CSV read by pyarrow, Parquet, pandas in memory or a Dask
    partition give the same matrix for the same rows.

    Examples
    --------
    >>> import pandas as pd
    >>> a = raw_values(pd.DataFrame({"n": [1, 2], "t": ["a", None], "b": [True, False]}))
    >>> b = raw_values(pd.DataFrame({"n": [1.0, 2.0], "t": ["a", float("nan")], "b": [1, 0]}))
    >>> bool(np.array_equal(a, b, equal_nan=True))
    True
    """
    out = np.full((len(frame), frame.shape[1]), np.nan)
    for j, name in enumerate(frame.columns):
        column = frame[name]
        dtype = column.dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            out[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        values = column.astype(object).to_numpy()
        present = np.asarray(pd.notna(values), dtype=bool)
        kept = values[present]
        if all(isinstance(v, bool | np.bool_) for v in kept):  # booleans with gaps
            out[present, j] = kept.astype(np.float64)
        else:
            text = np.array([str(v) for v in kept], dtype=object)
            digest = pd.util.hash_array(text, categorize=False)
            out[present, j] = (digest >> np.uint64(11)).astype(np.float64)
    return out


@dataclass(frozen=True)
class RawSplit:
    """Rows chosen by a hash of their raw values (:func:`raw_values` of ``columns``),
    before any encoding: ``share`` is a row filter of that matrix (a
    :class:`~logitkit.data.row_filters.HashShare`)."""

    columns: tuple[str, ...]
    share: Any

    def mask(self, frame: pd.DataFrame) -> NDArray[np.bool_]:
        """Which rows of ``frame`` (raw columns, ``columns`` among them) to keep."""
        return np.asarray(self.share.mask(raw_values(frame[list(self.columns)])), dtype=bool)


# ------------------------------------------------------------------------ hash folds
def _splitmix64(z: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Vigna's splitmix64 finaliser (wrapping uint64 arithmetic), element-wise."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _multipliers(n_features: int, seed: int) -> NDArray[np.uint64]:
    """Odd 64-bit multipliers, one per feature: splitmix64 of ``seed * 2**32 + j``."""
    base = np.uint64((int(seed) & 0xFFFFFFFF) << 32)
    out = _splitmix64(base + np.arange(n_features, dtype=np.uint64))
    return out | np.uint64(1)


def hash_folds(X: Any, n_splits: int, seed: int = 0) -> NDArray[np.intp]:
    """The fold (``0 .. n_splits - 1``) of each row, from a hash of its feature values.

    Each row's float64 values are read as 64-bit integers ``b_j`` (``-0.0`` counted as
    ``0.0``), folded ``v_j = b_j ^ (b_j >> 32)`` so that round numbers (whose low bits
    are zero) still vary in every bit, and projected on fixed odd multipliers ``a_j``
    (splitmix64 of the seed and ``j``): ``h = sum_j a_j v_j mod 2**64``. One splitmix64
    step mixes ``h``, and its top 32 bits pick the fold: ``fold = (h >> 32) * K >> 32``.

    The fold depends on the row's values only: it is the same in memory, in a streamed
    file and on any Dask partitioning, whatever the row order; rows with equal features
    share a fold (so duplicates never sit on both sides of a split). The target is not
    hashed. Arithmetic is numpy's wrapping uint64, two multiplies per value.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features (converted to float64).
    n_splits : int
        Number of folds, at least 2.
    seed : int, default=0
        Picks the multipliers: another seed gives another, independent assignment.

    Returns
    -------
    ndarray of int of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> folds = hash_folds(X, 3)
    >>> bool((hash_folds(X[::-1], 3) == folds[::-1]).all())  # order does not matter
    True
    """
    if n_splits < 2:
        msg = f"n_splits must be an int in [2, inf). Got {n_splits!r} instead."
        raise ValueError(msg)
    top = row_hashes64(X, (seed,))[:, 0] >> np.uint64(32)
    return np.asarray((top * np.uint64(n_splits)) >> np.uint64(32), dtype=np.intp)


def row_hashes64(X: Any, seeds: Sequence[int]) -> NDArray[np.uint64]:
    """Each row's mixed 64-bit hash under each seed, shape ``(n_samples, len(seeds))``.

    :func:`hash_folds`' hash before it picks a fold (see there): the folded bits of the
    row's values projected on each seed's multipliers, then one splitmix64 step. The
    rows' values are read and folded once for every seed.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.5], [-0.0, 1.5], [2.0, 1.5]])
    >>> h = row_hashes64(X, (1, 2))
    >>> h.shape, bool((h[0] == h[1]).all()), bool((h[0] != h[2]).all())
    ((3, 2), True, True)
    """
    values = np.asarray(X, dtype=np.float64)
    if values.ndim != 2:
        msg = f"X must be 2-D (rows, features); got shape {values.shape}."
        raise ValueError(msg)
    n, p = values.shape
    multipliers = [_multipliers(p, seed) for seed in seeds]
    h = np.zeros((n, len(multipliers)), dtype=np.uint64)
    step = max(1, 2**20 // max(p, 1))
    for start in range(0, n, step):
        block = values[start : start + step] + 0.0  # a copy; -0.0 + 0.0 is 0.0
        bits = block.view(np.uint64)
        bits ^= bits >> np.uint64(32)
        rows = slice(start, start + step)
        for k, a in enumerate(multipliers):
            if k == len(multipliers) - 1:
                bits *= a  # the last seed multiplies in place
                h[rows, k] = bits.sum(axis=1, dtype=np.uint64)
            else:
                h[rows, k] = (bits * a).sum(axis=1, dtype=np.uint64)
    for k, seed in enumerate(seeds):
        h[:, k] = _splitmix64(h[:, k] ^ np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF))
    return h


@dataclass(frozen=True)
class FoldFilter:
    """Keep the training rows (or the test rows) of one hash fold.

    Attributes
    ----------
    n_splits : int
        Number of folds.
    fold : int
        The fold, ``0 .. n_splits - 1``.
    train : bool
        Keep the rows outside the fold (training), or those inside it (test).
    seed : int
        Seed of :func:`hash_folds`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> train, test = FoldFilter(5, 0), FoldFilter(5, 0, train=False)
    >>> bool((train.mask(X) ^ test.mask(X)).all())
    True
    """

    n_splits: int
    fold: int
    train: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.fold < self.n_splits:
            msg = f"fold must be in [0, {self.n_splits}); got {self.fold!r}."
            raise ValueError(msg)

    def mask(self, X: Any) -> NDArray[np.bool_]:
        """Which rows of ``X`` to keep."""
        folds = hash_folds(X, self.n_splits, self.seed)
        return np.asarray((folds != self.fold) if self.train else (folds == self.fold))


# ------------------------------------------------------------------------ schema
@dataclass(frozen=True)
class SourceSchema:
    """What the schema pass learned.

    Attributes
    ----------
    classes : ndarray
        Sorted distinct target labels.
    feature_names : list of str or None
        The model's columns (after encoding), or None when the data have no names.
    n_features : int
        Number of model columns.
    n_rows : int
        Rows in the source (before any fold filter).
    encoder : TableEncoder or None
        How raw columns became the model's columns (file sources), or None.
    grouped : GroupedData or None
        With rows that are groups of trials: their totals (``n_rows`` then counts the
        solver's rows, two a group at most), else None.

    Examples
    --------
    >>> import numpy as np
    >>> SourceSchema(np.array(["a", "b", "c"]), ["x"], 1, 100).n_outputs
    3
    """

    classes: NDArray[Any]
    feature_names: list[str] | None
    n_features: int
    n_rows: int
    encoder: TableEncoder | None = None
    grouped: GroupedData | None = None

    @property
    def n_outputs(self) -> int:
        """1 for a binary target, the number of classes otherwise."""
        K = int(self.classes.shape[0])
        return 1 if K == 2 else K


def check_classes(labels: Sequence[Any] | NDArray[Any], target: str, where: str) -> NDArray[Any]:
    """Sorted distinct labels, refusing non-integer floats, NaN, mixed types or one class.

    Examples
    --------
    >>> check_classes([1, 0, 1], "y", "data.csv").tolist()
    [0, 1]
    """
    arr = np.asarray(labels)
    if arr.dtype.kind == "O":
        kinds = {type(v).__name__ for v in arr.tolist()}
        if len(kinds) > 1:
            msg = f"Target column '{target}' of {where} mixes label types ({', '.join(sorted(kinds))})."
            raise DataError(msg, column=target)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            msg = (
                f"Target column '{target}' of {where} has NaN or infinite labels; drop those rows."
            )
            raise DataError(msg, column=target)
        if not np.all(arr == np.round(arr)):
            msg = (
                f"Target column '{target}' of {where} looks continuous (non-integer floats). "
                "Logistic regression needs class labels; threshold or bin it first."
            )
            raise DataError(msg, column=target)
    classes = np.unique(arr)
    if classes.shape[0] < 2:
        only = repr(classes[0].item()) if classes.shape[0] else "none"
        msg = (
            f"Target column '{target}' of {where} has only one class ({only}); a classifier "
            "needs at least two. Check the column and any row filters."
        )
        raise DataError(msg, column=target)
    return classes


# ------------------------------------------------------------------------ row sample
def sample_positions(n_rows: int, max_rows: int) -> NDArray[np.int64]:
    """Rows of the Hessian sample: about ``max_rows`` in evenly spread blocks of 256.

    The same rows :meth:`ArraySource.hessian_sample <logitkit.data.memory.ArraySource.
    hessian_sample>` takes, so that a streamed fit's row sample is the in-memory one's.

    Examples
    --------
    >>> rows = sample_positions(100_000, 512)
    >>> rows[:2].tolist(), rows[-1].item(), rows.size
    ([0, 1], 99999, 512)
    """
    n_blocks = max(1, max_rows // SAMPLE_BLOCK_ROWS)
    starts = np.linspace(0, n_rows - SAMPLE_BLOCK_ROWS, n_blocks).astype(np.int64)
    rows = (starts[:, None] + np.arange(SAMPLE_BLOCK_ROWS)[None, :]).ravel()
    return np.unique(rows)


@dataclass
class RowSample:
    """Rows gathered on a pass for approximate Hessians (features, codes, sample weights).

    Attributes
    ----------
    positions : ndarray of int
        Wanted rows, by position in the source (before any fold filter).

    Examples
    --------
    >>> import numpy as np
    >>> sample = RowSample(np.array([3, 5, 12]))
    >>> sample.local(offset=4, n=10).tolist()  # rows 4 .. 13 hold positions 5 and 12
    [1, 8]
    """

    positions: NDArray[np.int64]
    _X: list[FloatArray] = field(default_factory=list, repr=False)
    _y: list[NDArray[np.intp]] = field(default_factory=list, repr=False)
    _sw: list[FloatArray] = field(default_factory=list, repr=False)
    complete: bool = False

    def clear(self) -> None:
        """Forget rows gathered on an unfinished pass."""
        self._X.clear()
        self._y.clear()
        self._sw.clear()

    def local(self, offset: int, n: int) -> NDArray[np.int64]:
        """Positions within rows ``offset .. offset + n`` of the source, made local."""
        lo, hi = np.searchsorted(self.positions, [offset, offset + n])
        return self.positions[lo:hi] - offset

    def add(self, X: FloatArray, y: NDArray[np.intp], sw: FloatArray) -> None:
        """Keep copies of these rows."""
        if X.shape[0]:
            self._X.append(np.array(X, order="C"))
            self._y.append(np.array(y))
            self._sw.append(np.array(sw))

    def source(self, class_weights: FloatArray, n_outputs: int) -> ArraySource | None:
        """The gathered rows as an in-memory source with loss weights ``sw * cw[y]``."""
        if not self._X:
            return None
        X = np.concatenate(self._X)
        y = np.concatenate(self._y)
        sw = np.concatenate(self._sw)
        return ArraySource(X, y, sw * class_weights[y], sw, n_outputs)


# ------------------------------------------------------------------------ protocol
class RowSource(Protocol):
    """Data outside memory that a :class:`~logitkit.model.LogisticModel` can fit on."""

    def schema(self) -> SourceSchema:
        """The classes, model columns and row count (a cheap first pass, cached)."""
        ...

    def chunk_source(self, sample_rows: int) -> OutOfCoreChunks:
        """The solver's chunk source; its first pass gathers ``sample_rows`` sample rows."""
        ...

    def subset(self, fold: FoldFilter) -> RowSource:
        """The rows one hash fold keeps (sharing this source's schema)."""
        ...


class OutOfCoreChunks(ChunkSource, Protocol):
    """A chunk source whose loss weights are set once the class totals are known."""

    def set_class_weights(self, class_weights: FloatArray) -> None:
        """Loss weight of a row: its sample weight times ``class_weights[code]``."""
        ...

    def map_rows(self, fn: Callable[[FloatArray], FloatArray], width: int) -> Any:
        """``fn`` (``width`` values per row) of the features of every row, in row order.

        A numpy array for a file; a Dask array, one block per partition, for Dask.
        """
        ...


# ------------------------------------------------------------------------ progress
class PassProgress:
    """Rich progress bars on stderr: one line per solver pass, counting its rows.

    Parameters
    ----------
    what : str
        What is passed over (a file name, "dask partitions"), shown on each line.
    n_rows : int or None
        Rows per pass, when known (else the bar counts up).

    Examples
    --------
    >>> bar = PassProgress("data.parquet", 1000)
    >>> bar.passes
    0
    """

    def __init__(self, what: str, n_rows: int | None) -> None:
        self.what = what
        self.n_rows = n_rows
        self.passes = 0

    @contextmanager
    def one_pass(self, label: str | None = None) -> Iterator[Callable[[int], None]]:
        """A bar for the next pass (or a pass named ``label``, not counted).

        The context yields ``advance(rows)``.
        """
        from rich.console import Console  # noqa: PLC0415 - only when a bar is asked for
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        if label is None:
            self.passes += 1
        bar = Progress(
            TextColumn("[bold]{task.fields[label]}[/] over {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        with bar:
            name = label or f"pass {self.passes}"
            task = bar.add_task(self.what, total=self.n_rows, label=name)

            def advance(rows: int) -> None:
                bar.advance(task, rows)

            yield advance


@contextmanager
def pass_progress(
    progress: PassProgress | None, label: str | None = None
) -> Iterator[Callable[[int], None]]:
    """``progress.one_pass(label)``, or a silent counter when there is no bar.

    Examples
    --------
    >>> with pass_progress(None) as advance:
    ...     advance(100)  # no bar: nothing shown
    """
    if progress is None:
        yield _ignore
        return
    with progress.one_pass(label) as advance:
        yield advance


def _ignore(rows: int) -> None:
    """Count nothing."""
