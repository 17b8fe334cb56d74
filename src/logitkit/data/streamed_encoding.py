"""Learn a :class:`~logitkit.data.encoding.TableEncoder` in passes over rows too many to hold.

:func:`fit_encoder_streamed` learns from a streamed file
(:class:`~logitkit.data.stream.FileSource`, read in record batches) or a Dask frame
(each pass a map over the partitions and a tree reduction) the encoder that
``TableEncoder(...).fit(frame)`` learns from the same rows in memory, equal to it: the
same column types, levels in the same order, the same reference levels, spellings
merged the same way, the same imputed values and the same formula state (see
:mod:`logitkit.data.streamed_formula` for how far its means agree). Give it to
``FileSource(..., encoder=)`` or ``DaskSource(..., encoder=)``, which then encode every
batch with it (imputing, and applying the formula), and store it in the artifact as an
in-memory encoder.

The passes:

1. one scan: per column, the missing values (and the first row of one), the type, the
   smallest and largest number, and the count and first row of every text value (up to
   ``max_levels``) or boolean;
2. with ``impute="median"``: the **exact** median of every number column, by the
   histogram-then-collect selection of :mod:`logitkit.data.quantiles` (all columns
   share its passes; usually two). No sketch, no error bound: it equals
   ``np.median`` bit for bit. With ``impute="most_frequent"``, one pass counting each
   number's values (refused beyond :data:`MODE_LIMIT` distinct values: use the
   median); levels and booleans are counted by the scan;
3. with a formula, the passes of its stateful transforms, and one applying them.

Errors are those of the in-memory fit, naming the column (and the row: of a missing
value, or of a spelling that is merged), except that a text column with too many values
says "more than ``max_levels``" rather than counting them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np
import pandas as pd

from logitkit.data.checks import spelling_error, spelling_merges
from logitkit.data.encoding import (
    DEFAULT_MAX_LEVELS,
    ColumnSpec,
    Fill,
    TableEncoder,
    _infer_type,
    _missing_error,
)
from logitkit.data.quantiles import exact_ranks, numpy_median
from logitkit.data.streamed_formula import learn_formula
from logitkit.exceptions import DataError

__all__ = ["MODE_LIMIT", "RowBatches", "fit_encoder_streamed", "row_batches"]

#: Distinct values of a number column beyond which ``impute="most_frequent"`` is refused.
MODE_LIMIT = 1_000_000


class RowBatches(Protocol):
    """Rows as pandas batches: ``run(fn, merge)`` is one pass, ``fn(batch, first_row)``
    applied to every batch (of the feature columns) and the results merged."""

    where: str
    columns: list[str]
    declared: Mapping[str, str] | None

    def run(self, fn: Callable[[pd.DataFrame, int], Any], merge: Callable[[Any, Any], Any]) -> Any:
        """One pass over the rows."""

    def head(self) -> pd.DataFrame:
        """The first row."""


class _FileBatches:
    """A :class:`~logitkit.data.stream.FileSource`'s feature columns, batch by batch."""

    def __init__(self, source: Any, columns: Sequence[str] | None) -> None:
        self.source = source
        kinds = source.feature_types()
        self.columns = list(columns) if columns is not None else list(kinds)
        absent = [c for c in self.columns if c not in kinds]
        if absent:
            msg = f"Column '{absent[0]}' is not a feature column of {source.where}."
            raise DataError(msg, column=absent[0])
        self.where = str(source.where)
        self.declared: Mapping[str, str] | None = kinds

    def run(self, fn: Callable[[pd.DataFrame, int], Any], merge: Callable[[Any, Any], Any]) -> Any:
        total: Any = None
        offset = 0
        for batch in self.source.record_batches(self.columns):
            part = fn(batch.to_pandas(), offset)
            total = part if offset == 0 else merge(total, part)
            offset += batch.num_rows
        return total

    def head(self) -> pd.DataFrame:
        for batch in self.source.record_batches(self.columns):
            if batch.num_rows:
                frame: pd.DataFrame = batch.slice(0, 1).to_pandas()
                return frame
        msg = f"{self.where} has no rows."
        raise DataError(msg)


