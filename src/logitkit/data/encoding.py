"""From raw table columns to the model's numeric columns, learned once and stored.

:class:`TableEncoder` is fitted on the training rows of a frame (pandas, polars,
pyarrow, or records) and then turns any frame with the same columns into the model's
matrix, the same way at training and at serving:

* **numbers** (``"float"``, ``"int"``) pass through as float64;
* **text and categorical** columns (``"category"``) are one-hot encoded against a
  reference level: the levels are the distinct training values as text, the first one
  is the reference (no column; the first in sorted order unless ``reference`` names
  another) and the others, sorted, give 0/1 columns named ``region[T.south]``, as R and
  formulaic name them. A level not seen in training is an error that names the column,
  the level and the known levels;
* **spellings**: levels that differ only by case or surrounding spaces (``"north"``,
  ``"North "``) are an error naming them, unless ``normalize_levels`` merges each group
  into its most frequent spelling (stored, and applied to the rows encoded later);
* **booleans** (``"bool"``) give one 0/1 column ``flag[T.True]`` (False is the reference);
* **missing values** are an error listing each column and its count, unless
  ``impute`` is ``"median"`` (numbers get the training median, categories and booleans
  the most frequent training value) or ``"most_frequent"`` (every column gets its most
  frequent training value); the values used are stored;
* with a **formula** (:mod:`logitkit.data.formula`), the typed, imputed raw columns go
  through formulaic instead, with the formula's learned state stored as JSON.

``to_dict()`` is JSON (no pickle, no code) and ``from_dict()`` rebuilds the encoder; the
artifact stores it so that a loaded model predicts from raw rows.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from logitkit.data.checks import check_label_spelling, spelling_key
from logitkit.data.formula import FormulaTerms
from logitkit.exceptions import DataError

__all__ = ["IMPUTE", "TYPES", "ColumnSpec", "TableEncoder", "as_frame"]

#: Raw column types.
TYPES: tuple[str, ...] = ("float", "int", "bool", "category")
#: Imputation options.
IMPUTE: tuple[str | None, ...] = (None, "median", "most_frequent")
#: Levels beyond which a text column is taken for an identifier.
DEFAULT_MAX_LEVELS = 100

Fill = float | str | bool | None


@dataclass(frozen=True)
class ColumnSpec:
    """One raw input column as the encoder learned it.

    Attributes
    ----------
    name : str
        Column name.
    type : str
        One of :data:`TYPES`.
    levels : tuple
        Categories (text: the reference first, then the others sorted) or
        ``(False, True)``.
    fill : float, str, bool or None
        The imputed value (None without imputation).
    n_missing : int
        Missing values in the training rows.
    aliases : tuple of (str, str)
        Spellings merged into a level at training (``("North ", "north")``), sorted.

    Examples
    --------
    >>> spec = ColumnSpec("region", "category", ("east", "north", "south"))
    >>> spec.encoded_names()
    ['region[T.north]', 'region[T.south]']
    >>> ColumnSpec.from_dict(spec.to_dict()) == spec
    True
    """

    name: str
    type: str
    levels: tuple[Any, ...] = ()
    fill: Fill = None
    n_missing: int = 0
    aliases: tuple[tuple[str, str], ...] = ()

    def encoded_names(self) -> list[str]:
        """The model columns this column gives without a formula."""
        if self.type in ("float", "int"):
            return [self.name]
        return [f"{self.name}[T.{level}]" for level in self.levels[1:]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the artifact's entry in ``model.features``)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type in ("category", "bool"):
            out["levels"] = list(self.levels)
        out["n_missing"] = self.n_missing
        if self.fill is not None:
            out["impute"] = self.fill
        if self.aliases:
            out["aliases"] = dict(self.aliases)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        """Rebuild from :meth:`to_dict` output, checking the type and levels."""
        kind = str(data["type"])
        if kind not in TYPES:
            msg = f"column {data['name']!r} has unknown type {kind!r} (one of {TYPES})"
            raise ValueError(msg)
        levels = tuple(data.get("levels", ()))
        if kind == "bool" and levels != (False, True):
            msg = f"bool column {data['name']!r} must have levels [false, true]"
            raise ValueError(msg)
        if kind == "category" and (
            not levels
            or not all(isinstance(v, str) for v in levels)
            or len(set(levels)) != len(levels)
            or list(levels[1:]) != sorted(levels[1:])
        ):
            msg = (
                f"category column {data['name']!r} must have distinct text levels, the "
                "reference first and the others sorted"
            )
            raise ValueError(msg)
        aliases = tuple(sorted((str(k), str(v)) for k, v in dict(data.get("aliases", {})).items()))
        if any(v not in levels for _, v in aliases):
            msg = f"column {data['name']!r} has aliases of levels it does not have"
            raise ValueError(msg)
        return cls(
            str(data["name"]),
            kind,
            levels,
            data.get("impute"),
            int(data["n_missing"]),
            aliases,
        )


def as_frame(X: Any, what: str = "X") -> pd.DataFrame:
    """A pandas frame from pandas, polars, pyarrow, a mapping of columns, or records.

    Examples
    --------
    >>> as_frame([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]).shape
    (2, 2)
    """
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pa.Table | pa.RecordBatch) or (
        hasattr(X, "to_pandas") and hasattr(X, "columns")  # polars
    ):
        frame: pd.DataFrame = X.to_pandas()
        return frame
    if isinstance(X, Mapping):
        return pd.DataFrame(dict(X))
    if isinstance(X, Sequence) and X and all(isinstance(r, Mapping) for r in X):
        return pd.DataFrame.from_records(list(X))
    msg = (
        f"{what} must be a data frame (pandas, polars, pyarrow) or records with column "
        f"names; got {type(X).__name__}."
    )
    raise DataError(msg)


def _infer_type(name: str, s: pd.Series) -> str:
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "int" if pd.api.types.is_integer_dtype(dtype) else "float"
    if pd.api.types.is_string_dtype(dtype) or dtype == object:
        values = s.dropna()
        if len(values) and all(isinstance(v, bool | np.bool_) for v in values):
            return "bool"
        if len(values) and all(
            isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
            for v in values
        ):
            return "float"
        return "category"
    msg = (
        f"Column '{name}' has type {dtype}; logitkit takes numbers, booleans and text "
        "categories. Convert it (e.g. a date to a number of days) or leave it out (--drop)."
    )
    raise DataError(msg, column=name)


def _missing_error(counts: dict[str, int], where: str, row: int | None = None) -> DataError:
    """Missing values at fitting (the fix: impute) or when encoding later rows, where a
    fitted encoder imputes only if it was fitted to (the fix: fill in, or refit)."""
    listed = ", ".join(f"'{c}' ({n})" for c, n in counts.items())
    if row is None:
        fix = (
            "Drop those rows, or impute them: --impute median|most_frequent "
            "(TableEncoder(impute=...))"
        )
    else:
        listed += f", first at row {row}"
        fix = (
            "The model was fitted without imputation: fill them in, or refit it with "
            "imputation (logitkit train --impute median; TableEncoder(impute='median'))"
        )
    msg = f"Missing values in {where}: {listed}. {fix}."
    return DataError(msg, column=next(iter(counts)), row=row, count=sum(counts.values()))


def _mode(values: NDArray[Any]) -> Any:
    """Most frequent value (the smallest among ties)."""
    uniq, counts = np.unique(values, return_counts=True)
    return uniq[int(np.argmax(counts))]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _respell(
    text: NDArray[Any], unknown: NDArray[np.bool_], levels: tuple[Any, ...]
) -> NDArray[Any]:
    """Values that are a level spelled another way (case, spaces) as that level."""
    by_key = {spelling_key(str(v)): v for v in levels}
    out = text.copy()
    for value in set(text[unknown].tolist()):
        level = by_key.get(spelling_key(value))
        if level is not None:
            out[text == value] = level
    return out


def _reads(expr: str, column: str) -> bool:
    """Whether a formula factor reads ``column`` (as a name or a backticked name)."""
    if f"`{column}`" in expr:
        return True
    try:
        tree = ast.parse(re.sub(r"`[^`]*`", "_", expr), mode="eval")
    except SyntaxError:
        return False
    return any(isinstance(n, ast.Name) and n.id == column for n in ast.walk(tree))


@dataclass
class TableEncoder:
    """Learn the raw columns' types, levels and imputed values; encode rows the same way.

    Parameters
    ----------
    impute : {None, "median", "most_frequent"}, default=None
        How to fill missing values (None: missing values are an error).
    formula : str, optional
        The right-hand side of an R-style formula (``"age + C(region) + bs(debt, 4)"``,
        see :mod:`logitkit.data.formula`); None gives one column per number and one per
        non-reference level.
    max_levels : int, default=100
        A text column with more distinct values is refused as a likely identifier.
    normalize_levels : bool, default=False
        Merge levels that differ only by case or surrounding spaces (``"north"``,
        ``"North "``) into their most frequent spelling (ties: the first in sorted
        order), here and in every row encoded later. False: such levels are an error.
    reference : mapping of str to level, optional
        The reference level of a categorical column (``{"region": "south"}``), which gets
        no column and is stored first among the levels; by default the first in sorted
        order. With a formula it applies to the terms ``region`` and ``C(region)``; a
        term that sets its own contrast or levels sets the reference there instead.

    Attributes
    ----------
    columns_ : list of ColumnSpec
        The raw input columns, in training order.
    encoded_features_ : list of str
        The model's columns.
    formula_ : FormulaTerms or None
        The fitted formula.

    Examples
    --------
    >>> import pandas as pd
    >>> from logitkit import LogisticModel
    >>> frame = pd.DataFrame({"age": [30.0, 41, 52, 63, 35, 48],
    ...                       "region": ["north", "south", "east", "south", "east", "north"]})
    >>> y = [0, 1, 0, 1, 1, 0]
    >>> encoder = TableEncoder().fit(frame)
    >>> encoder.encoded_features_
    ['age', 'region[T.north]', 'region[T.south]']
    >>> model = LogisticModel().fit(encoder.transform(frame), y)
    >>> model.encoder_ = encoder  # the model now predicts from raw rows
    >>> model.predict([{"age": 45.0, "region": "south"}]).tolist()
    [1]
    >>> TableEncoder(reference={"region": "south"}).fit(frame).encoded_features_
    ['age', 'region[T.east]', 'region[T.north]']
    """

    impute: str | None = None
    formula: str | None = None
    max_levels: int = DEFAULT_MAX_LEVELS
    normalize_levels: bool = False
    reference: Mapping[str, Any] | None = None
    columns_: list[ColumnSpec] = field(default_factory=list, init=False, repr=False)
    encoded_features_: list[str] = field(default_factory=list, init=False, repr=False)
    formula_: FormulaTerms | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any) -> TableEncoder:
        """Learn the columns from the training rows.

        Raises
        ------
        DataError
            On missing values without ``impute``, an unusable column type, a text column
            with more than ``max_levels`` values, levels spelled several ways without
            ``normalize_levels``, a ``reference`` naming an unknown column or level, or a
            bad formula.
        """
        self._check_params()
        frame = as_frame(X)
        if frame.shape[0] == 0:
            msg = "The training frame has no rows."
            raise DataError(msg)
        names = [str(c) for c in frame.columns]
        if len(set(names)) != len(names):
            msg = f"The frame has duplicated column names: {sorted({n for n in names if names.count(n) > 1})}."
            raise DataError(msg)
        frame = frame.set_axis(names, axis=1)
        if self.formula is not None:
            from logitkit.data.formula import _parse  # noqa: PLC0415 - checks before typing

            needed = _parse(self.formula, names)[1]
            names = [n for n in names if n in needed]
        self._check_reference_columns(names, lambda n: _infer_type(n, frame[n]), frame.columns)
        missing = {n: int(frame[n].isna().sum()) for n in names}
        missing = {n: k for n, k in missing.items() if k}
        if missing and self.impute is None:
            raise _missing_error(missing, "the training rows")
        self.columns_ = [self._learn(n, frame[n], missing.get(n, 0)) for n in names]
        terms = None if self.formula is None else FormulaTerms.fit(self.formula, self._typed(frame))
        return self._set_outputs(terms)

    def _set_outputs(self, terms: FormulaTerms | None) -> TableEncoder:
        """With :attr:`columns_` learned (here or in passes over batches): the formula's
        terms (None without one) and the model's columns, checked."""
        self.formula_ = terms
        if terms is not None:
            self._check_formula_reference(terms)
            self.encoded_features_ = list(terms.columns)
        else:
            self.encoded_features_ = [e for c in self.columns_ for e in c.encoded_names()]
        dupes = sorted({e for e in self.encoded_features_ if self.encoded_features_.count(e) > 1})
        if dupes:
            msg = f"Encoded column names collide: {dupes}; rename the raw columns."
            raise DataError(msg)
        return self

    def _check_params(self) -> None:
        if self.impute not in IMPUTE:
            msg = f"impute must be None, 'median' or 'most_frequent'; got {self.impute!r}."
            raise ValueError(msg)

    def _learn(self, name: str, s: pd.Series, n_missing: int) -> ColumnSpec:
        kind = _infer_type(name, s)
        present = s.dropna()
        if present.shape[0] == 0:
            msg = f"Column '{name}' has no values at all; leave it out (--drop {name})."
            raise DataError(msg, column=name)
        levels: tuple[Any, ...] = ()
        aliases: dict[str, str] = {}
        if kind == "category":
            distinct = int(present.astype(str).nunique())
            if distinct > self.max_levels:
                msg = (
                    f"Column '{name}' has {distinct} distinct text values (more than "
                    f"{self.max_levels}); it looks like an identifier. Leave it out "
                    f"(--drop {name}) or group its values."
                )
                raise DataError(msg, column=name)
            text, aliases = self._spelled(name, s)
            levels = self._ordered(name, sorted(set(text.tolist())))
            values: NDArray[Any] = text
        elif kind == "bool":
            levels = (False, True)
            values = present.astype(bool).to_numpy()
        else:
            values = present.to_numpy(dtype=np.float64)
        fill: Fill = None
        if self.impute is not None:
            if self.impute == "median" and kind in ("float", "int"):
                fill = float(np.median(values))
            else:
                fill = _plain(_mode(values))
                if kind in ("float", "int"):
                    fill = float(fill)
        return ColumnSpec(name, kind, levels, fill, n_missing, tuple(sorted(aliases.items())))

    def _spelled(self, name: str, s: pd.Series) -> tuple[NDArray[Any], dict[str, str]]:
        """The present values of a text column as text, spellings merged (or refused)."""
        present = s.notna().to_numpy()
        full = np.full(present.shape[0], None, dtype=object)
        full[present] = s[present].astype(str).to_numpy(dtype=object)
        merged, aliases = check_label_spelling(
            full, name, normalize=self.normalize_levels, what="levels"
        )
        return merged[present], aliases

    def _ordered(self, name: str, levels: list[str]) -> tuple[str, ...]:
        """The sorted levels with the column's reference level (if one is named) first."""
        named = {str(k): str(v) for k, v in (self.reference or {}).items()}
        if name not in named:
            return tuple(levels)
        wanted = named[name]
        found = [v for v in levels if v == wanted]
        if not found and self.normalize_levels:
            found = [v for v in levels if spelling_key(v) == spelling_key(wanted)]
        if not found:
            known = ", ".join(repr(v) for v in levels[:20])
            msg = (
                f"The reference level {wanted!r} of column '{name}' is not one of its "
                f"levels: {known}. Name one of them (--reference {name}=LEVEL, "
                f"reference={{{name!r}: LEVEL}})."
            )
            raise DataError(msg, column=name)
        return (found[0], *(v for v in levels if v != found[0]))

    def _check_reference_columns(
        self, names: list[str], kind_of: Callable[[str], str], columns: Collection[str]
    ) -> None:
        """Refuse a reference for a column that is not a categorical input column
        (``kind_of`` gives a column's type; ``columns`` are all the frame's columns)."""
        if self.reference is None:
            return
        if not isinstance(self.reference, Mapping):
            msg = (
                "reference must map column names to levels ({'region': 'south'}); "
                f"got {type(self.reference).__name__}."
            )
            raise TypeError(msg)
        text = [n for n in names if kind_of(n) == "category"]
        for column in map(str, self.reference):
            if column in text:
                continue
            choices = ", ".join(repr(n) for n in text) or "none"
            if column in names:
                why = f"column '{column}' is not categorical ({kind_of(column)})"
            elif column in columns:
                why = f"the formula does not use column '{column}'"
            else:
                why = f"there is no column '{column}'"
            msg = (
                f"A reference level applies to a categorical column, but {why}; "
                f"categorical columns: {choices}."
            )
            raise DataError(msg, column=column)

    def _check_formula_reference(self, terms: FormulaTerms) -> None:
        """Refuse a reference for a column that a formula term codes with its own
        contrast or levels (where the reference would silently not apply)."""
        for column in map(str, self.reference or {}):
            plain = {column, f"`{column}`", f"C({column})", f"C(`{column}`)"}
            for factor, state in terms.encoder_state.items():
                categorical = state.get("kind") == "categorical"
                if factor in plain or not categorical or not _reads(factor, column):
                    continue
                msg = (
                    f"The formula term {factor!r} codes column '{column}' itself, so a "
                    f"reference level for it (--reference {column}=..., reference=) cannot "
                    f"apply: set it in the term (C({column}, contr.treatment('LEVEL'))), or "
                    "leave the reference out."
                )
                raise DataError(msg, column=column)

    # --------------------------------------------------------------- transform
    @property
    def input_names(self) -> list[str]:
        """The raw columns the encoder reads."""
        return [c.name for c in self.columns_]

    def transform(self, X: Any, *, row_offset: int = 0) -> pd.DataFrame:
        """The model's columns (float64, named :attr:`encoded_features_`) for raw rows.

        Extra columns are ignored. ``row_offset`` is the position of the first row in a
        larger table (a batch of a file), so that errors name the table's row.

        Raises
        ------
        DataError
            Naming the column: missing, of the wrong type, with an unseen level, or with
            missing values and no imputation.
        """
        if not self.columns_:
            msg = "This TableEncoder is not fitted yet: call fit(frame) first."
            raise DataError(msg)
        frame = as_frame(X)
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        absent = [n for n in self.input_names if n not in frame.columns]
        if absent:
            msg = (
                f"The rows lack column(s) {', '.join(map(repr, absent))} that the model "
                f"takes; it needs: {', '.join(self.input_names)}."
            )
            raise DataError(msg, column=absent[0])
        if self.impute is None:
            counts = {n: int(frame[n].isna().sum()) for n in self.input_names}
            counts = {n: k for n, k in counts.items() if k}
            if counts:
                first = int(np.flatnonzero(frame[next(iter(counts))].isna().to_numpy())[0])
                raise _missing_error(counts, "the rows", row=row_offset + first)
        if self.formula_ is not None:
            values = self.formula_.transform(self._typed(frame, row_offset))
        else:
            n = frame.shape[0]
            parts = [self._encode(c, frame[c.name], n, row_offset) for c in self.columns_]
            values = np.column_stack(parts) if parts else np.empty((n, 0))
        return pd.DataFrame(values, columns=self.encoded_features_)

    def encode_input(self, X: Any) -> Any:
        """Rows as the model takes them: raw frames and records are encoded.

        Numeric arrays, sparse matrices, and frames whose columns are exactly the
        encoded features pass through unchanged; a frame that holds every raw input
        column (or lacks some, to say which) is encoded.
        """
        if isinstance(X, pa.Table | pa.RecordBatch | Mapping):
            return self.transform(X)
        if isinstance(X, Sequence) and X and isinstance(X[0], Mapping):
            return self.transform(X)
        columns = getattr(X, "columns", None)
        if columns is None:
            return X
        names = [str(c) for c in columns]
        if not set(self.input_names) <= set(names) and names == self.encoded_features_:
            return X
        return self.transform(X)

    def _values(self, spec: ColumnSpec, s: pd.Series, row_offset: int = 0) -> NDArray[Any]:
        """The column's values in its training type, missing ones filled (if imputing);
        errors name rows counted from ``row_offset``."""
        missing = s.isna().to_numpy()
        fill = spec.fill if missing.any() else None
        if spec.type in ("float", "int"):
            numbers = self._numbers(spec, s, row_offset)
            if fill is not None:
                numbers[missing] = fill
            return numbers
        if fill is not None:
            s = s.astype(object).where(~missing, fill)
        if spec.type == "bool":
            return self._booleans(spec, s, row_offset)
        text = s.astype(str).to_numpy(dtype=object)
        known = np.isin(text, np.array(spec.levels, dtype=object))
        if self.normalize_levels and not known.all():
            text = _respell(text, ~known, spec.levels)
            known = np.isin(text, np.array(spec.levels, dtype=object))
        if not known.all():
            bad = np.flatnonzero(~known)
            first = row_offset + int(bad[0])
            unseen = sorted(set(text[bad].tolist()))
            shown = ", ".join(repr(v) for v in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
            levels = ", ".join(repr(v) for v in spec.levels[:20])
            msg = (
                f"Column '{spec.name}' has level(s) {shown} not seen in training "
                f"({bad.size} row(s), first at row {first}); known levels: {levels}. "
                "Map them to a known level, or retrain on data that holds them."
            )
            raise DataError(msg, column=spec.name, row=first, count=int(bad.size))
        return text

    def _numbers(self, spec: ColumnSpec, s: pd.Series, row_offset: int = 0) -> NDArray[np.float64]:
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            return np.array(s.to_numpy(dtype=np.float64, na_value=np.nan))
        numbers = pd.to_numeric(s, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() & s.notna().to_numpy())
        if bad.size:
            msg = (
                f"Column '{spec.name}' was numeric in training but holds {s.iloc[bad[0]]!r} "
                f"at row {row_offset + int(bad[0])} ({bad.size} such value(s)); fix or drop "
                "those rows."
            )
            row = row_offset + int(bad[0])
            raise DataError(msg, column=spec.name, row=row, count=int(bad.size))
        return np.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan))

    def _booleans(self, spec: ColumnSpec, s: pd.Series, row_offset: int = 0) -> NDArray[np.bool_]:
        values = s.to_numpy(dtype=object)
        ok = np.array([isinstance(v, bool | np.bool_) or v in (0, 1) for v in values], bool)
        if not ok.all():
            first = int(np.flatnonzero(~ok)[0])
            msg = (
                f"Column '{spec.name}' was boolean in training but holds {values[first]!r} at "
                f"row {row_offset + first}; give true/false (or 1/0)."
            )
            row = row_offset + first
            raise DataError(msg, column=spec.name, row=row, count=int((~ok).sum()))
        return values.astype(bool)

    def _encode(
        self, spec: ColumnSpec, s: pd.Series, n: int, row_offset: int = 0
    ) -> NDArray[np.float64]:
        values = self._values(spec, s, row_offset)
        if spec.type in ("float", "int"):
            return values.reshape(n, 1)
        levels = np.array(spec.levels[1:], dtype=object)
        dummies: NDArray[np.float64] = (values[:, None] == levels[None, :]).astype(np.float64)
        return dummies.reshape(n, levels.size)

    def _typed(self, frame: pd.DataFrame, row_offset: int = 0) -> pd.DataFrame:
        """The raw columns typed for formulaic: floats, and categoricals with fixed levels."""
        data: dict[str, Any] = {}
        for spec in self.columns_:
            values = self._values(spec, frame[spec.name], row_offset)
            if spec.type == "category":
                data[spec.name] = pd.Categorical(values, categories=list(spec.levels))
            else:
                data[spec.name] = values.astype(np.float64)
        return pd.DataFrame(data)

    # --------------------------------------------------------------- storage
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no code); :meth:`from_dict` rebuilds the same encoder.

        Examples
        --------
        >>> import pandas as pd
        >>> enc = TableEncoder().fit(pd.DataFrame({"x": [1.0, 2.0], "g": ["a", "b"]}))
        >>> enc.to_dict()["columns"][1]
        {'name': 'g', 'type': 'category', 'levels': ['a', 'b'], 'n_missing': 0}
        """
        return {
            "columns": [c.to_dict() for c in self.columns_],
            "encoded_features": list(self.encoded_features_),
            "impute": self.impute,
            "max_levels": self.max_levels,
            "normalize_levels": self.normalize_levels,
            "reference": None
            if self.reference is None
            else {str(k): str(v) for k, v in self.reference.items()},
            "formula": None if self.formula_ is None else self.formula_.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableEncoder:
        """Rebuild an encoder from :meth:`to_dict` output.

        Raises
        ------
        ValueError
            If the data is inconsistent (types, levels, encoded names, formula).

        Examples
        --------
        >>> import pandas as pd
        >>> enc = TableEncoder().fit(pd.DataFrame({"x": [1.0, 2.0], "g": ["a", "b"]}))
        >>> TableEncoder.from_dict(enc.to_dict()).encoded_features_
        ['x', 'g[T.b]']
        """
        formula = data.get("formula")
        enc = cls(
            impute=data.get("impute"),
            formula=None if formula is None else str(formula["formula"]),
            max_levels=int(data.get("max_levels", DEFAULT_MAX_LEVELS)),
            normalize_levels=bool(data.get("normalize_levels", False)),
            reference=data.get("reference"),
        )
        if enc.impute not in IMPUTE:
            msg = f"impute must be one of {IMPUTE}; got {enc.impute!r}"
            raise ValueError(msg)
        enc.columns_ = [ColumnSpec.from_dict(c) for c in data["columns"]]
        enc.encoded_features_ = [str(e) for e in data["encoded_features"]]
        if formula is not None:
            enc.formula_ = FormulaTerms.from_dict(formula)
            expected = list(enc.formula_.columns)
            if list(enc.formula_.variables) != enc.input_names:
                msg = "the formula's variables are not the encoder's columns"
                raise ValueError(msg)
        else:
            expected = [e for c in enc.columns_ for e in c.encoded_names()]
        if expected != enc.encoded_features_:
            msg = "'encoded_features' do not match the columns and their levels"
            raise ValueError(msg)
        return enc
