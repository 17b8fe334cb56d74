"""Streamed rows: a Parquet file or directory, or a CSV, read in record batches on every pass.

:class:`FileSource` describes the data (file, target, weight, columns, batch size);
a :class:`~logitkit.model.LogisticModel` fits on it exactly as on arrays in memory
(``LogisticModel().fit(FileSource("big.parquet", target="y"))``), re-reading the file
on every solver pass, so the peak memory depends on the batch size and the number of
features, never on the number of rows.

Reading: Parquet file by file (a file, or a directory's files in name order) with
:meth:`pyarrow.parquet.ParquetFile.iter_batches`, buffered and without read-ahead, so
at most one row group's columns are held decoded (peak memory also grows with the
files' row-group size; hive partition columns are not read); CSV through
:func:`pyarrow.csv.open_csv` with the column types fixed after the first block
(numbers read as float64, so a later ``1.5`` in a column of integers is no error).
The separator, decimal mark and missing-value tokens (``sep``, ``decimal``,
``na_values``) are given or found exactly as :func:`~logitkit.data.arrow.read_table`
finds them (one rule, :func:`~logitkit.data._csv_checks.csv_reading`), so a streamed
read holds the values of the read in memory.

Columns: numbers (integers, floats, decimals) pass through as float64; booleans and text
(or dictionary) columns become 0/1 columns against a reference level, exactly as
:class:`~logitkit.data.encoding.TableEncoder` encodes a frame in memory (levels sorted
as text, the first one left out, columns named ``region[T.south]``); the fitted model
carries that encoder, so it predicts from raw rows. Missing values and NaN are errors
that name the file, the column and the row, unless a fitted encoder is given
(``encoder=``, e.g. from :func:`~logitkit.data.streamed_encoding.fit_encoder_streamed`
with imputation): it then encodes every batch, filling in and applying its formula.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from numpy.typing import NDArray

from logitkit.data._batches import (
    BatchLayout,
    add_label_counts,
    count_columns,
    encoder_for,
    first_true,
    one_blas_thread,
    raw_type,
    read_ahead,
)
from logitkit.data._csv_checks import CsvReading, csv_only, csv_reading
from logitkit.data.arrow import _na_tokens, _null_tokens, file_format
from logitkit.data.checks import spelling_merges
from logitkit.data.encoding import DEFAULT_MAX_LEVELS, ColumnSpec, TableEncoder
from logitkit.data.grouped import GroupedData, check_both_outcomes
from logitkit.data.memory import ArraySource
from logitkit.data.row_filters import RowFilter
from logitkit.data.sources import (
    PassProgress,
    RawSplit,
    RowSample,
    SourceSchema,
    check_classes,
    pass_progress,
    sample_positions,
)
from logitkit.data.spill import EncodedBlock, Spill, size_text
from logitkit.exceptions import DataError
from logitkit.solver.statistics import Chunk, S

FloatArray = NDArray[np.float64]
T = TypeVar("T")

__all__ = ["EncodedLayout", "FileChunks", "FileSource"]

#: More distinct target labels than this is taken for a continuous or identifier column.
MAX_CLASSES = 1000
#: Batches read ahead by a background thread.
_READ_AHEAD = 2


@dataclass(frozen=True)
class EncodedLayout(BatchLayout):
    """A :class:`BatchLayout` whose features a fitted :class:`TableEncoder` encodes (its
    levels, imputation and formula), when it has one; ``specs`` are its input columns."""

    encoder: TableEncoder | None = None

    @property
    def n_features(self) -> int:
        if self.encoder is None:
            return super().n_features
        return len(self.encoder.encoded_features_)

    def features(self, batch: pa.RecordBatch, offset: int, *, check: bool = True) -> FloatArray:
        """The model's columns of one batch whose first row is row ``offset``."""
        if self.encoder is None:
            return super().features(batch, offset, check=check)
        width = len(self.specs)
        names = [s.name for s in self.specs]
        frame = pa.RecordBatch.from_arrays(batch.columns[:width], names=names).to_pandas()
        encoded = self.encoder.transform(frame, row_offset=offset)
        X = np.asfortranarray(encoded.to_numpy(dtype=np.float64))
        if check:
            bad = ~np.isfinite(X)
            if bad.any():
                j = int(np.flatnonzero(bad.any(axis=0))[0])
                row = int(np.flatnonzero(bad[:, j])[0])
                what = "NaN" if np.isnan(X[row, j]) else "an infinite value"
                self._missing(self.encoder.encoded_features_[j], offset, row, what)
        return X


