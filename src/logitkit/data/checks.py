"""Input checks that name the column, the row and the fix.

These run before any arithmetic, so bad input fails with a :class:`DataError` that a
person can act on, not with a stack trace from deep inside the solver.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.exceptions import DataConversionWarning

from logitkit.exceptions import DataError

__all__ = [
    "check_finite",
    "check_label_spelling",
    "check_numeric_columns",
    "check_sample_weight",
    "check_target",
    "column_names",
    "spelling_error",
    "spelling_merges",
]


def column_names(X: Any) -> list[str] | None:
    """Column names of a pandas or polars frame, else None."""
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    return [str(c) for c in columns]


def _describe(names: list[str] | None, j: int) -> str:
    return f"column '{names[j]}'" if names is not None else f"column {j}"


def check_numeric_columns(X: Any) -> None:
    """Refuse data-frame columns that are not numbers or booleans, naming them."""
    dtypes = getattr(X, "dtypes", None)
    names = column_names(X)
    if dtypes is None or names is None:
        return
    bad: list[tuple[str, str]] = []
    for name, dtype in zip(names, list(dtypes), strict=True):
        kind = getattr(np.dtype(dtype) if isinstance(dtype, np.dtype) else dtype, "kind", None)
        text = str(dtype)
        numeric = kind in ("f", "i", "u", "b") if kind is not None else _polars_numeric(text)
        if not numeric:
            bad.append((name, text))
    if bad:
        listed = ", ".join(f"'{n}' ({t})" for n, t in bad)
        msg = (
            f"Column(s) {listed} are not numeric. LogisticModel needs numbers: one-hot "
            "encode categorical columns (logitkit's CSV/Parquet loader does this), "
            "or drop identifier columns."
        )
        raise DataError(msg, column=bad[0][0], count=len(bad))


def _polars_numeric(text: str) -> bool:
    lowered = text.lower()
    return lowered.startswith(("float", "int", "uint", "bool", "decimal"))


def check_finite(X: Any, names: list[str] | None, what: str = "X") -> None:
    """Raise a :class:`DataError` naming each column with NaN or infinite values.

    The fast path is one sum over the data; only when that is not finite are the
    columns inspected one by one.
    """
    values = X.data if sp.issparse(X) else X
    if values.dtype.kind not in "fc":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(values.sum()):
            return
    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    bad = ~np.isfinite(dense)
    if not bad.any():
        return  # the sum overflowed, the values are fine
    per_column = bad.sum(axis=0)
    parts = []
    for j in np.flatnonzero(per_column):
        col = dense[:, j]
        n_nan = int(np.isnan(col).sum())
        n_inf = int(per_column[j]) - n_nan
        kinds = " and ".join(
            s for s in (f"{n_nan} NaN" if n_nan else "", f"{n_inf} infinite" if n_inf else "") if s
        )
        first = int(np.flatnonzero(bad[:, j])[0])
        parts.append(f"{_describe(names, int(j))} has {kinds} value(s) (first at row {first})")
    j0 = int(np.flatnonzero(per_column)[0])
    msg = (
        f"{what} contains NaN or infinite values: " + "; ".join(parts) + ". Impute or drop "
        "those rows (logitkit's data loader can impute the median or most frequent value)."
    )
    raise DataError(
        msg,
        column=names[j0] if names is not None else str(j0),
        row=int(np.flatnonzero(bad[:, j0])[0]),
        count=int(per_column.sum()),
    )


def check_target(y: Any, n_rows: int) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Return ``(classes, codes)`` for a classification target, or a clear error.

    Labels may be strings, integers or booleans; ``classes`` is sorted as ``numpy.unique``
    sorts them, and ``codes[i]`` is the position of ``y[i]`` in ``classes``.
    """
    if y is None:
        msg = "LogisticModel requires y to be passed, but the target y is None."
        raise DataError(msg, column="y")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it was "
            "flattened. Pass y as shape (n_samples,), e.g. with ravel().",
            DataConversionWarning,
            stacklevel=3,
        )
        arr = arr.ravel()
    if arr.ndim != 1:
        msg = f"y must be one label per row (1-D); got an array of shape {arr.shape}."
        raise DataError(msg)
    if arr.shape[0] != n_rows:
        msg = f"X has {n_rows} rows but y has {arr.shape[0]}; they must have one entry per row."
        raise DataError(msg)
    if arr.dtype.kind == "f":
        missing = ~np.isfinite(arr)
        if missing.any():
            first = int(np.flatnonzero(missing)[0])
            msg = (
                f"y has {int(missing.sum())} missing or infinite label(s) (first at row {first}); "
                "drop those rows or fill in their labels."
            )
            raise DataError(msg, column="y", row=first, count=int(missing.sum()))
        if not np.all(arr == np.round(arr)):
            msg = (
                "Unknown label type: y looks continuous (non-integer floats). Logistic "
                "regression needs class labels; threshold or bin a continuous outcome first."
            )
            raise DataError(msg, column="y")
    if arr.dtype.kind == "O":
        types = {type(v) for v in arr}
        if len(types) > 1:
            names = ", ".join(sorted(t.__name__ for t in types))
            msg = f"y mixes label types ({names}); use one type for all labels."
            raise DataError(msg, column="y")
    two = _two_numeric_classes(arr)
    if two is not None:
        return two
    classes, codes = np.unique(arr, return_inverse=True)
    if classes.shape[0] < 2:
        only = (
            repr(classes[0].item() if hasattr(classes[0], "item") else classes[0])
            if len(classes)
            else "none"
        )
        msg = (
            f"y needs at least two classes to fit a classifier, but it has only one class "
            f"({only}). Check the target column and any row filters."
        )
        raise DataError(msg, column="y")
    return classes, codes.astype(np.intp).ravel()


