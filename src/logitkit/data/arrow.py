"""Read CSV and Parquet files with pyarrow (fast, typed): whole, or streamed in batches.

A file is checked where it is read, so that a problem is named with its column, its
values and its line, not found later as a strange model:

* **dialect**: a ``.csv`` file's column separator (``,``, ``;``, tab or ``|``) is found from
  its first lines, and with a separator other than ``,`` a decimal comma (``1,5``); when
  those lines allow more than one reading, the error asks for ``sep`` / ``decimal``
  (``--sep`` / ``--decimal``). Given values are used as they are.
* **missing values**: pyarrow's usual tokens (an empty field, ``NA``, ``NaN``, ``null``,
  ...) and the ``na_values`` given are read as missing.
* **numbers with stray tokens**: a text column whose values are nearly all numbers (at
  least :data:`NUMERIC_SHARE` of them, or at least half when the others are only
  punctuation such as ``?`` or ``-``) and that holds at most :data:`MAX_STRAY_TOKENS`
  distinct other tokens is refused, naming the tokens, their count and the first line.
  Read as text it would become a categorical column with a ``[T.?]`` dummy; declared
  missing (``na_values=["?"]``) it reads as numbers. A column typed as a number (see
  :func:`arrow_types`) that holds text fails the same way.
* **odd files**: an empty file, a header without rows, duplicated column names, rows with
  the wrong number of fields, and a line longer than :data:`MAX_LINE_BYTES`.

The dialect and stray-token checks live in :mod:`logitkit.data._csv_checks`; this module
reads the files and names what pyarrow could not parse.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from logitkit.data._csv_checks import (
    MAX_LINE_BYTES,
    MAX_STRAY_TOKENS,
    NUMERIC_SHARE,
    CsvReading,
    check_values,
    csv_only,
    csv_reading,
    empty_file,
    flag,
    line_of,
    ragged,
    typed_stray,
)
from logitkit.exceptions import DataError

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_STRAY_TOKENS",
    "NUMERIC_SHARE",
    "arrow_types",
    "count_rows",
    "iter_batches",
    "read_table",
]

#: pyarrow type of each raw column type (see :mod:`logitkit.data.encoding`).
_ARROW_TYPES = {
    "float": pa.float64(),
    "int": pa.float64(),
    "bool": pa.bool_(),
    "category": pa.string(),
}
_CONVERSION = re.compile(r"In CSV column #(\d+): .*conversion error to (\w+)")
_FIELDS = re.compile(r"Expected (\d+) columns, got (\d+): ?(.*)", re.DOTALL)
_T = TypeVar("_T")


def arrow_types(features: Sequence[Mapping[str, Any]]) -> dict[str, pa.DataType]:
    """The pyarrow types to read a model's raw columns as (from ``model.features``).

    Reading with the model's types keeps a CSV's text codes (``"02134"``) text and its
    numbers numbers, however the first rows look.

    Examples
    --------
    >>> arrow_types([{"name": "age", "type": "int"}, {"name": "region", "type": "category"}])
    {'age': DataType(double), 'region': DataType(string)}
    """
    return {
        str(f["name"]): _ARROW_TYPES[str(f["type"])]
        for f in features
        if str(f["type"]) in _ARROW_TYPES
    }


def file_format(path: Path) -> str:
    """``"parquet"`` (a file or directory), ``"csv"`` or ``"tsv"``, from the path's suffixes."""
    if not path.exists():
        msg = f"Data file {path} does not exist."
        raise DataError(msg)
    suffixes = "".join(path.suffixes).lower()
    if path.is_dir() or suffixes.endswith((".parquet", ".pq")):
        return "parquet"
    if ".tsv" in suffixes:
        return "tsv"
    if ".csv" in suffixes:
        return "csv"
    msg = f"Cannot tell the format of {path}: use a .csv, .tsv or .parquet file (or directory)."
    raise DataError(msg)


def _na_tokens(na_values: str | Sequence[str] | None) -> tuple[str, ...]:
    if na_values is None:
        return ()
    if isinstance(na_values, str):
        return (na_values,)
    return tuple(str(v) for v in na_values)


# ----------------------------------------------------------- tables and pyarrow's errors
def _check_table(p: Path, names: Sequence[str], n_rows: int | None) -> None:
    """Refuse duplicated column names and a table without rows."""
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        where = "; ".join(
            f"{d!r} (columns {', '.join(str(i + 1) for i, n in enumerate(names) if n == d)})"
            for d in dupes
        )
        msg = (
            f"{p} has duplicated column names: {where}. Give each column its own name "
            "in the header line."
        )
        raise DataError(msg, column=dupes[0], count=len(dupes))
    if n_rows == 0:
        msg = (
            f"{p} has column names ({', '.join(list(names)[:5])}"
            f"{', ...' if len(names) > 5 else ''}) but no rows. Check that you named the "
            "right file and that it was written fully."
        )
        raise DataError(msg)


