"""Distributed rows: a Dask DataFrame or Array, each pass a map and tree-reduce on the workers.

:class:`DaskSource` turns the partitions into float64 blocks with class codes once and
keeps them persisted on the workers; every solver pass then ships the (small, picklable)
chunk function to the partitions, where the rows are, computes each partition's
:class:`~logitkit.solver.Stats` (or :class:`~logitkit.solver.moments.Moments`) there,
and adds them up in a tree, so only ``p x p``-sized statistics cross the network. The
sum's shape is fixed by the partition order, not by which worker finishes first, so a
fit is reproducible and equals the in-memory fit on the same rows.

Passes run on the current Dask scheduler: the ``distributed.Client`` created last, or
Dask's local threads without one. Workers need logitkit installed (the chunk functions
are ``functools.partial`` objects of logitkit's module-level functions).

On a real cluster, start it with Dask's own deployment tools and connect a client
before fitting, e.g. ``dask_kubernetes.operator.KubeCluster`` (Kubernetes),
``dask_yarn.YarnCluster`` (Hadoop YARN), ``dask_jobqueue`` (Slurm, PBS, SGE) or
``dask scheduler`` / ``dask worker`` by hand; ``Client(cluster)`` (or
``Client("tcp://scheduler:8786")``) makes it the scheduler the passes run on. The
workers' image or environment must have ``logitkit[dask]`` installed, at the
client's version.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

try:
    import dask.array as da
    from dask.base import compute, persist
    from dask.delayed import Delayed, delayed
except ImportError as exc:  # pragma: no cover - the extra is installed in CI
    msg = "Fitting on Dask collections needs Dask: pip install 'logitkit[dask]'."
    raise ImportError(msg) from exc

from logitkit._offset import OffsetSource
from logitkit.data.checks import check_numeric_columns, spelling_merges
from logitkit.data.encoding import TableEncoder
from logitkit.data.grouped import GroupedData, check_both_outcomes, doubled_rows, group_counts
from logitkit.data.memory import ArraySource
from logitkit.data.row_filters import RowFilter
from logitkit.data.sources import (
    PassProgress,
    SourceSchema,
    check_classes,
    pass_progress,
    sample_positions,
)
from logitkit.exceptions import DataError
from logitkit.solver.statistics import Chunk, S

FloatArray = NDArray[np.float64]

__all__ = ["DaskChunks", "DaskSource"]

#: Partition results added together per task of the tree reduction.
_FAN_IN = 8
#: Partitions computed at once by a scan of the groups (their results are held).
_SCAN_GROUP = 4
T = TypeVar("T")


# ---------------------------------------------------------------- on the workers
@dataclass
class _Block:
    """One partition as the solver reads it (kept on a worker)."""

    X: FloatArray
    y: NDArray[Any]  # raw labels, then class codes
    sw: FloatArray
    index: NDArray[Any] | None  # the frame's index labels, for messages
    labels: list[tuple[Any, int]]  # distinct labels and their rows
    problem: tuple[str, str, int] | None  # (what, column, row in the partition)
    #: Groups of trials: each group's first row among the solver's rows, its successes
    #: and its trials (None: the rows are not grouped).
    groups: tuple[NDArray[np.intp], FloatArray, FloatArray] | None = None
    #: Each row's log-odds offset (an offset column), or None.
    offsets: FloatArray | None = None


def _first_bad(bad: NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(bad)[0])


def _make_block(
    x: Any,
    y: Any,
    sw: Any,
    names: Sequence[str] | None,
    target: str | None,
    weight: str | None,
    encoder: TableEncoder | None = None,
    offset: int = 0,
    trials: str | None = None,
    offset_column: str | None = None,
) -> _Block:
    """Float64 features, raw labels and weights of one partition (whose first row is row
    ``offset``), with its first problem; an ``encoder`` encodes the raw features. With
    ``trials`` each row is a group of trials, ``target`` its successes: the block holds
    the solver's rows of the groups (:func:`~logitkit.data.grouped.doubled_rows`)."""
    index = None
    if isinstance(x, pd.DataFrame):
        index = x.index.to_numpy()
        if trials is not None:
            return _grouped_block(x, names, target, trials, encoder, offset)
        y = x[target] if target is not None else y
        sw = x[weight] if weight is not None else sw
        if encoder is not None:
            X = encoder.transform(x, row_offset=offset).to_numpy(dtype=np.float64)
        else:
            X = x[list(names or [])].to_numpy(dtype=np.float64)
    else:
        X = np.asarray(x, dtype=np.float64)
    y_arr = y.to_numpy() if isinstance(y, pd.Series) else np.asarray(y).ravel()
    n = X.shape[0]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64).ravel()
    problem = _feature_problem(X, names)
    missing = pd.isna(y_arr)
    if problem is not None:
        pass
    elif missing.any():
        problem = ("a missing label", str(target or "y"), _first_bad(missing))
    elif (bad_w := ~np.isfinite(w) | (w < 0)).any():
        problem = (
            "a negative or non-finite weight",
            str(weight or "sample_weight"),
            _first_bad(bad_w),
        )
    offsets = None
    if offset_column is not None and problem is None:
        offsets = _counts(x[offset_column])
        if offsets.dtype.kind != "f":
            problem = ("a value that is not a number", offset_column, 0)
        elif (bad := ~np.isfinite(offsets)).any():
            problem = ("a missing or infinite offset", offset_column, _first_bad(bad))
    counts = pd.Series(y_arr[~missing], dtype=object).value_counts(sort=False)
    uniques = list(counts.items()) if problem is None else []
    return _Block(X, y_arr, w, index, uniques, problem, offsets=offsets)