def _two_numeric_classes(arr: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]] | None:
    """``(classes, codes)`` of a numeric target with exactly two values, without sorting.

    The common binary case in a few vector operations (``numpy.unique`` sorts the rows);
    None for anything else.
    """
    if arr.dtype.kind not in "biuf" or arr.size == 0:
        return None
    low, high = arr.min(), arr.max()
    is_high = arr == high
    if low == high or not (is_high | (arr == low)).all():
        return None
    return np.array([low, high], dtype=arr.dtype), is_high.astype(np.intp)


def check_sample_weight(sample_weight: Any, n_rows: int) -> NDArray[np.float64]:
    """Return validated float weights (ones when None)."""
    if sample_weight is None:
        return np.ones(n_rows)
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.ndim == 0:
        return np.full(n_rows, float(sw))
    if sw.ndim != 1 or sw.shape[0] != n_rows:
        msg = (
            f"sample_weight has shape {sw.shape} but X has {n_rows} rows; give one weight per row."
        )
        raise DataError(msg, column="sample_weight")
    bad = ~np.isfinite(sw)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"sample_weight has {int(bad.sum())} NaN or infinite value(s) (first at row "
            f"{first}); weights must be finite numbers >= 0."
        )
        raise DataError(msg, column="sample_weight", row=first, count=int(bad.sum()))
    negative = sw < 0
    if negative.any():
        first = int(np.flatnonzero(negative)[0])
        msg = (
            f"sample_weight has {int(negative.sum())} negative value(s) (first at row "
            f"{first}: {sw[first]!r}); weights must be >= 0."
        )
        raise DataError(msg, column="sample_weight", row=first, count=int(negative.sum()))
    if not (sw > 0).any():
        msg = "sample_weight is zero for every row; at least one row needs a positive weight."
        raise DataError(msg, column="sample_weight")
    return sw


#: How each kind of value is merged: the command-line flag and the Python option.
_NORMALIZE_FIX = {
    "labels": "--normalize-labels on the command line, normalize_labels=True in Python",
    "levels": "--normalize-labels on the command line, TableEncoder(normalize_levels=True)",
}


def spelling_key(value: str) -> str:
    """The text two spellings of one label share: stripped and case-folded.

    Examples
    --------
    >>> spelling_key(" Yes ") == spelling_key("yes")
    True
    """
    return value.strip().casefold()