def _long_line(p: Path) -> DataError:
    msg = (
        f"{p} has a line longer than {MAX_LINE_BYTES >> 20} MiB, the longest a row may be: "
        "check that the file has a line break after each row (not one long line) and no "
        'unclosed quote (").'
    )
    return DataError(msg)


def _csv_error(reading: CsvReading, exc: Exception) -> DataError:
    """pyarrow's error on a CSV file as a message naming the file, the place and the fix."""
    p, text = reading.path, str(exc)
    if "Empty CSV file" in text:
        return empty_file(p)
    if "straddling" in text or "straddles" in text:
        return _long_line(p)
    conversion = _CONVERSION.search(text)
    if conversion is not None and int(conversion[1]) < len(reading.header):
        name = reading.header[int(conversion[1])]
        found = typed_stray(reading, name, conversion[2])
        if found is not None:
            return found.error(p, line_of(reading, found.row))
    fields = _FIELDS.search(text)
    if fields is not None:
        first = ragged(reading)
        where = f"Line {first[0]}" if first is not None else "A line"
        msg = (
            f"{where} of {p} has {fields[2]} fields where the header has {fields[1]} "
            f"({fields[3].strip()[:60]!r}): check its quoting, and the column separator "
            f"(read as {flag(reading.sep)}; name another with --sep, Python sep=...)."
        )
        return DataError(msg, row=None if first is None else first[1])
    msg = f"Cannot read {p}: {' '.join(text.split())}"
    return DataError(msg)


def _grow(read: Callable[[int | None], _T]) -> _T:
    """``read()``, again with the largest block when a line does not fit pyarrow's."""
    try:
        return read(None)
    except pa.ArrowInvalid as exc:
        if "straddl" not in str(exc):
            raise
    return read(MAX_LINE_BYTES)


def _null_tokens(table: Any, tokens: tuple[str, ...], *, numbers: bool = False) -> Any:
    """Parquet text columns with the ``na_values`` tokens as missing.

    With ``numbers``, a column that held such tokens and otherwise only numbers becomes
    a number column, as a CSV column does.
    """
    if not tokens:
        return table
    value_set = pa.array(tokens, type=pa.string())
    for i, raw in enumerate(table.columns):
        if not (pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type)):
            continue
        hit = pc.is_in(raw, value_set=value_set)
        if not pc.any(hit).as_py():
            continue
        column = pc.if_else(hit, pa.scalar(None, raw.type), raw)
        # Text after all when the cast fails: the stray-token check judges it.
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if numbers:
                column = pc.cast(pc.utf8_trim_whitespace(column), pa.float64())
        table = table.set_column(i, pa.field(table.field(i).name, column.type), column)
    return table


# ----------------------------------------------------------------------------- reading
def read_table(
    path: str | Path,
    column_types: Mapping[str, pa.DataType] | None = None,
    *,
    na_values: str | Sequence[str] | None = None,
    sep: str | None = None,
    decimal: str | None = None,
) -> pd.DataFrame:
    """Read a ``.csv`` / ``.tsv`` (optionally compressed) or ``.parquet`` file, or a directory.

    Parameters
    ----------
    path : str or Path
        The file.
    column_types : mapping of str to pyarrow.DataType, optional
        Types to read the named CSV columns as (see :func:`arrow_types`).
    na_values : str or sequence of str, optional
        Tokens read as missing values, besides pyarrow's (an empty field, ``NA``, ``NaN``,
        ``null``, ...): ``["?", "n/k"]``. In Parquet files they apply to text columns.
    sep : str, optional
        A CSV file's column separator (default: found from its first lines).
    decimal : {".", ","}, optional
        A CSV file's decimal mark (default: ``","`` when a file not separated by commas
        writes numbers as ``1,5``).

    Raises
    ------
    DataError
        If the file does not exist, has an unknown suffix, is empty, has no rows, has
        duplicated column names, rows of the wrong width, a line longer than
        :data:`MAX_LINE_BYTES`, a separator or decimal mark that cannot be told, or a
        numeric column with stray tokens (see the module's rule). The message names the
        file, the column, the values and the line, and the fix.

    Examples
    --------
    >>> import tempfile, os, pyarrow as pa
    >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = Path(path).write_text("zip,n\\n02134,1\\n,2\\n")
    >>> read_table(path, column_types={"zip": pa.string()})["zip"].tolist()
    ['02134', nan]
    >>> _ = Path(path).write_text("age;weight\\n41;70,5\\n?;82\\n")
    >>> read_table(path, na_values=["?"])["weight"].tolist()
    [70.5, 82.0]
    """
    p = Path(path)
    kind = file_format(p)
    tokens = _na_tokens(na_values)
    declared = dict(column_types or {})
    converted: list[str] = []
    if kind == "parquet":
        csv_only(p, sep, decimal)
        try:
            raw = pq.read_table(p)
            table = _null_tokens(raw, tokens, numbers=True)
            converted = [
                f.name for f, r in zip(table.schema, raw.schema, strict=True) if f.type != r.type
            ]
        except (pa.ArrowInvalid, OSError) as exc:
            msg = f"Cannot read {p}: {' '.join(str(exc).split())}"
            raise DataError(msg) from None
        _check_table(p, table.column_names, table.num_rows)
        found = check_values(table, declared, ".")
        if found is not None:
            raise found.error(p, None)
    else:
        reading = csv_reading(p, kind, sep=sep, decimal=decimal, na_values=tokens, types=declared)
        try:
            table = _grow(lambda block: pacsv.read_csv(p, **reading.options(block)))
        except (pa.ArrowInvalid, OSError) as exc:
            raise _csv_error(reading, exc) from None
        _check_table(p, table.column_names, table.num_rows)
        found = check_values(table, declared, reading.decimal)
        if found is not None:
            raise found.error(p, line_of(reading, found.row))
    frame: pd.DataFrame = table.to_pandas()
    # A pandas-written file's metadata would restore a converted column's text dtype.
    for name in converted:
        frame[name] = table.column(name).to_numpy(zero_copy_only=False)
    return frame