def _feature_problem(X: FloatArray, names: Sequence[str] | None) -> tuple[str, str, int] | None:
    """The first NaN or infinite feature value: (what, column, row), or None."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()) or np.isfinite(X).all():
            return None
    bad = ~np.isfinite(X)
    j = int(np.flatnonzero(bad.any(axis=0))[0])
    column = str(names[j]) if names is not None else f"column {j}"
    row = _first_bad(bad[:, j])
    return ("NaN" if np.isnan(X[row, j]) else "an infinite value", column, row)


def _grouped_block(
    x: pd.DataFrame,
    names: Sequence[str] | None,
    target: str | None,
    trials: str,
    encoder: TableEncoder | None,
    offset: int,
) -> _Block:
    """:func:`_make_block` of a partition of groups of trials (see there)."""
    if encoder is not None:
        X = encoder.transform(x, row_offset=offset).to_numpy(dtype=np.float64)
    else:
        X = x[list(names or [])].to_numpy(dtype=np.float64)
    problem = _feature_problem(X, names)
    if problem is not None:
        return _Block(X, np.zeros(0, np.intp), np.zeros(0), x.index.to_numpy(), [], problem)
    name = str(target)
    s, m = group_counts(
        _counts(x[name]),
        _counts(x[trials]),
        names=(name, trials),
        first_row=offset,
        where=" of the dask collection",
    )
    rows, labels, weights = doubled_rows(X, s, m)
    parts = (s > 0).astype(np.intp) + (m - s > 0)  # each group's rows: 1 or 2
    first = np.cumsum(parts) - parts
    return _Block(rows, labels, weights, None, [(0, 1), (1, 1)], None, (first, s, m))


def _counts(column: pd.Series) -> NDArray[Any]:
    """A column of counts as float64 (missing values NaN); other types as they are, for
    :func:`~logitkit.data.grouped.group_counts` to refuse by name."""
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return column.to_numpy()


def _group_totals(block: _Block) -> GroupedData | None:
    if block.groups is None or block.groups[1].size == 0:
        return None
    _, s, m = block.groups
    return GroupedData.of_counts(s, m)


def _map_groups(fn: Callable[[FloatArray, FloatArray, FloatArray], Any], block: _Block) -> Any:
    if block.groups is None or block.groups[1].size == 0:
        return None
    first, s, m = block.groups
    return fn(block.X[first], s, m)


def _summary(block: _Block) -> tuple[int, list[Any], tuple[str, str, int] | None, Any]:
    row = block.problem[2] if block.problem is not None else None
    label = block.index[row] if row is not None and block.index is not None else None
    if isinstance(label, np.generic):
        label = label.item()
    return block.X.shape[0], block.labels, block.problem, label


def _code(block: _Block, classes: NDArray[Any], merged: dict[str, str]) -> _Block:
    """The block with its labels replaced by class codes (labels and index dropped); a
    spelling in ``merged`` takes the class of the spelling it was merged into."""
    y = block.y
    if merged:
        y = pd.Series(y, dtype=object).replace(merged).to_numpy()
    codes = np.searchsorted(classes, y).astype(np.intp)
    return _Block(block.X, codes, block.sw, None, [], None, block.groups, block.offsets)


def _rows(block: _Block, cw: FloatArray, fold: RowFilter | None) -> ArraySource | None:
    X, y, sw, offsets = block.X, block.y, block.sw, block.offsets
    if fold is not None:
        keep = fold.mask(X)
        X, y, sw = X[keep], y[keep], sw[keep]
        offsets = None if offsets is None else offsets[keep]
    if X.shape[0] == 0:
        return None
    rows = ArraySource(X, y, sw * cw[y], sw, 1)
    return rows if offsets is None else OffsetSource(rows, offsets)


def _apply(
    fn: Callable[[Chunk], S], block: _Block, cw: FloatArray, fold: RowFilter | None
) -> S | None:
    """``fn`` summed over the partition's rows (in cache-sized row blocks)."""
    rows = _rows(block, cw, fold)
    return None if rows is None else rows.map_reduce(fn)


