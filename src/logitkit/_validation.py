"""Checks shared by the layers that work on labels and probabilities only.

The decision, evaluation and calibration layers never see a model: they take true labels
and probabilities (the model's own per-feature controls and offsets are checked here
too, with the same message shapes). These checks turn those inputs into clean arrays or raise a
:class:`~logitkit.exceptions.DataError` that names the argument, the row and the fix; the
scalar parameters go through :func:`logitkit._params.validate_params`, so every message
has one shape ("The 'n_bins' parameter of reliability_curve must be an int in [1, inf).
Got 0 instead.").
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from logitkit._params import Interval, validate_params
from logitkit.exceptions import DataError

__all__ = [
    "BinaryTarget",
    "Label",
    "check_binary",
    "check_classes",
    "check_offset",
    "check_proba",
    "check_proba_matrix",
    "feature_values",
    "int_param",
    "plain_label",
    "real_param",
]

Label = str | int | float | bool
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def real_param(
    value: Any, name: str, where: str, low: float, high: float, closed: str = "both"
) -> float:
    """Return ``value`` as a float after checking it lies in the interval (bools refused)."""
    validate_params(where, {name: value}, {name: [Interval(Real, low, high, closed)]})
    return float(value)


def int_param(value: Any, name: str, where: str, low: int) -> int:
    """Return ``value`` as an int after checking that it is an integer ``>= low``."""
    validate_params(where, {name: value}, {name: [Interval(Integral, low, math.inf, "left")]})
    return int(value)


def plain_label(value: Any, name: str, where: str) -> Label:
    """Return ``value`` as a JSON-friendly Python scalar (keeping str/int/float/bool)."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        msg = (
            f"The {name!r} parameter of {where} must be a str, int, float or bool. "
            f"Got {value!r} instead."
        )
        raise TypeError(msg)
    return value


def check_proba(proba: ArrayLike, where: str, name: str = "proba") -> FloatArray:
    """Return ``proba`` as a 1-D float array of probabilities, or raise DataError."""
    try:
        p = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"{name} passed to {where} must be numeric probabilities: {exc}."
        raise DataError(msg, column=name) from exc
    if p.ndim != 1:
        msg = (
            f"{name} passed to {where} must be 1-D (the probability of the positive label); "
            f"got shape {p.shape}. For predict_proba output pass the positive column."
        )
        raise DataError(msg, column=name)
    for bad, what in ((np.isnan(p), "NaN"), ((p < 0) | (p > 1), "outside [0, 1]")):
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"{name} passed to {where} has {int(bad.sum())} values {what} "
                f"(first at row {row}: {p[row]!r}); pass probabilities, not scores or logits."
            )
            raise DataError(msg, column=name, row=row, count=int(bad.sum()))
    return p


class BinaryTarget(NamedTuple):
    """A validated binary target and the probabilities of its positive label."""

    y: BoolArray  # True where the label is the positive one
    p: FloatArray
    positive: Label
    negative: Label


def check_binary(y_true: ArrayLike, proba: ArrayLike, positive: Any, where: str) -> BinaryTarget:
    """Validate a binary target against probabilities of its ``positive`` label."""
    positive = plain_label(positive, "positive", where)
    y = np.asarray(y_true)
    if y.ndim != 1:
        msg = f"y_true passed to {where} must be 1-D; got shape {y.shape}."
        raise DataError(msg, column="y_true")
    p = check_proba(proba, where)
    if y.shape[0] != p.shape[0]:
        msg = f"y_true and proba passed to {where} differ in length: {y.shape[0]} and {p.shape[0]}."
        raise DataError(msg, column="proba")
    missing = np.asarray(pd.isna(y))
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        msg = (
            f"y_true passed to {where} has {int(missing.sum())} missing labels "
            f"(first at row {row}); drop them first."
        )
        raise DataError(msg, column="y_true", row=row, count=int(missing.sum()))
    labels = [plain_label(v, "y_true", where) for v in pd.unique(y)]
    matches = [v for v in labels if v == positive]
    if not matches:
        shown = ", ".join(repr(v) for v in labels[:10])
        msg = (
            f"The positive label {positive!r} does not occur in y_true passed to {where} "
            f"(labels: {shown})."
        )
        raise DataError(msg, column="y_true")
    others = [v for v in labels if v != positive]
    if len(others) != 1:
        what = "no negative rows" if not others else f"{len(labels)} distinct labels"
        msg = (
            f"y_true passed to {where} has {what}; a binary decision needs the positive "
            f"label {positive!r} and exactly one other (use MulticlassPolicy for more)."
        )
        raise DataError(msg, column="y_true")
    return BinaryTarget(np.asarray(y == matches[0], dtype=bool), p, positive, others[0])


