"""Read CSV and Parquet files with pyarrow (fast, typed): whole, or streamed in batches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from logitkit.exceptions import DataError

__all__ = ["arrow_types", "count_rows", "iter_batches", "read_table"]

#: pyarrow type of each raw column type (see :mod:`logitkit.data.encoding`).
_ARROW_TYPES = {
    "float": pa.float64(),
    "int": pa.float64(),
    "bool": pa.bool_(),
    "category": pa.string(),
}


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


def _csv_options(
    kind: str, column_types: Mapping[str, pa.DataType] | None
) -> tuple[pacsv.ParseOptions, pacsv.ConvertOptions]:
    parse = pacsv.ParseOptions(delimiter="\t" if kind == "tsv" else ",")
    # Empty fields are missing values (as pandas reads them), not empty text.
    convert = pacsv.ConvertOptions(column_types=dict(column_types or {}), strings_can_be_null=True)
    return parse, convert


def read_table(
    path: str | Path, column_types: Mapping[str, pa.DataType] | None = None
) -> pd.DataFrame:
    """Read a ``.csv`` (optionally compressed) or ``.parquet`` file, or a Parquet directory.

    Parameters
    ----------
    path : str or Path
        The file.
    column_types : mapping of str to pyarrow.DataType, optional
        Types to read the named CSV columns as (see :func:`arrow_types`).

    Raises
    ------
    DataError
        If the file does not exist, has an unknown suffix, or cannot be parsed; the
        message names the file.

    Examples
    --------
    >>> import tempfile, os, pyarrow as pa
    >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = Path(path).write_text("zip,n\\n02134,1\\n,2\\n")
    >>> read_table(path, column_types={"zip": pa.string()})["zip"].tolist()
    ['02134', nan]
    """
    p = Path(path)
    kind = file_format(p)
    try:
        if kind == "parquet":
            table = pq.read_table(p)
        else:
            parse, convert = _csv_options(kind, column_types)
            table = pacsv.read_csv(p, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"Cannot read {p}: {exc}"
        raise DataError(msg) from None
    frame: pd.DataFrame = table.to_pandas()
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

    Raises
    ------
    DataError
        If the file cannot be opened or a batch cannot be parsed; the message names it.

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
    try:
        if kind == "parquet":
            for f in _parquet_files(p):
                yield from pq.ParquetFile(f).iter_batches(batch_size=batch_size)
            return
        parse, convert = _csv_options(kind, column_types)
        reader = pacsv.open_csv(p, parse_options=parse, convert_options=convert)
        for batch in reader:
            for start in range(0, batch.num_rows, batch_size):
                yield batch.slice(start, batch_size)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"Cannot read {p}: {exc}"
        raise DataError(msg) from None