def _add(*parts: S | None) -> S | None:
    total: S | None = None
    for part in parts:
        if part is not None:
            total = part if total is None else total + part
    return total


def _take(
    block: _Block, rows: NDArray[np.int64], fold: RowFilter | None
) -> tuple[FloatArray, NDArray[np.intp], FloatArray]:
    X, y, sw = block.X[rows], block.y[rows], block.sw[rows]
    if fold is not None:
        keep = fold.mask(X)
        X, y, sw = X[keep], y[keep], sw[keep]
    return X, y, sw


def _map_rows(fn: Callable[[FloatArray], FloatArray], block: _Block) -> FloatArray:
    return fn(block.X)


def _map_block(fn: Callable[..., Any], block: _Block) -> Any:
    if block.offsets is None:
        return fn(block.X, block.y, block.sw)
    return fn(block.X, block.y, block.sw, offsets=block.offsets)


def _map_block_with(fn: Callable[..., Any], block: _Block, extra: Any) -> Any:
    if block.offsets is None:
        return fn(block.X, block.y, block.sw, extra)
    return fn(block.X, block.y, block.sw, extra, offsets=block.offsets)


def _tree_sum(parts: list[Delayed]) -> Delayed:
    """Add partition results pairwise-ish in a fixed tree (``_FAN_IN`` at a time)."""
    while len(parts) > 1:
        parts = [
            delayed(_add, pure=True)(*parts[i : i + _FAN_IN]) for i in range(0, len(parts), _FAN_IN)
        ]
    return parts[0]


# ---------------------------------------------------------------- on the client
def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "to_delayed") and hasattr(X, "dtypes")


def _partitions(obj: Any, what: str, rows: Sequence[float] | None = None) -> list[Delayed]:
    """One delayed object per row partition of a dask Series, DataFrame or Array."""
    if isinstance(obj, da.Array):
        if obj.ndim == 2 and obj.numblocks[1] > 1:
            obj = obj.rechunk({1: -1})
        if rows is not None and obj.ndim == 1 and tuple(obj.chunks[0]) != tuple(rows):
            if any(np.isnan(r) for r in rows):
                msg = f"{what} is partitioned unlike X, whose chunk sizes are unknown; align them."
                raise DataError(msg)
            obj = obj.rechunk({0: tuple(int(r) for r in rows)})
        return list(np.asarray(obj.to_delayed()).ravel())
    if hasattr(obj, "to_delayed"):
        return list(obj.to_delayed())
    msg = f"{what} must be a dask DataFrame, Series or Array; got {type(obj).__name__}."
    raise DataError(msg)