def check_proba_matrix(proba: ArrayLike, n_classes: int, where: str) -> FloatArray:
    """Return ``proba`` as an ``(n, n_classes)`` array whose rows are distributions."""
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != n_classes:
        msg = f"proba passed to {where} must have shape (n_samples, {n_classes}); got {P.shape}."
        raise DataError(msg, column="proba")
    check_proba(P.ravel(), where)
    bad = np.abs(P.sum(axis=1) - 1.0) > 1e-6
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = (
            f"Rows of proba passed to {where} must sum to 1; {int(bad.sum())} do not "
            f"(first: row {row})."
        )
        raise DataError(msg, column="proba", row=row, count=int(bad.sum()))
    return P


def check_classes(classes: Any, where: str) -> tuple[Label, ...]:
    """Return the class labels as plain scalars: at least two, all distinct."""
    labels = tuple(plain_label(c, "classes", where) for c in classes)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        msg = (
            f"The 'classes' parameter of {where} must list at least two distinct labels. "
            f"Got {list(classes)!r} instead."
        )
        raise ValueError(msg)
    return labels


def feature_values(
    value: Any, names: list[str], param: str, where: str, *, default: float
) -> FloatArray | None:
    """One number per feature from a scalar, a sequence in feature order or a dict by name.

    None gives None (the control is off); a dict leaves unnamed features at ``default``.
    NaN is refused; the bounds may be infinite (no bound).

    Raises
    ------
    ValueError
        Wrong length, an unknown feature name, or a non-numeric or NaN value; the
        message names the parameter and the feature.
    """
    if value is None:
        return None
    p = len(names)
    if isinstance(value, dict):
        out = np.full(p, float(default))
        index = {name: j for j, name in enumerate(names)}
        for key, v in value.items():
            if str(key) not in index:
                shown = ", ".join(names[:10]) + (", ..." if p > 10 else "")
                msg = (
                    f"The '{param}' parameter of {where} names the feature {key!r}, which is "
                    f"not among the features ({shown})."
                )
                raise ValueError(msg)
            out[index[str(key)]] = _number(v, param, where, str(key))
        return out
    arr = np.asarray(value, dtype=object)
    if arr.ndim == 0:
        return np.full(p, _number(arr.item(), param, where, None))
    if arr.ndim != 1 or arr.shape[0] != p:
        msg = (
            f"The '{param}' parameter of {where} must be a number, a dict by feature name, "
            f"or one number per feature ({p}); got shape {arr.shape}."
        )
        raise ValueError(msg)
    return np.array([_number(v, param, where, names[j]) for j, v in enumerate(arr)])


def _number(value: Any, param: str, where: str, feature: str | None) -> float:
    """``value`` as a float (not a bool, not NaN), or a ValueError naming the feature."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        at = f" for feature {feature!r}" if feature is not None else ""
        msg = f"The '{param}' parameter of {where} must hold numbers; got {value!r}{at}."
        raise ValueError(msg)
    return float(value)


def check_offset(offset: Any, n_rows: int, where: str) -> FloatArray | None:
    """The offset as a finite float array of one value per row, or None.

    Raises
    ------
    DataError
        Wrong length, non-numeric, or a missing or infinite value (naming the row).
    """
    if offset is None:
        return None
    try:
        arr = np.asarray(offset, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        msg = f"offset passed to {where} must be numeric (a log-odds term per row): {exc}."
        raise DataError(msg, column="offset") from exc
    if arr.ndim == 0:
        arr = np.full(n_rows, float(arr))
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        msg = (
            f"offset passed to {where} must hold one number per row ({n_rows}); "
            f"got shape {arr.shape}."
        )
        raise DataError(msg, column="offset")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        msg = (
            f"offset passed to {where} has {int(bad.sum())} missing or infinite values "
            f"(first at row {row}); an offset is a known log-odds term: fill or drop them."
        )
        raise DataError(msg, column="offset", row=row, count=int(bad.sum()))
    return arr