class FileSource:
    """Rows of a Parquet file or directory, or a CSV/TSV file, streamed in record batches.

    Give it to :meth:`LogisticModel.fit <logitkit.model.LogisticModel.fit>` in place of
    ``X`` (and no ``y``): the fit makes a cheap first pass for the target's classes and
    the categorical levels, one for the moments and class totals, and then one per
    solver step, each reading the file batch by batch. The coefficients equal those of
    the same fit in memory.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file, a directory of Parquet files, or a ``.csv``/``.tsv`` file
        (optionally compressed, e.g. ``.csv.gz``).
    target : str
        The target column; labels of any type.
    weight : str, optional
        A column of non-negative row weights (as ``sample_weight``).
    columns : sequence of str, optional
        Feature columns, in this order; by default every column but the target, the
        weight and ``drop``.
    drop : sequence of str, default=()
        Columns to leave out (identifiers).
    batch_rows : int, default=65536
        Rows per record batch; peak memory grows with ``batch_rows * n_features``.
    max_levels : int, default=100
        A text column with more distinct values is refused as a likely identifier.
    progress : bool, default=False
        Show a Rich progress bar on stderr for each pass (rows read).
    encoder : TableEncoder, optional
        A fitted encoder (e.g. from :func:`~logitkit.data.streamed_encoding.
        fit_encoder_streamed` on this file) that encodes every batch: its input columns
        are the features, and its levels, imputation and formula apply. Without one,
        the first pass learns the levels and missing values are errors.
    na_values : str or sequence of str, optional
        Tokens read as missing values, besides pyarrow's (an empty field, ``NA``, ...),
        as :func:`~logitkit.data.arrow.read_table` reads them: in a CSV file in every
        column; in a Parquet file in its text columns, and a text column that held such
        tokens and otherwise only numbers is read as numbers.
    sep : str, optional
        A CSV file's column separator (default: found from its first lines, as
        :func:`~logitkit.data.arrow.read_table` finds it).
    decimal : {".", ","}, optional
        A CSV file's decimal mark (default: found as ``read_table`` finds it).
    split : RawSplit, optional
        Keep only the rows it keeps, chosen by a hash of their raw values as read (see
        :class:`~logitkit.data.sources.RawSplit`): every pass, the schema pass and an
        encoder's passes included, reads the other rows as if they were not in the
        file (row numbers in messages count the kept rows).
    trials : str, optional
        Each row is a group of trials (R's ``glm(cbind(s, n - s) ~ ...)``): this column
        holds its trials and ``target`` its successes (whole numbers in ``[0, trials]``).
        The solver sees each group as two weighted rows (:mod:`logitkit.data.grouped`);
        :attr:`groups` holds the totals once :meth:`schema` has read the counts.
    offset : str, optional
        A column of known log-odds terms, one per row (R's ``glm(offset=)``): each row's
        loss is taken at its linear predictor plus its offset, and the offset has no
        coefficient (``fit(X, y, offset=o)`` in memory). Finite numbers; not a feature.
    normalize_labels : bool, default=False
        Merge target labels that differ only in case or surrounding spaces (``"yes"``,
        ``"Yes "``) into their most frequent spelling, as ``train(...,
        normalize_labels=True)`` does in memory (:attr:`merged_labels` lists them).
    merged_labels : dict of str to str, optional
        The merges to apply instead of learning them from these rows (e.g. those of all
        rows, for a share of them split off by ``split``).
    spill : bool, str or Path, default=False
        Keep the encoded rows in a scratch file after the first complete pass, and read
        every later pass from it: the same numbers without decoding and encoding the
        file again (see :mod:`logitkit.data.spill`; ``8 (p + 2)`` bytes a row). True
        writes it to the system's temporary folder, a path to that folder. Where the
        folder lacks the room, the passes read the file as without it
        (:attr:`spill_note` says which happened).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd
    >>> from logitkit import LogisticModel
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=500), "g": rng.choice(["a", "b"], 500)})
    >>> frame["y"] = (frame["x"] + rng.normal(size=500) > 0).astype(int)
    >>> path = os.path.join(tempfile.mkdtemp(), "rows.parquet")
    >>> frame.to_parquet(path)
    >>> model = LogisticModel().fit(FileSource(path, target="y", batch_rows=128))
    >>> model.feature_names_in_.tolist()
    ['x', 'g[T.b]']
    >>> model.predict(pd.DataFrame({"x": [2.0], "g": ["a"]})).tolist()
    [1]
    """

    def __init__(
        self,
        path: str | Path,
        target: str,
        *,
        weight: str | None = None,
        columns: Sequence[str] | None = None,
        drop: Sequence[str] = (),
        batch_rows: int = 65_536,
        max_levels: int = DEFAULT_MAX_LEVELS,
        progress: bool = False,
        encoder: TableEncoder | None = None,
        na_values: str | Sequence[str] | None = None,
        sep: str | None = None,
        decimal: str | None = None,
        split: RawSplit | None = None,
        spill: bool | str | Path = False,
        trials: str | None = None,
        offset: str | None = None,
        normalize_labels: bool = False,
        merged_labels: dict[str, str] | None = None,
    ) -> None:
        if offset is not None and trials is not None:
            msg = "Give FileSource either 'offset' or 'trials', not both: grouped fits take no offset."
            raise ValueError(msg)
        if trials is not None and weight is not None:
            msg = (
                "Give FileSource either 'weight' or 'trials', not both: a group's trials "
                "already weight it."
            )
            raise ValueError(msg)
        if encoder is not None and columns is not None:
            msg = (
                "Give FileSource either 'columns' or an 'encoder', not both: the encoder "
                "reads its own input columns."
            )
            raise ValueError(msg)
        if encoder is not None and not encoder.columns_:
            msg = "The 'encoder' of FileSource must be fitted (fit_encoder_streamed, fit)."
            raise ValueError(msg)
        if int(batch_rows) < 1:
            msg = f"The 'batch_rows' parameter of FileSource must be an int >= 1. Got {batch_rows!r} instead."
            raise ValueError(msg)
        self.path = Path(path)
        self.kind = file_format(self.path)
        if self.kind == "parquet":
            csv_only(self.path, sep, decimal)
        self.na_values = _na_tokens(na_values)
        self.sep, self.decimal = sep, decimal
        self._reading: CsvReading | None = None
        self.split = split
        self.spill = spill
        # Shared by subset() copies: one scratch file serves every fold of the same rows.
        self._spills: list[Spill] = []
        self._split_csv_types: dict[str, pa.DataType] | None = None
        #: Parquet text columns read as numbers (see ``na_values``), once known.
        self._as_numbers: frozenset[str] | None = None
        self.target = target
        self.weight = weight
        self.trials = trials
        self.offset = offset
        self.normalize_labels = normalize_labels
        #: Rows of each target label (the schema pass's count).
        self.label_counts: dict[Any, int] = {}
        #: Target label spellings merged into another (``normalize_labels``, or given).
        self.merged_labels: dict[str, str] = dict(merged_labels or {})
        self._merges_given = merged_labels is not None
        #: The totals of grouped rows (``trials``), from the schema pass.
        self.groups: GroupedData | None = None
        self.columns = list(columns) if columns is not None else None
        self.drop = list(drop)
        self.batch_rows = int(batch_rows)
        self.max_levels = int(max_levels)
        self.progress = progress
        self.encoder = encoder
        self.fold: RowFilter | None = None
        self._csv_types: dict[str, pa.DataType] | None = None
        self._schema: SourceSchema | None = None
        self._layout: BatchLayout | None = None

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r}, target={self.target!r})"

    # ------------------------------------------------------------------ reading
    @property
    def where(self) -> str:
        """The file's name, for messages."""
        return str(self.path)

    def csv_reading(self) -> CsvReading:
        """How the CSV file is read: separator, decimal mark and missing tokens, given or
        found from its first lines exactly as :func:`~logitkit.data.arrow.read_table`
        finds them, so that a streamed read equals the read in memory."""
        if self._reading is None:
            self._reading = csv_reading(
                self.path,
                self.kind,
                sep=self.sep,
                decimal=self.decimal,
                na_values=self.na_values,
                types=None,
            )
        return self._reading

    def _csv_options(self, columns: list[str] | None = None) -> dict[str, Any]:
        """pyarrow's options for the CSV file (types fixed once known; ``columns`` only)."""
        types = {**self._split_types(), **(self._csv_types or {})}
        options = replace(self.csv_reading(), types=types).options()
        options["convert_options"].include_columns = columns or []
        return options

    def _split_types(self) -> dict[str, pa.DataType]:
        """The CSV types of the split's columns, fixed from the first block (numbers as
        float64) so that every block hashes a row's values alike."""
        if self.split is None or self.kind == "parquet":
            return {}
        if self._split_csv_types is None:
            reader = pacsv.open_csv(self.path, **self.csv_reading().options())
            schema = reader.schema
            reader.close()
            types: dict[str, pa.DataType] = {}
            for name in self.split.columns:
                kind = schema.field(name).type
                numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
                boolean = pa.types.is_boolean(kind)
                types[name] = pa.float64() if numeric else pa.bool_() if boolean else pa.string()
            self._split_csv_types = types
        return self._split_csv_types

    def _split_batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        """The rows the split keeps, as record batches of the chosen columns."""
        split = self.split
        assert split is not None
        wanted = list(dict.fromkeys([*columns, *split.columns]))
        for batch in self._read_batches(wanted):
            keep = split.mask(batch.select(list(split.columns)).to_pandas())
            yield batch.filter(pa.array(keep)).select(columns)

    def _arrow_schema(self) -> pa.Schema:
        try:
            if self.kind == "parquet":
                schema = self._dataset().schema
                for name in self._parquet_numbers(schema):
                    i = schema.get_field_index(name)
                    schema = schema.set(i, pa.field(name, pa.float64()))
                return schema
            # The types as inferred from the first block (none fixed), as read_table's.
            reader = pacsv.open_csv(self.path, **self.csv_reading().options())
            schema = reader.schema
            reader.close()
        except (pa.ArrowInvalid, OSError) as exc:
            msg = f"Cannot read {self.path}: {exc}"
            raise DataError(msg) from None
        return schema

    def _dataset(self) -> ds.Dataset:
        return ds.dataset(self.path, format="parquet")

    def _parquet_files(self) -> list[str]:
        """The Parquet files, in name order (one file, or a directory's data files)."""
        return sorted(self._dataset().files) if self.path.is_dir() else [str(self.path)]

    def encoded_blocks(self, *, check: bool = True) -> Generator[EncodedBlock, None, None]:
        """Every row, encoded, block by block: ``(X, codes, sample_weight, start,
        offsets)`` (the block's first row, and its rows' offsets when ``offset`` is set).

        With ``spill``, the first complete pass also writes the blocks to the scratch
        file and later passes read them from it (C-ordered blocks of at most
        :data:`~logitkit.data.spill.BLOCK_BYTES`); otherwise each pass reads and encodes
        the file's record batches (``check=False`` skips the features' NaN test, for a
        file already read through once).
        """
        _, layout = self._prepared()
        spill = self._spill()
        if spill is not None and spill.ready:
            return read_ahead(spill.blocks(), _READ_AHEAD)
        encoded = self._encoded(layout, check)
        if spill is None or spill.skipped:
            return encoded
        # The pass that writes the scratch file decodes, encodes, orders and writes each
        # block on a reading thread, while the consumer computes on the one before.
        return read_ahead(spill.write(encoded), _READ_AHEAD)

    def _encoded(self, layout: BatchLayout, check: bool) -> Generator[EncodedBlock, None, None]:
        offset = 0  # the solver's rows (a group of trials is two)
        read = 0  # the file's rows, for messages
        # Closed on an error too: its reading thread stops at once.
        with closing(self.record_batches(layout.columns)) as batches:
            for batch in batches:
                X, codes, sw = layout.encode(batch, read, check=check)
                yield X, codes, sw, offset, layout.offsets(batch, read)
                offset += X.shape[0]
                read += batch.num_rows
        if self._spills and not self._spills[0].skipped:
            # The file is read no more: hand arrow's cached decoding buffers (a few
            # hundred MB for wide row groups) back to the system.
            pa.default_memory_pool().release_unused()

    def _spill(self) -> Spill | None:
        if self.spill is False:
            return None
        if not self._spills:
            schema, layout = self._prepared()
            folder = None if self.spill is True else Path(self.spill)
            self._spills.append(
                Spill(schema.n_rows, layout.n_features, folder, offsets=self.offset is not None)
            )
        return self._spills[0]

    @property
    def spill_note(self) -> str | None:
        """How the passes read the rows: from a scratch file, or why not (None: no spill)."""
        spill = self._spill()
        if spill is None:
            return None
        if spill.skipped:
            return f"each pass read the file again (no scratch file: {spill.skipped})"
        return (
            "encoded once, then read back from a scratch file in "
            f"{spill.folder} ({size_text(spill.size)}, deleted after) on every later pass"
        )

    def record_batches(self, columns: list[str]) -> Generator[pa.RecordBatch, None, None]:
        """The chosen columns, in order, as record batches of at most ``batch_rows`` rows.

        A background thread reads (and decodes) up to two batches ahead while the
        caller works on the current one.
        """
        return read_ahead(self._batches(columns), _READ_AHEAD)

    def _batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        if self.split is None:
            return self._read_batches(columns)
        return self._split_batches(columns)

    def _read_batches(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        try:
            if self.kind == "parquet":
                for file in self._parquet_files():
                    # Buffered reads without pre-buffering: one row group's columns at
                    # a time at most (a dataset scanner reads ahead, holding more).
                    reader = pq.ParquetFile(file, buffer_size=1 << 20, pre_buffer=False)
                    batches = reader.iter_batches(
                        batch_size=self.batch_rows, columns=columns, use_threads=True
                    )
                    if not self.na_values:
                        yield from batches
                        continue
                    numbers = self._parquet_numbers(self._dataset().schema)
                    for batch in batches:
                        yield self._null_batch(batch, numbers)
                return
            reader = pacsv.open_csv(self.path, **self._csv_options(columns))
            for block in reader:
                for start in range(0, block.num_rows, self.batch_rows):
                    yield block.slice(start, self.batch_rows)
        except (pa.ArrowInvalid, OSError) as exc:
            msg = (
                f"Cannot read {self.path}: {exc}. A feature column must hold numbers, "
                "booleans or text in every row."
            )
            raise DataError(msg) from None

    def _null_batch(self, batch: pa.RecordBatch, numbers: frozenset[str]) -> pa.RecordBatch:
        """A Parquet batch with the ``na_values`` tokens as missing, and the text columns
        that :meth:`_parquet_numbers` found to be numbers as float64 (as in memory)."""
        table = _null_tokens(pa.Table.from_batches([batch]), self.na_values)
        for i, name in enumerate(table.column_names):
            if name in numbers and not pa.types.is_floating(table.field(i).type):
                column = pc.cast(pc.utf8_trim_whitespace(table.column(i)), pa.float64())
                table = table.set_column(i, pa.field(name, pa.float64()), column)
        columns = [column.combine_chunks() for column in table.columns]
        # pandas' metadata would turn the numbers back into text in ``to_pandas``.
        schema = table.schema.remove_metadata() if numbers else table.schema
        return pa.RecordBatch.from_arrays(columns, schema=schema)

    def _parquet_numbers(self, schema: pa.Schema) -> frozenset[str]:
        """The text columns read as numbers with ``na_values``: those that hold a token
        and otherwise only numbers, as :func:`~logitkit.data.arrow.read_table` reads the
        whole file (found by one pass over the text columns, on first need)."""
        if self._as_numbers is not None:
            return self._as_numbers
        text = [
            f.name
            for f in schema
            if self.na_values and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
        ]
        hit = dict.fromkeys(text, False)
        castable = dict.fromkeys(text, True)
        tokens = pa.array(self.na_values, type=pa.string())
        if text:
            for file in self._parquet_files():
                reader = pq.ParquetFile(file, buffer_size=1 << 20, pre_buffer=False)
                for batch in reader.iter_batches(batch_size=self.batch_rows, columns=text):
                    for name, raw in zip(text, batch.columns, strict=True):
                        found = pc.is_in(raw, value_set=tokens)
                        hit[name] = hit[name] or bool(pc.any(found).as_py())
                        if castable[name]:
                            kept = pc.if_else(found, pa.scalar(None, raw.type), raw)
                            try:
                                pc.cast(pc.utf8_trim_whitespace(kept), pa.float64())
                            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                                castable[name] = False
        self._as_numbers = frozenset(c for c in text if hit[c] and castable[c])
        return self._as_numbers

    # ------------------------------------------------------------------ schema pass
    def schema(self) -> SourceSchema:
        """Classes, model columns and rows, from a pass over the target and text columns.

        Raises
        ------
        DataError
            Naming the file and column: a missing target or weight column, a column of
            an unusable type, a missing label or level (with its row), a text column with
            more than ``max_levels`` values, or fewer than two classes.
        """
        return self._prepared()[0]

    def _prepared(self) -> tuple[SourceSchema, BatchLayout]:
        if self._schema is None or self._layout is None:
            self._schema, self._layout = self._scan()
        return self._schema, self._layout

    def _feature_columns(self, names: list[str], index: set[str]) -> list[str]:
        """The feature columns: as given, or all but the target, weight, drop and ``index``."""
        counts = [c for c in (self.weight, self.trials, self.offset) if c]
        wanted = [self.target, *counts, *self.drop]
        wanted += self.columns or []
        absent = [c for c in wanted if c not in names]
        if absent:
            what = "Target column" if absent[0] == self.target else "Column"
            msg = (
                f"{what} '{absent[0]}' is not in {self.path}; its columns are: "
                f"{', '.join(names[:30])}{' ...' if len(names) > 30 else ''}."
            )
            raise DataError(msg, column=absent[0])
        skip = {self.target, *counts, *self.drop, *index}
        if self.encoder is not None:
            needed = self.encoder.input_names
            absent = [c for c in needed if c not in names or c in skip]
            if absent:
                where = "is not in" if absent[0] not in names else "is left out of"
                msg = (
                    f"Column '{absent[0]}' {where} {self.path}, but the encoder reads it; "
                    f"it reads: {', '.join(needed)}."
                )
                raise DataError(msg, column=absent[0])
            return list(needed)
        features = self.columns if self.columns is not None else names
        return [c for c in features if c not in skip]

    def feature_types(self) -> dict[str, str]:
        """The feature columns, in order, with their types as the file's schema gives them
        (``"float"``, ``"int"``, ``"bool"``, ``"category"``; with an ``encoder``, its
        columns and types). A CSV's column types are fixed for every pass from here on.

        Examples
        --------
        >>> import os, tempfile
        >>> import pandas as pd
        >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
        >>> pd.DataFrame({"x": [1, 2], "g": ["a", "b"], "y": [0, 1]}).to_csv(path, index=False)
        >>> FileSource(path, target="y").feature_types()
        {'x': 'int', 'g': 'category'}
        """
        arrow = self._arrow_schema()
        # A frame's index stored by pandas is no feature (pq.read_table restores it).
        meta = arrow.pandas_metadata or {}
        index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
        features = self._feature_columns(list(arrow.names), index)
        if self.encoder is not None:
            kinds = {spec.name: spec.type for spec in self.encoder.columns_}
        else:
            kinds = {c: raw_type(c, arrow.field(c).type, self.where) for c in features}
        if self.kind != "parquet":  # fix the types: numbers as float64 in every block
            types = {
                c: pa.float64() if k in ("float", "int") else pa.string() for c, k in kinds.items()
            }
            types.update({c: pa.bool_() for c, k in kinds.items() if k == "bool"})
            for column in (self.weight, self.trials, self.offset):
                if column is not None:
                    types[column] = pa.float64()
            target_type = arrow.field(self.target).type
            if self.trials is not None:
                types[self.target] = pa.float64()  # counts of successes
            elif pa.types.is_integer(target_type):
                types[self.target] = pa.int64()
            self._csv_types = types
        return kinds

    def _scan(self) -> tuple[SourceSchema, BatchLayout]:
        kinds = self.feature_types()
        features = list(kinds)
        arrow = self._arrow_schema()
        text = [c for c in features if kinds[c] in ("category", "bool")]
        if self.encoder is not None:
            text = []  # the encoder knows the levels (and fills missing values)
        labels, levels, n_rows = self._scan_values(text)
        if self.groups is not None:  # successes of trials: labels 1 and 0 of the rows
            check_both_outcomes(self.groups, self.target)
            labels = np.array([0, 1])
        spellings = None
        if self.normalize_labels and not self._merges_given:  # one class, as in memory
            self.merged_labels, _ = spelling_merges(self.label_counts.items())
        if self.merged_labels:
            spellings = labels
            merged = {self.merged_labels.get(v, v) for v in spellings.tolist()}
            labels = np.array(sorted(merged), dtype=object)
        classes = check_classes(labels, self.target, self.where)
        if classes.shape[0] > MAX_CLASSES:
            msg = (
                f"Target column '{self.target}' of {self.where} has {classes.shape[0]} "
                f"distinct labels (more than {MAX_CLASSES}); is it the right column?"
            )
            raise DataError(msg, column=self.target)
        specs = []
        for c in [] if self.encoder is not None else features:
            if kinds[c] == "category":
                specs.append(ColumnSpec(c, "category", tuple(sorted(levels[c]))))
            elif kinds[c] == "bool":
                specs.append(ColumnSpec(c, "bool", (False, True)))
            else:
                specs.append(ColumnSpec(c, kinds[c]))
        encoder = self.encoder or encoder_for(specs, self.max_levels)
        target_type = arrow.field(self.target).type
        if pa.types.is_dictionary(target_type):
            target_type = target_type.value_type
        if self._csv_types is not None and self.target in self._csv_types:
            target_type = self._csv_types[self.target]
        if self.trials is not None:
            target_type = pa.int64()
        layout = EncodedLayout(
            tuple(encoder.columns_),
            self.target,
            self.weight,
            pa.array(classes.tolist(), type=target_type),
            self.where,
            trials=self.trials,
            offset_column=self.offset,
            spellings=None if spellings is None else pa.array(spellings.tolist(), type=target_type),
            spelling_codes=()
            if spellings is None
            else tuple(
                int(np.searchsorted(classes, self.merged_labels.get(v, v)))
                for v in spellings.tolist()
            ),
            encoder=None if self.encoder is None else encoder,
        )
        names = list(encoder.encoded_features_)
        schema = SourceSchema(classes, names, len(names), n_rows, encoder, self.groups)
        return schema, layout

    def _scan_values(self, text: list[str]) -> tuple[NDArray[Any], dict[str, set[str]], int]:
        """Distinct labels, the levels of the text columns, and the row count (with
        ``trials``: the totals of the groups in :attr:`groups`, and the solver's rows).
        Each label's rows are kept in :attr:`label_counts`."""
        labels: dict[Any, int] = {}
        levels: dict[str, set[str]] = {c: set() for c in text}
        n = 0
        counted = [] if self.trials is None else [self.trials]
        groups: GroupedData | None = None
        solver_rows = 0
        with pass_progress(self._progress_bar(None), "labels and levels") as advance:
            for batch in self.record_batches([self.target, *counted, *text]):
                if self.trials is not None:
                    names = (self.target, self.trials)
                    s, m = count_columns((batch.column(0), batch.column(1)), names, n, self.where)
                    part = GroupedData.of_counts(s, m)
                    groups = part if groups is None else groups + part
                    solver_rows += int(np.count_nonzero(s) + np.count_nonzero(m - s))
                    self._levels(batch.columns[2:], text, levels, n)
                    n += batch.num_rows
                    advance(batch.num_rows)
                    continue
                target = batch.column(0)
                if pa.types.is_dictionary(target.type):
                    target = target.cast(target.type.value_type)
                if target.null_count:
                    row = n + first_true(target.is_null())
                    msg = (
                        f"Target column '{self.target}' of {self.where} has a missing label "
                        f"at row {row} (0-based data row); drop or fill those rows."
                    )
                    raise DataError(msg, column=self.target, row=row)
                if pa.types.is_floating(target.type) and pc.any(pc.is_nan(target)).as_py():
                    row = n + first_true(pc.is_nan(target))
                    msg = f"Target column '{self.target}' of {self.where} has NaN at row {row}."
                    raise DataError(msg, column=self.target, row=row)
                add_label_counts(labels, target)
                self._levels(batch.columns[1:], text, levels, n)
                n += batch.num_rows
                advance(batch.num_rows)
        if n == 0:
            msg = f"{self.path} has no rows."
            raise DataError(msg)
        if groups is not None:
            self.groups = groups
            return np.array([0, 1]), levels, solver_rows
        self.label_counts = labels
        values = sorted(labels)
        kinds = {type(v) for v in values}
        array = np.array(values, dtype=object) if str in kinds else np.array(values)
        return array, levels, n

    def _levels(
        self, columns: list[Any], text: list[str], levels: dict[str, set[str]], n: int
    ) -> None:
        """Add one batch's text values (``columns``, the columns ``text``) to ``levels``;
        the batch's first row is row ``n``."""
        for c, col in zip(text, columns, strict=True):
            if col.null_count:
                row = n + first_true(col.is_null())
                msg = (
                    f"Column '{c}' of {self.where} has a missing value at row {row} "
                    "(0-based data row). Drop or fill those rows first, or impute: "
                    "FileSource(..., encoder=fit_encoder_streamed(source, "
                    "impute='median'))."
                )
                raise DataError(msg, column=c, row=row)
            if not pa.types.is_boolean(col.type):
                levels[c].update(pc.unique(col.cast(pa.string())).to_pylist())
                if len(levels[c]) > self.max_levels:
                    msg = (
                        f"Column '{c}' of {self.where} has more than {self.max_levels}"
                        " distinct text values; it looks like an identifier. Leave it"
                        f" out (drop=['{c}'], --drop {c}) or group its values."
                    )
                    raise DataError(msg, column=c)

    def _progress_bar(self, n_rows: int | None) -> PassProgress | None:
        return PassProgress(self.path.name, n_rows) if self.progress else None

    # ------------------------------------------------------------------ the passes
    def scan_groups(self, fn: Callable[[FloatArray, FloatArray, FloatArray], T]) -> Iterator[T]:
        """``fn(X, successes, trials)`` of every batch of groups (``trials`` set), in
        file order. Reads the file's batches (the spill keeps the solver's rows)."""
        _, layout = self._prepared()
        read = 0
        with one_blas_thread(), closing(self.record_batches(layout.columns)) as batches:
            for batch in batches:
                yield fn(*layout.encode_groups(batch, read))
                read += batch.num_rows

    def chunk_source(self, sample_rows: int) -> FileChunks:
        """The solver's chunk source over this file (after :meth:`schema`)."""
        schema, layout = self._prepared()
        return FileChunks(self, layout, schema, sample_rows)

    def subset(self, fold: RowFilter) -> FileSource:
        """The same file, keeping only the rows of one hash fold (see :func:`hash_folds`).

        Examples
        --------
        >>> import os, tempfile
        >>> import pandas as pd
        >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
        >>> pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}).to_csv(path, index=False)
        >>> from logitkit.data.sources import FoldFilter
        >>> FileSource(path, target="y").subset(FoldFilter(5, 0)).fold.n_splits
        5
        """
        self.schema()
        out = copy.copy(self)
        out.fold = fold
        return out


class FileChunks:
    """The solver's chunk source over a :class:`FileSource`: one file read per pass.

    The first pass also gathers the Hessian's row sample (the rows
    :func:`~logitkit.data.sources.sample_positions` picks), kept in memory.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, pandas as pd
    >>> from functools import partial
    >>> from logitkit.solver.moments import chunk_moments
    >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
    >>> pd.DataFrame({"x": np.arange(10.0), "y": [0, 1] * 5}).to_parquet(path)
    >>> chunks = FileSource(path, "y", batch_rows=4).chunk_source(sample_rows=0)
    >>> chunks.map_reduce(partial(chunk_moments, n_classes=2)).mean.tolist()
    [4.5]
    """

    def __init__(
        self, source: FileSource, layout: BatchLayout, schema: SourceSchema, sample_rows: int
    ) -> None:
        self.file = source
        self.layout = layout
        self.n_features = schema.n_features
        self.n_outputs = schema.n_outputs
        self._all_rows = schema.n_rows
        self._class_weights = np.ones(schema.classes.shape[0])
        self._unit_weights = True
        # With offsets every Hessian is formed on all rows (as in memory): no row sample.
        sampled = sample_rows > 0 and source.offset is None
        self._sample = RowSample(sample_positions(schema.n_rows, sample_rows)) if sampled else None
        self._sample_source: ArraySource | None = None
        self._progress = source._progress_bar(schema.n_rows)
        self._checked = False  # whether a whole pass found every feature finite

    def set_class_weights(self, class_weights: FloatArray) -> None:
        """Loss weights become ``sample_weight * class_weights[code]``."""
        self._class_weights = np.asarray(class_weights, dtype=np.float64)
        self._unit_weights = bool((self._class_weights == 1.0).all())
        self._sample_source = None

    def _read(self) -> Iterator[tuple[Chunk | None, int]]:
        """Each batch's chunk (rows of other folds dropped) and its rows read; gathers the sample."""
        sample = self._sample if self._sample is not None and not self._sample.complete else None
        if sample is not None:
            sample.clear()
        fold = self.file.fold
        with closing(self.file.encoded_blocks(check=not self._checked)) as blocks:
            yield from self._chunks(blocks, sample, fold)
        if sample is not None:
            sample.complete = True
        self._checked = True

    def _chunks(
        self, blocks: Iterator[EncodedBlock], sample: RowSample | None, fold: RowFilter | None
    ) -> Iterator[tuple[Chunk | None, int]]:
        for block in blocks:
            X, y, sw, start, offsets = block
            n = X.shape[0]
            local = sample.local(start, n) if sample is not None else None
            if fold is not None:
                keep = fold.mask(X)
                X, y, sw = X[keep], y[keep], sw[keep]
                offsets = None if offsets is None else offsets[keep]
                if local is not None:
                    local = np.flatnonzero(np.isin(np.flatnonzero(keep), local))
            if sample is not None and local is not None:
                sample.add(X[local], y[local], sw[local])
            w = sw if self._unit_weights else sw * self._class_weights[y]
            chunk = Chunk(X, y, w, sw, offsets) if X.shape[0] else None
            yield chunk, n

    def map_reduce(self, fn: Callable[[Chunk], S]) -> S:
        """Read the file once, apply ``fn`` to each batch's chunk and add up the results.

        BLAS runs on one thread meanwhile: a batch is a small problem, and the other
        core reads and decodes the next batches.
        """
        total: S | None = None
        with one_blas_thread(), pass_progress(self._progress) as advance:
            for chunk, n in self._read():
                if chunk is not None:
                    part = fn(chunk)
                    total = part if total is None else total + part
                advance(n)
        if total is None:
            msg = f"No rows of {self.file.path} to pass over (all filtered out?)."
            raise DataError(msg)
        return total

    def map_rows(self, fn: Callable[[FloatArray], FloatArray], width: int) -> FloatArray:
        """``fn`` of every batch's features (all rows, no fold filter), stacked in file order.

        ``fn`` returns ``width`` values per row.
        """
        parts = [np.empty((0, width))]
        parts += [fn(X) for X, *_ in self.file.encoded_blocks()]
        return np.concatenate(parts)

    def hessian_sample(self, max_rows: int) -> ArraySource | None:
        """The rows gathered on the first pass (about ``max_rows``), or None for small data."""
        if self._sample is None or self._all_rows <= 2 * max_rows:
            return None
        if not self._sample.complete:
            for _ in self._read():
                pass
        if self._sample_source is None:
            self._sample_source = self._sample.source(self._class_weights, self.n_outputs)
        return self._sample_source