class DaskSource:
    """Rows on a Dask cluster: a dask DataFrame (with a target column or a target Series)
    or a dask Array with a target array.

    Give it (or the dask collections themselves) to :meth:`LogisticModel.fit
    <logitkit.model.LogisticModel.fit>`: each solver pass is one map over the partitions
    on the workers and a tree reduction of their statistics; the coefficients equal the
    in-memory fit's on the same rows.

    Parameters
    ----------
    X : dask.dataframe.DataFrame or dask.array.Array of shape (n_samples, n_features)
        Numeric features (a frame may also hold the target and weight columns).
    y : dask Series or Array, optional
        Class labels, partitioned as ``X``; or name the column with ``target``.
    target : str, optional
        The target column of a frame ``X``.
    sample_weight : dask Series or Array, optional
        Non-negative row weights, partitioned as ``X``; or name a column with ``weight``.
    weight : str, optional
        A weight column of a frame ``X``.
    progress : bool, default=False
        Show a Rich progress bar on stderr for each pass.
    encoder : TableEncoder, optional
        A fitted encoder (e.g. from :func:`~logitkit.data.streamed_encoding.
        fit_encoder_streamed` on this frame) that turns each partition's raw columns
        into the model's (levels, imputation, formula), on the workers. Without one,
        the frame's feature columns must be numeric.
    normalize_labels : bool, default=False
        Merge target labels that differ only in case or surrounding spaces into their
        most frequent spelling (as :class:`~logitkit.data.stream.FileSource`'s).
    merged_labels : dict of str to str, optional
        The merges to apply instead of learning them from these rows.
    offset : str, optional
        A column of a frame ``X`` holding each row's log-odds offset (R's
        ``glm(offset=)``; as :class:`~logitkit.data.stream.FileSource`'s ``offset``).
    trials : str, optional
        A column of a frame ``X`` holding each row's trials: each row is then a group
        of trials and ``target`` counts its successes (as
        :class:`~logitkit.data.stream.FileSource`'s ``trials``).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from logitkit import LogisticModel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 3))
    >>> y = (X[:, 0] + rng.normal(size=1000) > 0).astype(int)
    >>> source = DaskSource(da.from_array(X, chunks=250), da.from_array(y, chunks=250))
    >>> model = LogisticModel().fit(source)
    >>> bool(np.allclose(model.coef_, LogisticModel().fit(X, y).coef_, rtol=1e-8))
    True
    """

    def __init__(
        self,
        X: Any,
        y: Any = None,
        *,
        target: str | None = None,
        sample_weight: Any = None,
        weight: str | None = None,
        progress: bool = False,
        encoder: TableEncoder | None = None,
        trials: str | None = None,
        offset: str | None = None,
        normalize_labels: bool = False,
        merged_labels: dict[str, str] | None = None,
    ) -> None:
        if trials is not None and (
            not _is_frame(X) or target is None or weight is not None or sample_weight is not None
        ):
            msg = (
                "DaskSource's 'trials' names a column of a dask DataFrame, beside a 'target' "
                "column of successes and without weights (a group's trials weight it)."
            )
            raise ValueError(msg)
        if encoder is not None and not (_is_frame(X) and encoder.columns_):
            msg = "DaskSource's 'encoder' must be fitted, and X a dask DataFrame of raw columns."
            raise ValueError(msg)
        self.encoder = encoder
        self.X, self.y, self.target = X, y, target
        self.sample_weight, self.weight = sample_weight, weight
        self.progress = progress
        self.trials = trials
        self.offset = offset
        self.normalize_labels = normalize_labels
        #: Rows of each target label (the schema pass's count).
        self.label_counts: dict[Any, int] = {}
        #: Target label spellings merged into another (``normalize_labels``, or given).
        self.merged_labels: dict[str, str] = dict(merged_labels or {})
        self._merges_given = merged_labels is not None
        if offset is not None and (not _is_frame(X) or trials is not None):
            msg = (
                "DaskSource's 'offset' names a column of a dask DataFrame of rows (not of "
                "groups of trials)."
            )
            raise ValueError(msg)
        self.fold: RowFilter | None = None
        self._schema: SourceSchema | None = None
        self._blocks: list[Delayed] = []
        self._n_rows: list[int] = []

    def _features(self) -> list[str] | None:
        X = self.X
        if not _is_frame(X):
            if self.target is not None or self.weight is not None:
                msg = "target= and weight= name columns of a dask DataFrame; X is an array."
                raise DataError(msg)
            if getattr(X, "ndim", 0) != 2 or X.dtype.kind not in "fiub":
                msg = f"X must be a 2-D numeric dask array; got {getattr(X, 'dtype', type(X))}."
                raise DataError(msg)
            return None
        if (self.target is not None and self.y is not None) or (
            self.weight is not None and self.sample_weight is not None
        ):
            msg = "Give the target (and weights) once: as a column name or as a collection."
            raise DataError(msg)
        names = [str(c) for c in X.columns]
        named = ((self.target, "Target column"), (self.weight, "Weight column"))
        more = ((self.trials, "Trials column"), (self.offset, "Offset column"))
        for name, what in (*named, *more):
            if name is not None and name not in names:
                msg = f"{what} '{name}' is not in the dask DataFrame; its columns are: {', '.join(names[:30])}."
                raise DataError(msg, column=name)
        if self.encoder is not None:
            absent = [c for c in self.encoder.input_names if c not in names]
            if absent:
                msg = (
                    f"Column '{absent[0]}' is not in the dask DataFrame, but the encoder "
                    f"reads it; it reads: {', '.join(self.encoder.input_names)}."
                )
                raise DataError(msg, column=absent[0])
            return list(self.encoder.encoded_features_)
        features = [
            c for c in names if c not in (self.target, self.weight, self.trials, self.offset)
        ]
        check_numeric_columns(X._meta[features])
        return features

    def _raw_blocks(self, features: list[str] | None) -> list[Delayed]:
        if self.y is None and self.target is None:
            msg = "Give the target: DaskSource(X, y) or DaskSource(frame, target='column')."
            raise DataError(msg, column="y")
        xs = _partitions(self.X, "X")
        rows = self.X.chunks[0] if isinstance(self.X, da.Array) else None
        ys = _partitions(self.y, "y", rows) if self.y is not None else [None] * len(xs)
        ws = (
            _partitions(self.sample_weight, "sample_weight", rows)
            if self.sample_weight is not None
            else [None] * len(xs)
        )
        if not len(xs) == len(ys) == len(ws):
            msg = (
                f"X has {len(xs)} partitions but y has {len(ys)} and sample_weight "
                f"{len(ws)}; partition them alike (e.g. y = frame[target])."
            )
            raise DataError(msg)
        offsets = [0] * len(xs)
        if self.encoder is not None or self.trials is not None:  # errors name the frame's row
            lengths = compute(*[delayed(len)(x) for x in xs])
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()
        return [
            delayed(_make_block, pure=True)(
                x,
                y,
                w,
                features,
                self.target,
                self.weight,
                self.encoder,
                off,
                self.trials,
                self.offset,
            )
            for x, y, w, off in zip(xs, ys, ws, offsets, strict=True)
        ]

    def schema(self) -> SourceSchema:
        """Classes, feature names and rows; converts and persists the partitions (once).

        Raises
        ------
        DataError
            On non-numeric feature columns, unaligned partitions, NaN or infinite
            features, missing labels, negative weights (naming the column, the partition
            and the row) or fewer than two classes.
        """
        if self._schema is not None:
            return self._schema
        features = self._features()
        (*blocks,) = persist(*self._raw_blocks(features))
        summaries = compute(*[delayed(_summary, pure=True)(b) for b in blocks])
        offset = 0
        for i, (n, _, problem, label) in enumerate(summaries):
            if problem is not None:
                what, column, row = problem
                at = f" (index {label!r})" if label is not None else ""
                name = column if column.startswith("column ") else f"'{column}'"
                msg = (
                    f"Column {name.removeprefix('column ')} of the dask collection has {what} "
                    f"at row {offset + row}{at} (row {row} of partition {i}); drop or fill "
                    "those rows."
                )
                raise DataError(msg, column=column, row=offset + row)
            offset += n
        self.label_counts = {}
        for _, uniques, _, _ in summaries:
            for label, count in uniques:
                self.label_counts[label] = self.label_counts.get(label, 0) + int(count)
        if self.normalize_labels and not self._merges_given:  # one class, as in memory
            self.merged_labels, _ = spelling_merges(self.label_counts.items())
        labels = list(dict.fromkeys(self.merged_labels.get(v, v) for v in self.label_counts))
        if offset == 0:
            msg = "The dask collection has no rows."
            raise DataError(msg)
        grouped = None
        if self.trials is not None:
            (grouped,) = compute(_tree_sum([delayed(_group_totals)(b) for b in blocks]))
            check_both_outcomes(grouped, str(self.target))
        classes = check_classes(labels, str(self.target or "y"), "the dask collection")
        if classes.dtype.kind == "U":
            classes = classes.astype(object)
        (*coded,) = persist(
            *[delayed(_code, pure=True)(b, classes, self.merged_labels) for b in blocks]
        )
        self._blocks = coded
        self._n_rows = [int(s[0]) for s in summaries]
        width = len(features) if features is not None else int(self.X.shape[1])
        self._schema = SourceSchema(classes, features, width, offset, self.encoder, grouped)
        return self._schema

    def scan_groups(self, fn: Callable[[FloatArray, FloatArray, FloatArray], T]) -> Iterator[T]:
        """``fn(X, successes, trials)`` of every partition's groups (``trials`` set), on
        the workers; the results in partition order, a few partitions at a time."""
        self.schema()
        for start in range(0, len(self._blocks), _SCAN_GROUP):
            blocks = self._blocks[start : start + _SCAN_GROUP]
            for part in compute(*[delayed(_map_groups, pure=False)(fn, b) for b in blocks]):
                if part is not None:
                    yield part

    def chunk_source(self, sample_rows: int) -> DaskChunks:
        """The solver's chunk source over the persisted partitions (after :meth:`schema`)."""
        schema = self.schema()
        return DaskChunks(self, schema, sample_rows)

    def subset(self, fold: RowFilter) -> DaskSource:
        """The same partitions, keeping only the rows of one hash fold."""
        self.schema()
        out = copy.copy(self)
        out.fold = fold
        return out