def count_rows(path: str | Path) -> int | None:
    """Rows of a Parquet file from its metadata (None for CSV: that would need a pass).

    Examples
    --------
    >>> import tempfile, os, pyarrow as pa, pyarrow.parquet as pq
    >>> path = os.path.join(tempfile.mkdtemp(), "d.parquet")
    >>> pq.write_table(pa.table({"a": [1, 2, 3]}), path)
    >>> count_rows(path)
    3
    """
    p = Path(path)
    if file_format(p) != "parquet":
        return None
    try:
        return sum(int(pq.ParquetFile(f).metadata.num_rows) for f in _parquet_files(p))
    except (pa.ArrowInvalid, OSError):
        return None


def _parquet_files(p: Path) -> list[str | Path]:
    return list(pq.ParquetDataset(p).files) if p.is_dir() else [p]


def iter_batches(
    path: str | Path,
    *,
    batch_size: int = 65_536,
    column_types: Mapping[str, pa.DataType] | None = None,
    na_values: str | Sequence[str] | None = None,
    sep: str | None = None,
    decimal: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream a CSV or Parquet file as record batches of at most ``batch_size`` rows, in order.

    Only one batch is in memory at a time, so files larger than memory can be scored.

    Parameters
    ----------
    path : str or Path
        The file (or a Parquet directory).
    batch_size : int
        Largest number of rows per batch.
    column_types : mapping of str to pyarrow.DataType, optional
        Types to read the named CSV columns as (otherwise a CSV's types are inferred
        from its first block, and a later block that disagrees fails).
    na_values, sep, decimal
        As for :func:`read_table`.

    Raises
    ------
    DataError
        If the file cannot be opened, has no rows or duplicated column names, or a batch
        cannot be parsed (a typed column holding other values is named with its values
        and first line); the message names the file.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = Path(path).write_text("a,b\\n1,x\\n2,y\\n3,z\\n")
    >>> [b.num_rows for b in iter_batches(path, batch_size=2)]
    [2, 1]
    """
    p = Path(path)
    kind = file_format(p)
    tokens = _na_tokens(na_values)
    rows = 0
    if kind == "parquet":
        csv_only(p, sep, decimal)
        names: list[str] = []
        try:
            for f in _parquet_files(p):
                names = pq.ParquetFile(f).schema_arrow.names
                _check_table(p, names, None)
                for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_size):
                    rows += batch.num_rows
                    yield _null_tokens(batch, tokens)
        except (pa.ArrowInvalid, OSError) as exc:
            msg = f"Cannot read {p}: {' '.join(str(exc).split())}"
            raise DataError(msg) from None
        _check_table(p, names, rows)
        return
    reading = csv_reading(p, kind, sep=sep, decimal=decimal, na_values=tokens, types=column_types)
    try:
        # A line longer than pyarrow's block fails at opening (the first block), where it
        # is safe to open again; later blocks are read with the size that opened.
        reader = _grow(lambda block: pacsv.open_csv(p, **reading.options(block)))
        _check_table(p, reader.schema.names, None)
        for batch in reader:
            for start in range(0, batch.num_rows, batch_size):
                rows += min(batch_size, batch.num_rows - start)
                yield batch.slice(start, batch_size)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _csv_error(reading, exc) from None
    _check_table(p, reading.header, rows)
