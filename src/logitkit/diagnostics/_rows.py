"""The training rows as the checks see them: validated, weighted, summarised once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from logitkit._memory import STEP_ROWS, release_pages
from logitkit.inference import TrainingRows, training_rows

if TYPE_CHECKING:
    from logitkit.model import LogisticModel

FloatArray = NDArray[np.float64]

__all__ = [
    "MAX_DENSE_VALUES",
    "OutOfFold",
    "Rows",
    "chunks",
    "class_totals",
    "out_of_fold",
    "quoted",
    "rows_of",
]

#: Largest dense copy (in values) that the separation and collinearity checks make.
MAX_DENSE_VALUES = 20_000_000
#: Rows per step of a check that goes through every row (:data:`~logitkit._memory.STEP_ROWS`).
CHUNK_ROWS = STEP_ROWS


def chunks(n: int, *on_disk: NDArray[Any]) -> Iterator[slice]:
    """The rows ``0 .. n - 1`` in steps of :data:`CHUNK_ROWS`; after each step the pages
    of the arrays ``on_disk`` that are mapped from files (a run's row vectors at scale)
    are handed back (:func:`~logitkit._memory.release_pages`; arrays in memory are left
    alone), so that a pass over them does not keep them counted in the process.

    Examples
    --------
    >>> list(chunks(3 * CHUNK_ROWS))[-1] == slice(2 * CHUNK_ROWS, 3 * CHUNK_ROWS)
    True
    """
    for start in range(0, n, CHUNK_ROWS):
        yield slice(start, start + CHUNK_ROWS)
        release_pages(*on_disk)


def class_totals(codes: NDArray[np.integer[Any]], sw: FloatArray, n_classes: int) -> FloatArray:
    """The sample weight of each class (``codes`` index the classes), step by step.

    Examples
    --------
    >>> class_totals(np.array([0, 1, 1]), np.array([1.0, 2.0, 0.5]), 3).tolist()
    [1.0, 2.5, 0.0]
    """
    totals = np.zeros(n_classes)
    for rows in chunks(len(codes), codes, sw):
        totals += np.bincount(codes[rows], weights=sw[rows], minlength=n_classes)
    return totals


@dataclass(frozen=True)
class Rows:
    """Training rows with the per-feature summaries every check needs.

    Attributes
    ----------
    rows : TrainingRows
        Validated features, labels, class codes and weights.
    names : list of str
        Feature names.
    dense : ndarray or None
        A dense copy of the features; None when too large to make.
    mean, sd : ndarray
        Weighted mean and standard deviation of each feature.
    constant : ndarray of bool
        Features with a single value.
    binary : bool
        Whether the model has two classes.
    correlation : ndarray or None
        The weighted correlation matrix of the features, when known from their moments
        (rows read in passes); the collinearity checks use it where ``dense`` is None.
    """

    rows: TrainingRows
    names: list[str]
    dense: FloatArray | None
    mean: FloatArray
    sd: FloatArray
    constant: NDArray[np.bool_]
    binary: bool
    correlation: FloatArray | None = None


def rows_of(model: LogisticModel, X: Any, y: Any, sample_weight: Any) -> Rows:
    """Validate the training rows against ``model`` and summarise each feature."""
    rows = training_rows(model, X, y, sample_weight)
    if rows is None:  # pragma: no cover - X and y are required by diagnose
        msg = "diagnose needs the training rows X and y."
        raise ValueError(msg)
    n, p = rows.X.shape
    dense = None
    if n * p <= MAX_DENSE_VALUES:
        dense = rows.X.toarray() if sp.issparse(rows.X) else np.asarray(rows.X, np.float64)
    sw = rows.sw
    total = float(sw.sum())
    mean = np.asarray(rows.X.T @ sw).ravel() / total
    if dense is not None:
        var = sw @ (dense - mean) ** 2 / total
        constant = (dense.max(axis=0) == dense.min(axis=0)) | (var == 0.0)
    else:
        sq = np.asarray(
            rows.X.multiply(rows.X).T @ sw if sp.issparse(rows.X) else (rows.X**2).T @ sw
        )
        var = np.maximum(sq.ravel() / total - mean**2, 0.0)
        constant = var <= 1e-24 * np.maximum(mean**2, 1.0)
    names = model._feature_names()
    return Rows(rows, names, dense, mean, np.sqrt(var), constant, len(model.classes_) == 2)


@dataclass(frozen=True)
class OutOfFold:
    """Validated out-of-fold labels and probabilities.

    Attributes
    ----------
    labels : ndarray
        The true labels.
    codes : ndarray of int
        Their positions in ``model.classes_``.
    proba : ndarray of shape (n, K)
        The probability of every class.
    """

    labels: NDArray[Any]
    codes: NDArray[np.intp]
    proba: FloatArray


def out_of_fold(model: LogisticModel, oof: Any) -> OutOfFold | None:
    """Check ``oof = (y_true, proba)`` against the model's classes."""
    if oof is None:
        return None
    where = "The 'oof' parameter of diagnose"
    try:
        y_true, proba = oof
    except (TypeError, ValueError):
        msg = f"{where} must be a pair (y_true, proba). Got {type(oof).__name__} instead."
        raise ValueError(msg) from None
    labels = np.asarray(y_true)
    P = np.asarray(proba, dtype=np.float64)
    classes = model.classes_
    K = len(classes)
    if P.ndim == 1 and K == 2:
        P = np.column_stack([1.0 - P, P])  # the probability of classes_[1]
    if labels.ndim != 1 or P.ndim != 2 or P.shape != (labels.shape[0], K):
        msg = (
            f"{where} must hold one label per row and the probability of "
            f"{'classes_[1] (1-D) or ' if K == 2 else ''}each of the {K} classes "
            f"(n, {K}). Got labels of shape {labels.shape} and probabilities of shape "
            f"{np.shape(proba)} instead."
        )
        raise ValueError(msg)
    codes = np.searchsorted(classes, labels)
    unknown = (codes >= K) | (classes[np.minimum(codes, K - 1)] != labels)
    if unknown.any() or not np.isfinite(P).all():
        msg = f"{where} must hold labels among {classes.tolist()} and finite probabilities."
        raise ValueError(msg)
    return OutOfFold(labels, codes, P)


def quoted(names: tuple[str, ...] | list[str], limit: int = 5) -> str:
    """``'a', 'b' and 3 more``: names for a message, the first ``limit`` of them."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