class DaskChunks:
    """The solver's chunk source over a :class:`DaskSource`'s persisted partitions.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from functools import partial
    >>> from logitkit.solver.moments import chunk_moments
    >>> X = da.from_array(np.arange(10.0).reshape(10, 1), chunks=4)
    >>> y = da.from_array(np.array([0, 1] * 5), chunks=4)
    >>> chunks = DaskSource(X, y).chunk_source(sample_rows=0)
    >>> chunks.map_reduce(partial(chunk_moments, n_classes=2)).mean.tolist()
    [4.5]
    """

    def __init__(self, source: DaskSource, schema: SourceSchema, sample_rows: int) -> None:
        self.dask = source
        self.n_features = schema.n_features
        self.n_outputs = schema.n_outputs
        self._all_rows = schema.n_rows
        self._sample_rows = sample_rows
        self._class_weights = np.ones(schema.classes.shape[0])
        self._sample: ArraySource | None = None
        self._progress = PassProgress("dask partitions", schema.n_rows) if source.progress else None

    def set_class_weights(self, class_weights: FloatArray) -> None:
        """Loss weights become ``sample_weight * class_weights[code]``."""
        self._class_weights = np.asarray(class_weights, dtype=np.float64)
        self._sample = None

    def map_reduce(self, fn: Callable[[Chunk], S]) -> S:
        """One pass: ``fn`` on every partition on the workers, results added in a tree."""
        cw, fold = self._class_weights, self.dask.fold
        parts = [delayed(_apply, pure=False)(fn, b, cw, fold) for b in self.dask._blocks]
        with pass_progress(self._progress) as advance:
            (total,) = compute(_tree_sum(parts))
            advance(self._all_rows)
        if total is None:
            msg = "No rows of the dask collection to pass over (all filtered out?)."
            raise DataError(msg)
        result: S = total
        return result

    def map_rows(self, fn: Callable[[FloatArray], FloatArray], width: int) -> Any:
        """``fn`` of each partition's features on the workers: a lazy dask array.

        One block per partition, rows in order; ``fn`` returns ``width`` values per row.
        """
        blocks = [
            da.from_delayed(
                delayed(_map_rows, pure=False)(fn, b), shape=(n, width), dtype=np.float64
            )
            for b, n in zip(self.dask._blocks, self.dask._n_rows, strict=True)
        ]
        return da.concatenate(blocks, axis=0)

    def map_blocks(
        self, fn: Callable[[FloatArray, NDArray[np.intp], FloatArray], Any]
    ) -> list[Delayed]:
        """``fn(X, codes, sample_weight)`` of each partition (all rows, no fold filter).

        Lazy, one delayed result per partition in row order; ``fn`` runs on the workers
        (a module-level function or a ``functools.partial`` of one, so that it pickles).
        """
        return [delayed(_map_block, pure=False)(fn, b) for b in self.dask._blocks]

    def kept_blocks(
        self, fn: Callable[[FloatArray, NDArray[np.intp], FloatArray], Any]
    ) -> list[Delayed]:
        """``fn(X, codes, sample_weight)`` of each partition, computed once and kept on
        its worker (persisted), for later :meth:`map_blocks_with` passes."""
        kept: list[Delayed] = list(persist(*self.map_blocks(fn)))
        return kept

    def map_blocks_with(self, fn: Callable[..., Any], kept: list[Delayed]) -> list[Delayed]:
        """``fn(X, codes, sample_weight, extra)`` of each partition, ``extra`` its part of
        ``kept`` (:meth:`kept_blocks`); lazy, one delayed result per partition in order."""
        return [
            delayed(_map_block_with, pure=False)(fn, b, k)
            for b, k in zip(self.dask._blocks, kept, strict=True)
        ]

    def hessian_sample(self, max_rows: int) -> ArraySource | None:
        """About ``max_rows`` evenly spread rows, fetched from the workers once."""
        if self._sample_rows <= 0 or self._all_rows <= 2 * max_rows:
            return None
        if self.dask.offset is not None:  # with offsets every Hessian is on all rows
            return None
        if self._sample is None:
            wanted = sample_positions(self._all_rows, self._sample_rows)
            tasks, offset = [], 0
            for block, n in zip(self.dask._blocks, self.dask._n_rows, strict=True):
                lo, hi = np.searchsorted(wanted, [offset, offset + n])
                if hi > lo:
                    tasks.append(
                        delayed(_take, pure=False)(block, wanted[lo:hi] - offset, self.dask.fold)
                    )
                offset += n
            parts = compute(*tasks)
            X = np.concatenate([p[0] for p in parts])
            y = np.concatenate([p[1] for p in parts])
            sw = np.concatenate([p[2] for p in parts])
            self._sample = ArraySource(X, y, sw * self._class_weights[y], sw, self.n_outputs)
        return self._sample
