"""Record batches to chunks: arrow types, batch encoding and read-ahead, for streamed files.

The helpers of :mod:`logitkit.data.stream`: which encoder type an arrow column has,
how one record batch becomes a float64 block, class codes and weights (with errors that
name the file, column and row), and a thread that reads the next batches meanwhile.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from logitkit.data.encoding import ColumnSpec, TableEncoder
from logitkit.data.grouped import doubled_rows, group_counts
from logitkit.exceptions import DataError

FloatArray = NDArray[np.float64]

__all__ = [
    "BatchLayout",
    "encoder_for",
    "first_true",
    "one_blas_thread",
    "raw_type",
    "read_ahead",
]

_CONTROLLER: list[ThreadpoolController] = []


def raw_type(name: str, kind: pa.DataType, where: str) -> str:
    """The encoder's type of an arrow column (``"float"``, ``"int"``, ``"bool"``, ``"category"``)."""
    if pa.types.is_dictionary(kind):
        return "category"
    if pa.types.is_integer(kind):
        return "int"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind) or pa.types.is_null(kind):
        return "float"
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "category"
    msg = (
        f"Column '{name}' of {where} has type {kind}, which is not numeric; logitkit takes "
        "numbers, booleans and text categories. Convert it (e.g. a date to days) or leave "
        f"it out (drop=['{name}'], --drop {name})."
    )
    raise DataError(msg, column=name)


def read_ahead(batches: Iterator[Any], depth: int) -> Generator[Any, None, None]:
    """Iterate ``batches`` with a thread producing up to ``depth`` items ahead.

    pyarrow releases the GIL while it reads and decodes, so the next batch is read while
    numpy computes on this one. Errors reach the caller in order; stopping early (or
    closing the iterator) stops the producer. The threads are kept for the next pass (a
    new thread per pass would leave an allocator heap behind each time); they are
    daemon threads, and a pass that finds them all busy starts another, so a pass its
    consumer abandoned without closing it (an error raised while its frame is kept
    alive) neither holds up later passes nor the interpreter's exit.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(("batch", batch)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(("error", exc))
            return
        finally:
            try:
                close = getattr(batches, "close", None)
                if close is not None:  # a pass stopped early frees what it holds now
                    close()
            finally:
                done.set()
        put(("done", None))

    _READERS.run(produce)
    try:
        while True:
            kind, value = items.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        done.wait()


class _ReaderPool:
    """Daemon threads that run read-ahead producers, one at a time each (see
    :func:`read_ahead`); a task that finds every thread busy starts one more."""

    def __init__(self) -> None:
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._count = 0

    def run(self, task: Any) -> None:
        with self._lock:
            if self._idle == 0:
                self._count += 1
                name = f"logitkit-read_{self._count}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
            else:
                self._idle -= 1
        self._tasks.put(task)

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            try:
                task()
            finally:
                with self._lock:
                    self._idle += 1


_READERS = _ReaderPool()


def one_blas_thread() -> Any:
    """A context limiting BLAS to one thread (the controller is made once: it takes ms)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def encoder_for(specs: Sequence[ColumnSpec], max_levels: int) -> TableEncoder:
    """The :class:`TableEncoder` of columns learned in a pass (no imputation, no formula).

    The levels are the specs' as they stand: no spellings merged (``normalize_levels``
    off) and no reference named (each categorical's first level is its reference).

    Examples
    --------
    >>> encoder_for([ColumnSpec("x", "float"), ColumnSpec("g", "category", ("a", "b"))], 100)
    TableEncoder(impute=None, formula=None, max_levels=100, normalize_levels=False, reference=None)
    """
    return TableEncoder.from_dict(
        {
            "columns": [s.to_dict() for s in specs],
            "encoded_features": [e for s in specs for e in s.encoded_names()],
            "impute": None,
            "max_levels": max_levels,
            "formula": None,
        }
    )


def count_columns(
    columns: tuple[Any, Any], names: tuple[str, str], first_row: int, where: str
) -> tuple[FloatArray, FloatArray]:
    """The checked successes and trials of a batch of groups from its two arrow columns
    (:func:`~logitkit.data.grouped.group_counts`), the batch's first row ``first_row``."""
    counts = []
    for name, col in zip(names, columns, strict=True):
        if col.null_count:
            row = first_row + first_true(col.is_null())
            msg = (
                f"Column '{name}' of {where} has a missing value at row {row} (0-based data "
                "row); a group needs its successes and trials."
            )
            raise DataError(msg, column=name, row=row)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            msg = (
                f"Column '{name}' of {where} has type {col.type}; with trials it must hold counts."
            )
            raise DataError(msg, column=name)
        counts.append(np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64))
    return group_counts(
        counts[0],
        counts[1],
        names=names,
        first_row=first_row,
        where=f" of {where} (0-based data row)",
    )


