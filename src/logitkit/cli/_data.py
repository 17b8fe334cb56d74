"""What the commands that take a model and a data file share: reading, labels, positives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from logitkit.artifact import load
from logitkit.data.arrow import arrow_types, read_table
from logitkit.decision import ThresholdPolicy
from logitkit.exceptions import DataError
from logitkit.model import LogisticModel

__all__ = [
    "labels_like",
    "model_input",
    "positive_label",
    "read_labelled",
    "read_model",
    "stored_policy",
]


def read_model(path: Path) -> LogisticModel:
    """The verified model (one-line error when the file is missing or not trusted)."""
    return load(path)


def features_of(model: LogisticModel) -> list[dict[str, Any]]:
    """The raw input columns recorded in the model's artifact."""
    features: list[dict[str, Any]] = model.artifact_["model"]["features"]
    return features


def model_input(model: LogisticModel, frame: pd.DataFrame, leave_out: Sequence[str] = ()) -> Any:
    """The rows as the model reads them: raw (its encoder picks its columns), its named
    features, or, for a model fitted without names, every column but ``leave_out``."""
    if model.encoder_ is not None:
        return frame
    if not hasattr(model, "feature_names_in_"):
        return frame.drop(columns=list(leave_out)).to_numpy(dtype=np.float64)
    names = [str(n) for n in model.feature_names_in_]
    absent = [n for n in names if n not in frame.columns]
    if absent:
        msg = f"The data lack column(s) {', '.join(map(repr, absent))} that the model takes."
        raise DataError(msg, column=absent[0])
    return frame[names]


def labels_like(values: Any, classes: NDArray[Any], column: str) -> NDArray[Any]:
    """Labels as the model's classes (``"1"``, ``1`` and ``1.0`` all mean class 1).

    Raises
    ------
    DataError
        Naming the first missing or unknown label, its row and the known classes.
    """
    raw = pd.Series(values)
    missing = raw.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        msg = (
            f"Target column '{column}' has {int(missing.sum())} missing label(s) (first at "
            f"row {first}); drop those rows."
        )
        raise DataError(msg, column=column, row=first, count=int(missing.sum()))
    lookup: dict[str, Any] = {}
    for c in classes.tolist():
        lookup[str(c)] = c
        if isinstance(c, float) and c.is_integer():
            lookup[str(int(c))] = c
        if isinstance(c, bool):
            lookup[str(c).lower()] = c
    out = []
    for i, v in enumerate(raw.tolist()):
        key = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        if key not in lookup and key.lower() not in lookup:
            known = ", ".join(repr(c) for c in classes.tolist())
            msg = f"Target column '{column}' has label {v!r} (row {i}); the model's classes are {known}."
            raise DataError(msg, column=column, row=i)
        out.append(lookup.get(key, lookup.get(key.lower())))
    return np.array(out, dtype=classes.dtype)


def stored_policy(model: LogisticModel) -> ThresholdPolicy | None:
    """The artifact's binary threshold policy, if it has one."""
    spec = model.artifact_.get("policy")
    if not spec or spec.get("type") != "ThresholdPolicy":
        return None
    return ThresholdPolicy.from_dict(spec)


def positive_label(classes: NDArray[Any], positive: str | None, default: Any = None) -> Any:
    """The class named by ``--positive`` (as text), else ``default``, else the last class."""
    if positive is None:
        return classes[-1] if default is None else default
    for c in classes:
        if str(c) == positive:
            return c
    msg = f"--positive {positive!r} is not a class of the target; classes are {[str(c) for c in classes]}."
    raise DataError(msg)


def read_labelled(
    model: LogisticModel, data: Path, target: str | None, reading: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, NDArray[Any], str]:
    """Rows and labels from a data file, the target named or as recorded at training.

    ``reading`` holds ``read_table``'s options (``na_values``, ``sep``, ``decimal``).
    """
    column = target or model.artifact_.get("training", {}).get("target")
    if column is None:
        msg = "Name the target column with --target (the model file does not record one)."
        raise DataError(msg)
    frame = read_table(data, column_types=arrow_types(features_of(model)), **(reading or {}))
    if column not in frame.columns:
        msg = (
            f"Target column '{column}' is not in {data}; columns are: "
            f"{', '.join(map(str, frame.columns))}. Name it with --target."
        )
        raise DataError(msg, column=column)
    y = labels_like(frame[column].to_numpy(), model.classes_, column)
    return model_input(model, frame.drop(columns=[column])), y, column
