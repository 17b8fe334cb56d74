"""Read CSV and Parquet files with pyarrow (fast, typed) into a pandas frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from logitkit.exceptions import DataError

__all__ = ["read_table"]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a ``.csv`` (optionally compressed) or ``.parquet`` file, or a Parquet directory.

    Raises
    ------
    DataError
        If the file does not exist, has an unknown suffix, or cannot be parsed; the
        message names the file.
    """
    p = Path(path)
    if not p.exists():
        msg = f"Data file {p} does not exist."
        raise DataError(msg)
    suffixes = "".join(p.suffixes).lower()
    try:
        if p.is_dir() or suffixes.endswith((".parquet", ".pq")):
            table = pq.read_table(p)
        elif ".csv" in suffixes or ".tsv" in suffixes:
            delimiter = "\t" if ".tsv" in suffixes else ","
            table = pacsv.read_csv(p, parse_options=pacsv.ParseOptions(delimiter=delimiter))
        else:
            msg = f"Cannot tell the format of {p}: use a .csv, .tsv or .parquet file."
            raise DataError(msg)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"Cannot read {p}: {exc}"
        raise DataError(msg) from None
    frame: pd.DataFrame = table.to_pandas()
    return frame
