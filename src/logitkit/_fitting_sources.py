"""Fit set-up on rows outside memory: a streamed file or Dask partitions.

The counterpart of :mod:`logitkit._fitting` (which prepares arrays in memory) for a
row source (:mod:`logitkit.data.sources`). Its steps, in order:

1. the schema pass: distinct target labels (the classes), categorical levels, rows;
2. the first statistics pass: weighted feature moments and per-class totals with unit
   class weights (so that ``class_weight="balanced"`` can be computed from them), and
   on the way the rows of the Hessian's sample;
3. the class weights, set on the chunk source for every later pass; the moments' class
   totals scaled by them.

:class:`SourceData` then builds the solver :class:`~logitkit.solver.Problem` exactly as
:class:`~logitkit._fitting.TrainingData` does in memory, so the same fit follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from logitkit._fitting import build_problem, class_weight_vector
from logitkit.data.sources import OutOfCoreChunks, RowSource, SourceSchema
from logitkit.exceptions import DataError
from logitkit.solver import Problem, initial_theta
from logitkit.solver.moments import Moments, feature_moments
from logitkit.solver.objective import (
    _MIN_SAMPLE_ROWS,
    _SAMPLE_FRACTION,
    _SAMPLE_ROWS_PER_PARAMETER,
)

if TYPE_CHECKING:
    from logitkit.data.encoding import TableEncoder

FloatArray = NDArray[np.float64]

__all__ = [
    "SourceData",
    "as_row_source",
    "class_weighted",
    "is_row_source",
    "prepare_source",
]

#: Largest in-memory Hessian sample (bytes of features); a larger request gets fewer rows.
_MAX_SAMPLE_BYTES = 256 * 2**20


def _is_dask(X: Any) -> bool:
    return callable(getattr(X, "__dask_graph__", None))


def is_row_source(X: Any) -> bool:
    """Whether ``X`` is data outside memory: a row source or a dask collection."""
    return callable(getattr(X, "chunk_source", None)) or _is_dask(X)


def as_row_source(X: Any, y: Any = None, sample_weight: Any = None) -> RowSource:
    """``X`` as a row source: a :class:`~logitkit.data.stream.FileSource` or
    :class:`~logitkit.data.dask.DaskSource` as it is, dask collections wrapped.

    Raises
    ------
    DataError
        When ``y`` or ``sample_weight`` is given beside a source that names its own.
    """
    if _is_dask(X):
        from logitkit.data.dask import DaskSource  # noqa: PLC0415 - optional extra

        return DaskSource(X, y, sample_weight=sample_weight)
    if y is not None or sample_weight is not None:
        msg = (
            f"{type(X).__name__} names its own target and weight columns; call fit(source) "
            "without y and sample_weight."
        )
        raise DataError(msg)
    source: RowSource = X
    return source


def sample_rows(schema: SourceSchema, n_features: int) -> int:
    """Rows to gather for the Hessian sample: what the solver will ask for, or 0."""
    n_params = schema.n_outputs * (n_features + 1)
    rows = max(_MIN_SAMPLE_ROWS, _SAMPLE_ROWS_PER_PARAMETER * n_params)
    if rows >= _SAMPLE_FRACTION * schema.n_rows:
        return 0  # the solver takes no sample of data this small
    return int(min(rows, max(_MIN_SAMPLE_ROWS, _MAX_SAMPLE_BYTES // (8 * max(n_features, 1)))))


@dataclass(frozen=True)
class SourceData:
    """Rows outside memory, ready for the solver (as :class:`~logitkit._fitting.TrainingData`).

    Attributes
    ----------
    classes : ndarray
        Sorted class labels.
    schema : SourceSchema
        What the schema pass learned (feature names, encoder, rows).
    source : OutOfCoreChunks
        The chunk source the solver passes over.
    moments : Moments
        Weighted feature moments and class totals (with the class weights).
    n_features : int
        Number of model columns.
    """

    classes: NDArray[Any]
    schema: SourceSchema
    source: OutOfCoreChunks
    moments: Moments
    n_features: int

    @property
    def n_outputs(self) -> int:
        """1 for a binary target, the number of classes otherwise."""
        return self.schema.n_outputs

    @property
    def feature_names(self) -> list[str] | None:
        """The model's column names, if the data have names."""
        return self.schema.feature_names

    @property
    def encoder(self) -> TableEncoder | None:
        """How a file's raw columns became the model's (None for Dask)."""
        return self.schema.encoder

    def problem(
        self, *, C: float, l1_ratio: float, fit_intercept: bool, standardize: bool
    ) -> Problem:
        """The solver problem for one penalty (as :meth:`TrainingData.problem`)."""
        return build_problem(
            self.source,
            self.moments,
            n_outputs=self.n_outputs,
            n_features=self.n_features,
            total_weight=float(self.moments.class_weight_sums.sum()),
            n_rows=int(self.moments.n_rows),
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            standardize=standardize,
        )

    def null_start(self, problem: Problem) -> FloatArray:
        """Starting parameters at the null model."""
        return initial_theta(problem, self.moments.class_weight_sums)


def class_weighted(
    moments: Moments, classes: NDArray[Any], class_weight: Any
) -> tuple[Moments, FloatArray]:
    """Check a first pass's moments (taken with unit class weights) and apply the class weights.

    Returns the moments with their class totals scaled by the class weights, and the
    class weights (ones when ``class_weight`` is None).

    Raises
    ------
    DataError
        When every weight is zero, when a class has no rows (a fold of a
        cross-validation), or when the weights add up to infinity.
    """
    totals = moments.class_weight_sums
    if not moments.weight > 0.0:
        msg = "Every row has weight zero; at least one row needs a positive weight."
        raise DataError(msg, column="sample_weight")
    empty = np.flatnonzero(moments.class_counts == 0)
    if empty.size:
        label = classes[int(empty[0])]
        msg = (
            f"Class {label!r} has no rows here (a cross-validation fold?); every class "
            "needs rows to fit. Use fewer folds or more data."
        )
        raise DataError(msg)
    K = int(classes.shape[0])
    cw = class_weight_vector(class_weight, classes, np.arange(K, dtype=np.intp), totals)
    if class_weight is not None:
        moments = replace(moments, class_weight_sums=totals * cw)
    if not math.isfinite(float(moments.class_weight_sums.sum())):
        msg = "The row weights add up to infinity; rescale the weight column."
        raise DataError(msg, column="sample_weight")
    return moments, cw


def prepare_source(
    X: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None
) -> SourceData:
    """Run the schema pass and the first statistics pass over a row source.

    Parameters
    ----------
    X : FileSource, DaskSource or dask collection
        The rows (a dask DataFrame or Array with ``y`` a dask Series or Array).
    y, sample_weight : dask collections, optional
        Target and weights beside a dask ``X``.
    class_weight : None, "balanced" or dict
        As :class:`~logitkit.model.LogisticModel`.

    Raises
    ------
    DataError
        From the passes (naming the column and row), when every weight is zero, or
        when a class has no rows (a fold of a cross-validation).
    """
    rows = as_row_source(X, y, sample_weight)
    schema = rows.schema()
    classes = schema.classes
    K = int(classes.shape[0])
    n_features = schema.n_features
    chunks = rows.chunk_source(sample_rows(schema, n_features))
    moments = feature_moments(chunks, K)  # unit class weights: class totals of sample weights
    moments, cw = class_weighted(moments, classes, class_weight)
    if class_weight is not None:
        chunks.set_class_weights(cw)
    return SourceData(classes, schema, chunks, moments, n_features)