def _select(part: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    return part[columns]


def _merge_all(merge: Callable[[Any, Any], Any], *parts: Any) -> Any:
    total = parts[0]
    for part in parts[1:]:
        total = merge(total, part)
    return total


def _call(fn: Callable[[pd.DataFrame, int], Any], part: pd.DataFrame, offset: int) -> Any:
    return fn(part, offset)


class _DaskBatches:
    """A dask frame's partitions: a pass maps over them on the workers and merges the
    results in a tree (in partition order)."""

    fan_in = 8

    def __init__(self, frame: Any, columns: Sequence[str] | None) -> None:
        from dask.base import compute  # noqa: PLC0415 - optional extra
        from dask.delayed import delayed  # noqa: PLC0415

        names = [str(c) for c in frame.columns]
        self.columns = list(columns) if columns is not None else names
        absent = [c for c in self.columns if c not in names]
        if absent:
            msg = f"Column '{absent[0]}' is not in the dask frame; its columns are: {', '.join(names[:30])}."
            raise DataError(msg, column=absent[0])
        self.where = "the dask frame"
        self.declared: Mapping[str, str] | None = None
        self.parts = [delayed(_select)(p, self.columns) for p in frame.to_delayed()]
        lengths = compute(*[delayed(len)(p) for p in self.parts])
        self.offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()

    def run(self, fn: Callable[[pd.DataFrame, int], Any], merge: Callable[[Any, Any], Any]) -> Any:
        from dask.base import compute  # noqa: PLC0415
        from dask.delayed import delayed  # noqa: PLC0415

        parts = [
            delayed(_call, pure=False)(fn, p, off)
            for p, off in zip(self.parts, self.offsets, strict=True)
        ]
        while len(parts) > 1:
            parts = [
                delayed(_merge_all, pure=False)(merge, *parts[i : i + self.fan_in])
                for i in range(0, len(parts), self.fan_in)
            ]
        (total,) = compute(parts[0])
        return total

    def head(self) -> pd.DataFrame:
        from dask.base import compute  # noqa: PLC0415

        for part in self.parts:
            (frame,) = compute(part)
            if len(frame):
                head: pd.DataFrame = frame.iloc[:1]
                return head
        msg = f"{self.where} has no rows."
        raise DataError(msg)


def row_batches(source: Any, columns: Sequence[str] | None = None) -> RowBatches:
    """The rows of a FileSource, a DaskSource (its frame's features) or a dask frame.

    Raises
    ------
    DataError
        For another kind of source, or a column it does not have.
    """
    from logitkit.data.stream import FileSource  # noqa: PLC0415

    if isinstance(source, FileSource):
        return _FileBatches(source, columns)
    frame = source
    if type(source).__name__ == "DaskSource":  # its frame's features (dask: an extra)
        frame = source.X
        if columns is None and hasattr(frame, "columns"):
            skip = {source.target, source.weight}
            columns = [str(c) for c in frame.columns if c not in skip]
    if hasattr(frame, "to_delayed") and hasattr(frame, "columns"):
        return _DaskBatches(frame, columns)
    msg = (
        "fit_encoder_streamed reads a FileSource, a DaskSource or a dask DataFrame; got "
        f"{type(source).__name__}."
    )
    raise DataError(msg)


# ---------------------------------------------------------------- the scan pass
@dataclass
class _Scan:
    """What one pass learns of a column (merged over batches in row order)."""

    missing: int = 0
    first_missing: int | None = None
    kinds: set[str] = field(default_factory=set)
    present: int = 0
    low: float = math.inf
    high: float = -math.inf
    integral: bool = True
    #: text value (or boolean) -> [count, first row]; None once past the cap.
    seen: dict[Any, list[int]] | None = field(default_factory=dict)

    def merge(self, other: _Scan, cap: int) -> _Scan:
        values = None
        if self.seen is not None and other.seen is not None:
            values = {k: list(v) for k, v in self.seen.items()}
            for key, (count, row) in other.seen.items():
                mine = values.setdefault(key, [0, row])
                mine[0] += count
                mine[1] = min(mine[1], row)
            if len(values) > cap:
                values = None
        firsts = [r for r in (self.first_missing, other.first_missing) if r is not None]
        return _Scan(
            self.missing + other.missing,
            min(firsts) if firsts else None,
            self.kinds | other.kinds,
            self.present + other.present,
            min(self.low, other.low),
            max(self.high, other.high),
            self.integral and other.integral,
            values,
        )


def _batch_kind(name: str, s: pd.Series) -> str | None:
    """The column's type in this batch (None: object values, all missing)."""
    if s.dtype == object and not s.notna().any():
        return None
    return _infer_type(name, s)


def _counts(values: Any, rows: Any) -> dict[Any, list[int]]:
    uniq, first, counts = np.unique(values, return_index=True, return_counts=True)
    return {
        (v.item() if isinstance(v, np.generic) else v): [int(c), int(rows[i])]
        for v, i, c in zip(uniq.tolist(), first.tolist(), counts.tolist(), strict=True)
    }


def _scan(frame: pd.DataFrame, offset: int, columns: list[str], cap: int) -> dict[str, _Scan]:
    out = {}
    for name in columns:
        s = frame[name]
        missing = s.isna().to_numpy()
        kind = _batch_kind(name, s)
        scan = _Scan(
            int(missing.sum()), offset + int(np.argmax(missing)) if missing.any() else None
        )
        scan.kinds = {kind} if kind is not None else set()
        present = s[~missing]
        rows = np.flatnonzero(~missing) + offset
        scan.present = int(present.shape[0])
        if kind in ("float", "int") and scan.present:
            x = present.to_numpy(dtype=np.float64)
            scan.low, scan.high = float(x.min()), float(x.max())
            scan.integral = bool(np.all(np.floor(x) == x))
        if kind == "bool" and scan.present:
            scan.seen = _counts(present.astype(bool).to_numpy(), rows)
        elif (kind == "category" or s.dtype == object) and scan.present:
            scan.seen = _counts(present.astype(str).to_numpy(dtype=object), rows)
            if len(scan.seen) > cap:
                scan.seen = None
        out[name] = scan
    return out


def _merge_scans(a: dict[str, _Scan], b: dict[str, _Scan], cap: int) -> dict[str, _Scan]:
    return {k: a[k].merge(b[k], cap) for k in a}


def _final_kind(name: str, scan: _Scan, declared: Mapping[str, str] | None) -> str:
    """The type the in-memory fit gives the whole column (as pandas would hold it)."""
    if declared is not None:
        kind = declared[name]
        if kind == "int" and (scan.missing or not scan.integral):
            return "float"  # pandas holds integers with missing values as floats
        return kind
    kinds = scan.kinds
    if kinds <= {"int", "float"} and kinds:
        return "float" if "float" in kinds else "int"
    return next(iter(kinds)) if len(kinds) == 1 else "category"


# ---------------------------------------------------------------- numbers' fills
def _number_values(frame: pd.DataFrame, _: int, columns: list[str], fn: Callable[..., Any]) -> Any:
    return fn({c: frame[c].dropna().to_numpy(dtype=np.float64) for c in columns})


def _number_counts(frame: pd.DataFrame, offset: int, columns: list[str]) -> Any:
    out: dict[str, dict[float, list[int]] | None] = {}
    for c in columns:
        x = frame[c].dropna().to_numpy(dtype=np.float64)
        counts = _counts(x, np.zeros(x.shape[0], dtype=int) + offset)
        out[c] = counts if len(counts) <= MODE_LIMIT else None
    return out


def _merge_number_counts(a: Any, b: Any) -> Any:
    return {c: _merge_counts(a[c], b[c], MODE_LIMIT) for c in a}


def _merge_counts(
    a: dict[Any, list[int]] | None, b: dict[Any, list[int]] | None, cap: int
) -> dict[Any, list[int]] | None:
    if a is None or b is None:
        return None
    return _Scan(seen=a).merge(_Scan(seen=b), cap).seen


def _mode(counts: Mapping[Any, int]) -> Any:
    """The most frequent value, the smallest among ties (as the in-memory fit)."""
    top = max(counts.values())
    return min(v for v, n in counts.items() if n == top)


def _number_fills(
    batches: RowBatches, impute: str, columns: list[str], scans: Mapping[str, _Scan]
) -> dict[str, float]:
    if not columns:
        return {}
    if impute == "median":

        def run(fn: Callable[..., Any], merge: Callable[[Any, Any], Any]) -> Any:
            return batches.run(partial(_number_values, columns=columns, fn=fn), merge)

        wanted = {}
        for c in columns:
            n = scans[c].present
            wanted[c] = (n, scans[c].low, scans[c].high, sorted({(n - 1) // 2, n // 2}))
        found = exact_ranks(run, wanted)
        return {c: numpy_median(wanted[c][0], found[c].__getitem__) for c in columns}
    counts = batches.run(partial(_number_counts, columns=columns), _merge_number_counts)
    fills = {}
    for c in columns:
        if counts[c] is None:
            msg = (
                f"Column '{c}' has more than {MODE_LIMIT:,} distinct numbers; imputing its "
                "most frequent value in passes would hold them all. Impute the median "
                "(--impute median, impute='median'), or fill the column first."
            )
            raise DataError(msg, column=c)
        fills[c] = float(_mode({v: n for v, (n, _) in counts[c].items()}))
    return fills


# ---------------------------------------------------------------- the columns
def _learn_levels(
    encoder: TableEncoder, name: str, scan: _Scan, where: str
) -> tuple[tuple[str, ...], dict[str, str], dict[str, int]]:
    """A text column's levels (reference first), merged spellings and level counts."""
    if scan.seen is None or len(scan.seen) > encoder.max_levels:
        msg = (
            f"Column '{name}' of {where} has more than {encoder.max_levels} distinct text "
            f"values; it looks like an identifier. Leave it out (--drop {name}) or group "
            "its values."
        )
        raise DataError(msg, column=name)
    raw = {str(v): n for v, (n, _) in scan.seen.items()}
    aliases, shown = spelling_merges(raw.items())
    if aliases and not encoder.normalize_levels:
        variants = [scan.seen[v] for v in aliases]
        first = min(row for _, row in variants)
        raise spelling_error(name, "levels", shown, first, sum(n for n, _ in variants))
    counts: dict[str, int] = {}
    for value, n in raw.items():
        level = aliases.get(value, value)
        counts[level] = counts.get(level, 0) + n
    return encoder._ordered(name, sorted(counts)), aliases, counts


def fit_encoder_streamed(
    source: Any,
    *,
    impute: str | None = None,
    formula: str | None = None,
    normalize_levels: bool = False,
    reference: Mapping[str, Any] | None = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    columns: Sequence[str] | None = None,
) -> TableEncoder:
    """Learn a :class:`TableEncoder` in passes over a file or a Dask frame.

    The result equals ``TableEncoder(impute=..., formula=..., ...).fit(frame)`` on the
    same rows (see the module docstring for the passes and their exactness).

    Parameters
    ----------
    source : FileSource, DaskSource or dask DataFrame
        The rows: a file's feature columns (all but its target, weight and ``drop``), a
        DaskSource's (all but its target and weight), or every column of a dask frame.
    impute, formula, normalize_levels, reference, max_levels
        As for :class:`TableEncoder`.
    columns : sequence of str, optional
        The raw columns to learn (a subset of the source's), in this order.

    Returns
    -------
    TableEncoder
        Fitted.

    Raises
    ------
    DataError
        As ``TableEncoder.fit``: missing values without ``impute``, an unusable column,
        too many levels, spellings, an unknown reference, a bad formula, or a formula
        term that cannot be learned in passes (named).

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from logitkit.data.stream import FileSource
    >>> frame = pd.DataFrame({"x": [1.0, None, 4.0, 2.0], "g": ["a", "b", "b", None],
    ...                       "y": [0, 1, 1, 0]})
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.parquet")
    >>> frame.to_parquet(path)
    >>> encoder = fit_encoder_streamed(FileSource(path, "y", batch_rows=2), impute="median")
    >>> encoder == TableEncoder(impute="median").fit(frame.drop(columns="y"))
    True
    >>> [c.fill for c in encoder.columns_]
    [2.0, 'b']
    """
    encoder = TableEncoder(
        impute=impute,
        formula=formula,
        max_levels=max_levels,
        normalize_levels=normalize_levels,
        reference=reference,
    )
    encoder._check_params()
    batches = row_batches(source, columns)
    every = list(batches.columns)
    names = every
    if formula is not None:
        from logitkit.data.formula import _parse  # noqa: PLC0415 - checks before typing

        needed = _parse(formula, names)[1]
        names = [n for n in names if n in needed]
    cap = max_levels
    scans = batches.run(partial(_scan, columns=names, cap=cap), partial(_merge_scans, cap=cap))
    if scans is None:
        msg = f"{batches.where} has no rows."
        raise DataError(msg)
    kinds = {n: _final_kind(n, scans[n], batches.declared) for n in names}
    encoder._check_reference_columns(names, kinds.__getitem__, every)
    missing = {n: scans[n].missing for n in names if scans[n].missing}
    if missing and impute is None:
        raise _missing_error(missing, "the training rows")
    learned: dict[str, tuple[tuple[Any, ...], dict[str, str], dict[Any, int]]] = {}
    for name in names:
        scan = scans[name]
        if scan.present == 0:
            msg = f"Column '{name}' has no values at all; leave it out (--drop {name})."
            raise DataError(msg, column=name)
        if kinds[name] == "category":
            learned[name] = _learn_levels(encoder, name, scan, batches.where)
        elif kinds[name] == "bool":
            counts = {bool(v): n for v, (n, _) in (scan.seen or {}).items()}
            learned[name] = ((False, True), {}, counts)
    fills: dict[str, Fill] = {}
    if impute is not None:
        numbers = [n for n in names if kinds[n] in ("float", "int")]
        fills.update(_number_fills(batches, impute, numbers, scans))
        fills.update({n: _mode(learned[n][2]) for n in learned})
    encoder.columns_ = [
        ColumnSpec(
            name,
            kinds[name],
            learned[name][0] if name in learned else (),
            fills.get(name),
            scans[name].missing,
            tuple(sorted(learned[name][1].items())) if name in learned else (),
        )
        for name in names
    ]
    terms = None
    if formula is not None:
        run = partial(_typed_run, batches=batches, encoder=encoder)
        terms = learn_formula(formula, run, encoder._typed(batches.head()), max_levels)
    return encoder._set_outputs(terms)


def _on_typed(
    frame: pd.DataFrame, offset: int, encoder: TableEncoder, fn: Callable[[pd.DataFrame, int], Any]
) -> Any:
    return fn(encoder._typed(frame, offset), offset)


def _typed_run(
    fn: Callable[[pd.DataFrame, int], Any],
    merge: Callable[[Any, Any], Any],
    batches: RowBatches,
    encoder: TableEncoder,
) -> Any:
    """A pass over the typed (and imputed) columns, as the formula reads them."""
    return batches.run(partial(_on_typed, encoder=encoder, fn=fn), merge)