def add_label_counts(counts: dict[Any, int], labels: Any) -> None:
    """Add an arrow column's rows per label to ``counts``."""
    for entry in pc.value_counts(labels).to_pylist():
        counts[entry["values"]] = counts.get(entry["values"], 0) + entry["counts"]


def first_true(mask: Any) -> int:
    """Position of the first true value of a boolean arrow or numpy array."""
    values = mask.to_numpy(zero_copy_only=False) if hasattr(mask, "to_numpy") else mask
    return int(np.flatnonzero(values)[0])


@dataclass(frozen=True)
class BatchLayout:
    """How a record batch becomes a chunk: the feature columns, target and weight.

    With ``trials`` each row is a group of trials, the target its successes
    (:mod:`logitkit.data.grouped`): a batch becomes the solver's two weighted rows per
    group, and :meth:`encode_groups` gives the groups themselves.
    """

    specs: tuple[ColumnSpec, ...]
    target: str
    weight: str | None
    classes: pa.Array
    where: str
    trials: str | None = None
    #: A column of known log-odds terms, one per row (R's ``glm(offset=)``), or None.
    offset_column: str | None = None
    #: Target labels spelt several ways that are merged (``normalize_labels``): every
    #: spelling read, and the class code of each; None when the labels are read as is.
    spellings: pa.Array | None = None
    spelling_codes: tuple[int, ...] = ()

    @property
    def columns(self) -> list[str]:
        """Arrow columns to read, in order: features, target, weight (or trials), offset."""
        extra = [c for c in (self.weight, self.trials, self.offset_column) if c is not None]
        return [s.name for s in self.specs] + [self.target, *extra]

    def offsets(self, batch: pa.RecordBatch, offset: int) -> FloatArray | None:
        """The batch's offsets (``offset_column``; None without one), finite numbers."""
        if self.offset_column is None:
            return None
        col = batch.column(self.columns.index(self.offset_column))
        if col.null_count:
            self._missing(self.offset_column, offset, first_true(col.is_null()))
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            msg = (
                f"Offset column '{self.offset_column}' of {self.where} has type {col.type}; an "
                "offset is a log-odds term per row and must hold numbers."
            )
            raise DataError(msg, column=self.offset_column)
        values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"Offset column '{self.offset_column}' of {self.where} has {float(values[row])!r} "
                f"at row {offset + row} (0-based data row); an offset must be a finite number."
            )
            raise DataError(msg, column=self.offset_column, row=offset + row, count=int(bad.sum()))
        return values

    @property
    def n_features(self) -> int:
        return sum(1 if s.type in ("float", "int") else len(s.levels) - 1 for s in self.specs)

    def _missing(self, column: str, offset: int, row: int, what: str = "a missing value") -> None:
        msg = (
            f"Column '{column}' of {self.where} has {what} at row {offset + row} (0-based data "
            "row). A stream cannot impute: drop or fill those rows first."
        )
        raise DataError(msg, column=column, row=offset + row)

    def encode(
        self, batch: pa.RecordBatch, offset: int, *, check: bool = True
    ) -> tuple[FloatArray, NDArray[np.intp], FloatArray]:
        """``(X, codes, sample_weight)`` of one batch whose first row is row ``offset``.

        ``check=False`` skips the NaN test of the features (for a file already read
        through once: it saves a sweep over the batch on every later pass). With
        ``trials``: the solver's rows of the batch's groups (:func:`doubled_rows`).
        """
        X = self.features(batch, offset, check=check)
        if self.trials is not None:
            s, m = self.group_counts(batch, offset)
            rows, labels, weights = doubled_rows(X, s, m)
            return np.asfortranarray(rows), labels, weights
        return X, self._codes(batch, offset), self._weights(batch, offset, batch.num_rows)

    def encode_groups(
        self, batch: pa.RecordBatch, offset: int
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(X, successes, trials)`` of one batch of groups (``trials`` set)."""
        return (self.features(batch, offset), *self.group_counts(batch, offset))

    def group_counts(self, batch: pa.RecordBatch, offset: int) -> tuple[FloatArray, FloatArray]:
        """The checked successes and trials of one batch of groups (:func:`count_columns`)."""
        if self.trials is None:
            msg = "The rows are not grouped: no trials column was named."
            raise ValueError(msg)
        at = len(self.specs)
        return count_columns(
            (batch.column(at), batch.column(at + 1)), (self.target, self.trials), offset, self.where
        )

    def features(self, batch: pa.RecordBatch, offset: int, *, check: bool = True) -> FloatArray:
        """The model's columns of one batch (column-major float64)."""
        n = batch.num_rows
        X = np.empty((n, self.n_features), order="F")
        j = 0
        for i, spec in enumerate(self.specs):
            col = batch.column(i)
            if col.null_count:
                self._missing(spec.name, offset, first_true(col.is_null()))
            if spec.type in ("float", "int"):
                X[:, j] = col.to_numpy(zero_copy_only=False)
                j += 1
                continue
            if spec.type == "bool":
                X[:, j] = col.to_numpy(zero_copy_only=False)
                j += 1
                continue
            codes = self._level_codes(spec, col, offset)
            # One contiguous column at a time (X is column-major): level k's indicator.
            for k in range(1, len(spec.levels)):
                np.equal(codes, k, out=X[:, j])
                j += 1
        if check:
            self._check_finite(X, offset)
        return X

    def _level_codes(self, spec: ColumnSpec, col: Any, offset: int) -> NDArray[np.intp]:
        """Each row's index among the spec's levels; an unseen level is an error."""
        levels = pa.array(spec.levels, type=pa.string())
        if pa.types.is_dictionary(col.type):
            # Look the (few) dictionary entries up once, then map the row indices: no
            # string per row. An entry no row uses may be unknown; a used one may not.
            words = col.dictionary
            words = words if pa.types.is_string(words.type) else words.cast(pa.string())
            table = pc.index_in(words, value_set=levels).fill_null(-1)
            table = np.asarray(table.to_numpy(zero_copy_only=False), dtype=np.intp)
            codes = table[col.indices.to_numpy(zero_copy_only=False)]
            text = col
        else:
            text = col.cast(pa.string()) if not pa.types.is_string(col.type) else col
            index = pc.index_in(text, value_set=levels)
            codes = np.asarray(index.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.intp)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            value = text[row].as_py()
            msg = (
                f"Column '{spec.name}' of {self.where} has level {value!r} at row "
                f"{offset + row} that the first pass did not see (known levels: "
                f"{', '.join(map(repr, spec.levels[:20]))}); was the file changed?"
            )
            raise DataError(msg, column=spec.name, row=offset + row)
        return np.asarray(codes, dtype=np.intp)

    def _check_finite(self, X: FloatArray, offset: int) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(X.sum()):
                return
        bad = ~np.isfinite(X)
        if not bad.any():
            return  # the sum overflowed; the values are fine
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        names = [e for s in self.specs for e in s.encoded_names()]
        row = int(np.flatnonzero(bad[:, j])[0])
        what = "NaN" if np.isnan(X[row, j]) else "an infinite value"
        self._missing(names[j], offset, row, what)

    def _codes(self, batch: pa.RecordBatch, offset: int) -> NDArray[np.intp]:
        labels = batch.column(len(self.specs))
        if pa.types.is_dictionary(labels.type):
            labels = labels.cast(labels.type.value_type)
        K = len(self.classes)
        plain = self.spellings is None and pa.types.is_integer(labels.type)
        if plain and labels.null_count == 0 and self._counting():
            # Labels 0 .. K-1 are their own codes (the common case): no hash lookup.
            codes = np.asarray(labels.to_numpy(zero_copy_only=False), dtype=np.intp)
            if codes.size == 0 or (codes.min() >= 0 and codes.max() < K):
                return codes
        # Merged spellings: each spelling read, then its class.
        known = self.classes if self.spellings is None else self.spellings
        index = pc.index_in(labels, value_set=known)
        if index.null_count:
            row = first_true(index.is_null())
            value = labels[row].as_py()
            what = (
                "a missing label"
                if value is None
                else f"label {value!r}, unseen in the first pass,"
            )
            msg = (
                f"Target column '{self.target}' of {self.where} has {what} at row "
                f"{offset + row} (0-based data row); drop or fix that row."
            )
            raise DataError(msg, column=self.target, row=offset + row)
        codes = np.asarray(index.to_numpy(zero_copy_only=False), dtype=np.intp)
        return codes if self.spellings is None else np.asarray(self.spelling_codes)[codes]

    def _counting(self) -> bool:
        """Whether the classes are the integers ``0 .. K-1``."""
        if not pa.types.is_integer(self.classes.type):
            return False
        values = self.classes.to_numpy(zero_copy_only=False)
        return bool(np.array_equal(values, np.arange(len(values))))

    def _weights(self, batch: pa.RecordBatch, offset: int, n: int) -> FloatArray:
        if self.weight is None:
            return np.ones(n)
        col = batch.column(len(self.specs) + 1)
        if col.null_count:
            self._missing(self.weight, offset, first_true(col.is_null()))
        sw = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        bad = ~np.isfinite(sw) | (sw < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"Weight column '{self.weight}' of {self.where} has {float(sw[row])!r} at row "
                f"{offset + row}; weights must be finite numbers >= 0."
            )
            raise DataError(msg, column=self.weight, row=offset + row, count=int(bad.sum()))
        return sw