def check_label_spelling(
    values: Any,
    column: str,
    *,
    normalize: bool = False,
    what: Literal["labels", "levels"] = "labels",
) -> tuple[NDArray[Any], dict[str, str]]:
    """Find text labels that differ only by case or surrounding spaces; refuse or merge them.

    ``"yes"``, ``"yes "`` and ``"Yes"`` are almost always one label typed three ways; read
    as they are, they become three classes (or three dummy columns). Missing values and
    labels that are not text are left alone.

    Parameters
    ----------
    values : array-like
        The labels (a target column, or the values of a categorical column).
    column : str
        The column's name, for the message.
    normalize : bool, default=False
        Merge each group of spellings into its most frequent spelling (ties: the first in
        sorted order) instead of raising.
    what : {"labels", "levels"}, default="labels"
        What the values are, for the message (target labels, or categorical levels).

    Returns
    -------
    values : ndarray
        The labels, each group of spellings replaced by one spelling (unchanged without
        such groups).
    mapping : dict of str to str
        Each merged spelling and the spelling it became (empty without groups).

    Raises
    ------
    DataError
        When some labels differ only by case or spaces and ``normalize`` is False. The
        message lists each group with its counts; ``.row`` is the first row holding a
        spelling that is not the most frequent, ``.count`` the number of such rows.

    Examples
    --------
    >>> y = ["yes", "no", "yes ", "Yes", "yes", "no"]
    >>> try:
    ...     check_label_spelling(y, "smoker")
    ... except DataError as err:
    ...     print(err.row, err.count)
    2 2
    >>> merged, mapping = check_label_spelling(y, "smoker", normalize=True)
    >>> merged.tolist(), mapping
    (['yes', 'no', 'yes', 'yes', 'yes', 'no'], {'Yes': 'yes', 'yes ': 'yes'})
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "OUS" or arr.size == 0:
        return arr, {}
    counts = pd.Series(arr.ravel(), dtype=object).value_counts(dropna=True)
    mapping, shown = spelling_merges(counts.items())
    if not mapping:
        return arr, {}
    flat = pd.Series(arr.ravel(), dtype=object)
    if normalize:
        merged = flat.replace(mapping).to_numpy(dtype=object).astype(arr.dtype)
        return merged.reshape(arr.shape), dict(sorted(mapping.items()))
    variant = flat.isin(list(mapping)).to_numpy()
    raise spelling_error(column, what, shown, int(np.flatnonzero(variant)[0]), int(variant.sum()))


def spelling_merges(counts: Iterable[tuple[Any, int]]) -> tuple[dict[str, str], list[str]]:
    """From ``(label, count)`` pairs: each spelling to merge and the one it becomes (the
    most frequent of its group; among equals, the first in sorted order), and each group
    as a message shows it. Labels that are not text are left alone.

    Examples
    --------
    >>> spelling_merges([("yes", 2), ("Yes", 1), ("no", 2)])
    ({'Yes': 'yes'}, ["'yes' (2), 'Yes' (1)"])
    """
    groups: dict[str, list[tuple[str, int]]] = {}
    for value, n in counts:
        if isinstance(value, str):
            groups.setdefault(spelling_key(value), []).append((value, int(n)))
    mapping: dict[str, str] = {}
    shown: list[str] = []
    for spellings in groups.values():
        if len(spellings) < 2:
            continue
        # Most frequent first; among equals, the first in sorted order.
        spellings.sort(key=lambda item: (-item[1], item[0]))
        keep = spellings[0][0]
        mapping.update({s: keep for s, _ in spellings[1:]})
        shown.append(", ".join(f"{s!r} ({n})" for s, n in spellings))
    return mapping, shown


def spelling_error(
    column: str, what: Literal["labels", "levels"], shown: list[str], row: int, count: int
) -> DataError:
    """The error for spellings that differ only by case or spaces (see
    :func:`check_label_spelling`): ``row`` is the first row holding a spelling that is
    not the most frequent, ``count`` the number of such rows."""
    msg = (
        f"Column '{column}' has {what} that differ only by case or surrounding spaces: "
        f"{'; '.join(shown)}. Fix them in the data, or merge each group into its most "
        f"frequent spelling: {_NORMALIZE_FIX[what]}."
    )
    return DataError(msg, column=column, row=row, count=count)
