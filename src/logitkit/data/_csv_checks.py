"""How a CSV file is written, and values that are not of their column's type.

The checks behind :mod:`logitkit.data.arrow`'s readers, in two parts:

* **dialect**: the column separator and decimal mark of a CSV file, given or found from
  its first lines (:func:`csv_reading`), and the pyarrow options that read it so.
* **stray tokens**: the non-numeric (or non-boolean) tokens of a text column that is
  nearly all numbers (:func:`check_values`) or of a column read as numbers
  (:func:`typed_stray`), the file line of the first one (:func:`line_of`), and the
  error that names the column, the tokens, their count, the line and the fix
  (:meth:`Stray.error`).

Lines are read again with the :mod:`csv` module only to sample a file and on the way to
an error; pyarrow reads the rows.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from logitkit.exceptions import DataError

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_STRAY_TOKENS",
    "NUMERIC_SHARE",
    "CsvReading",
    "Stray",
    "check_values",
    "csv_only",
    "csv_reading",
    "empty_file",
    "flag",
    "line_of",
    "ragged",
    "typed_stray",
]

#: Share of a text column's values that must be numbers for it to count as numeric.
NUMERIC_SHARE = 0.9
#: Most distinct non-numeric tokens a numeric column may hold to be refused (more: text).
MAX_STRAY_TOKENS = 10
#: Longest line read (pyarrow reads in blocks; a row must fit in one), also by the csv
#: module here; :mod:`logitkit.data.arrow` exports it.
MAX_LINE_BYTES = 64 << 20
#: pyarrow's own missing-value tokens, kept when more are given.
_NULL_TOKENS: tuple[str, ...] = tuple(pacsv.ConvertOptions().null_values)
_TRUE = ("1", "True", "TRUE", "true")
_FALSE = ("0", "False", "FALSE", "false")
_SEPARATORS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 1 << 20
_SAMPLE_ROWS = 200
_SHOWN = 5
_TOKEN_CHARS = 30
_QUICK = 10_000
_DOT_NUMBER = re.compile(r"^[+-]?\d*\.\d+$")
_COMMA_NUMBER = re.compile(r"^[+-]?\d*,\d+$")


def flag(value: str) -> str:
    """A separator or token quoted as typed after a command-line option."""
    if value == "\t":
        return "'\\t'"
    return shlex.quote(value) if "'" in value else f"'{value}'"


# ----------------------------------------------------------------------------- dialect
def _sample(p: Path) -> tuple[str, bool]:
    """The first lines of a (possibly compressed) text file, decoded, and whether the
    file goes on (then the last row may be cut off, even inside a quoted field)."""
    try:
        with pa.input_stream(str(p), compression="detect") as stream:
            raw: bytes = stream.read(_SAMPLE_BYTES)
    except (pa.ArrowInvalid, OSError) as exc:
        msg = f"Cannot read {p}: {exc}"
        raise DataError(msg) from None
    cut = len(raw) == _SAMPLE_BYTES
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff"), cut


@contextlib.contextmanager
def _long_fields() -> Iterator[None]:
    """Let the csv module read fields as long as pyarrow does (its limit is global)."""
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, MAX_LINE_BYTES))
    try:
        yield
    finally:
        csv.field_size_limit(limit)


def _records(text: str, sep: str, cut: bool = False) -> list[list[str]]:
    """The sample's first rows (the last one left out when it may be cut off)."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    with _long_fields():
        try:
            records = [r for _, r in zip(range(_SAMPLE_ROWS + 1), filter(None, rows), strict=False)]
        except csv.Error:
            return []
    complete = len(records) > _SAMPLE_ROWS or not cut
    return records[:_SAMPLE_ROWS] if complete or len(records) < 2 else records[:-1]


def _sniff_sep(p: Path, text: str, cut: bool) -> str:
    """The one separator that splits the header in two or more fields and every sampled
    row in as many; ``,`` when none does."""
    fits = []
    for sep in _SEPARATORS:
        rows = _records(text, sep, cut)
        if rows and len(rows[0]) > 1 and all(len(r) == len(rows[0]) for r in rows[1:]):
            fits.append(sep)
    if len(fits) > 1:
        shown = " and ".join(repr(s) for s in fits)
        flags = " or ".join(f"--sep {flag(s)}" for s in fits)
        msg = (
            f"Cannot tell the column separator of {p}: {shown} each split its first lines "
            f"into columns. Name it: {flags} (Python: read_table(..., sep={fits[0]!r}))."
        )
        raise DataError(msg)
    return fits[0] if fits else ","


def _sniff_decimal(p: Path, text: str, cut: bool, sep: str) -> str:
    """``","`` when the sampled fields hold numbers with a decimal comma and none with a
    decimal point; ``"."`` otherwise."""
    fields = [f.strip() for row in _records(text, sep, cut)[1:] for f in row]
    commas = [f for f in fields if _COMMA_NUMBER.match(f)]
    if not commas:
        return "."
    dots = [f for f in fields if _DOT_NUMBER.match(f)]
    if dots:
        msg = (
            f"Cannot tell the decimal mark of {p}: it holds numbers such as {commas[0]!r} "
            f"and {dots[0]!r}. Name it: --decimal ',' or --decimal '.' (Python: "
            "read_table(..., decimal=','))."
        )
        raise DataError(msg)
    return ","


@dataclass(frozen=True)
class CsvReading:
    """How to read one CSV file: the dialect, the missing tokens and the declared types."""

    path: Path
    sep: str
    decimal: str
    na_values: tuple[str, ...]
    types: dict[str, pa.DataType] = field(default_factory=dict)
    header: tuple[str, ...] = ()

    def options(self, block_size: int | None = None, only: str | None = None) -> dict[str, Any]:
        """pyarrow's read, parse and convert options (``only``: that column, as text)."""
        read = (
            pacsv.ReadOptions() if block_size is None else pacsv.ReadOptions(block_size=block_size)
        )
        types = dict(self.types) if only is None else {only: pa.string()}
        convert = pacsv.ConvertOptions(
            column_types=types,
            # Empty fields are missing values (as pandas reads them), not empty text.
            strings_can_be_null=True,
            null_values=list(dict.fromkeys((*_NULL_TOKENS, *self.na_values))),
            decimal_point=self.decimal,
            include_columns=[only] if only is not None else [],
        )
        return {
            "read_options": read,
            "parse_options": pacsv.ParseOptions(delimiter=self.sep),
            "convert_options": convert,
        }


def csv_reading(
    p: Path,
    kind: str,
    *,
    sep: str | None,
    decimal: str | None,
    na_values: tuple[str, ...],
    types: Mapping[str, pa.DataType] | None,
) -> CsvReading:
    """How to read the CSV file ``p``: the given ``sep`` / ``decimal``, else found.

    ``kind`` is :func:`~logitkit.data.arrow.file_format`'s (a ``"tsv"`` file is split
    by tabs); the header is read from the file's first lines.
    """
    if sep is not None and len(sep) != 1:
        msg = f"The column separator must be one character; got {sep!r} (--sep ';', sep=';')."
        raise DataError(msg)
    if decimal is not None and decimal not in (".", ","):
        msg = f"The decimal mark must be '.' or ','; got {decimal!r} (--decimal ',')."
        raise DataError(msg)
    text, cut = _sample(p)
    if not text.strip():
        raise empty_file(p)
    if sep is None:
        sep = "\t" if kind == "tsv" else _sniff_sep(p, text, cut)
    if decimal is None:
        decimal = "." if sep == "," else _sniff_decimal(p, text, cut, sep)
    if decimal == sep:
        msg = (
            f"The decimal mark {decimal!r} cannot also be the column separator of {p}; "
            "name the separator: --sep ';' (Python: read_table(..., sep=';'))."
        )
        raise DataError(msg)
    rows = _records(text, sep)
    return CsvReading(p, sep, decimal, na_values, dict(types or {}), tuple(rows[0]) if rows else ())


def empty_file(p: Path) -> DataError:
    """The error for a CSV file without even a header line."""
    msg = (
        f"{p} is empty: a CSV file needs a header line of column names and one line "
        "per row. Check that you named the right file and that it was written fully."
    )
    return DataError(msg)


def csv_only(p: Path, sep: str | None, decimal: str | None) -> None:
    """Refuse a CSV dialect for a Parquet file (where it would silently do nothing)."""
    given = [f"--{k} ({k}=)" for k, v in (("sep", sep), ("decimal", decimal)) if v is not None]
    if given:
        msg = (
            f"{' and '.join(given)} applies to CSV files, but {p} is Parquet, whose "
            "columns are typed already; leave it out."
        )
        raise DataError(msg)


# ---------------------------------------------------------------------- stray tokens
def _numbers(values: list[str], decimal: str) -> NDArray[np.bool_]:
    """Which of the text values parse as numbers under the decimal mark."""
    text = pd.Series(values, dtype=object).astype(str).str.strip()
    if decimal != ".":
        text = text.where(~text.str.contains(".", regex=False), "x")
        text = text.str.replace(decimal, ".", regex=False)
    return np.asarray(pd.to_numeric(text, errors="coerce").notna().to_numpy(), dtype=bool)


def _booleans(values: list[str], _decimal: str) -> NDArray[np.bool_]:
    """Which of the text values pyarrow reads as booleans."""
    return np.array([v.strip() in (*_TRUE, *_FALSE) for v in values], dtype=bool)


@dataclass(frozen=True)
class Stray:
    """The tokens of a column that are not of its type: most frequent first."""

    column: str
    type: str
    tokens: list[str]
    count: int
    row: int

    def error(self, p: Path, line: int | None) -> DataError:
        shown = ", ".join(repr(_short(t)) for t in self.tokens[:_SHOWN])
        if len(self.tokens) > _SHOWN:
            shown += f" and {len(self.tokens) - _SHOWN} more"
        where = f"line {line}" if line is not None else f"row {self.row} (from 0)"
        missing = [t for t in self.tokens[:_SHOWN] if t == _short(t)]
        fix = "fix those values in the file"
        if missing:
            flags = " ".join(f"--na-values {flag(t)}" for t in missing)
            fix = (
                f"if they mean missing, declare them: {flags} (Python: read_table(..., "
                f"na_values={missing!r})); otherwise {fix}"
            )
        msg = (
            f"Column '{self.column}' of {p} is {self.type} but holds {self.count} other "
            f"value(s): {shown} (first at {where}). {fix[0].upper()}{fix[1:]}."
        )
        return DataError(msg, column=self.column, row=self.row, count=self.count)


def _short(token: str) -> str:
    return token if len(token) <= _TOKEN_CHARS else token[: _TOKEN_CHARS - 3] + "..."


def _looks_like(column: pa.ChunkedArray | pa.Array, kind: str, decimal: str) -> bool:
    """Whether most of the column's first values are of ``kind`` (a quick look that spares
    counting every value of a text column)."""
    head = pc.value_counts(pc.drop_null(column.slice(0, _QUICK)))
    if len(head) == 0:
        return False
    parse = _booleans if kind == "bool" else _numbers
    ns = head.field("counts").to_numpy()
    return bool(ns[parse(head.field("values").to_pylist(), decimal)].sum() * 2 >= ns.sum())


def _stray(
    name: str,
    column: pa.ChunkedArray | pa.Array,
    decimal: str,
    *,
    kinds: tuple[str, ...] = ("number", "bool"),
    strict: bool = False,
) -> Stray | None:
    """A text column's tokens that are not numbers (or booleans, for ``"bool"``).

    Unless ``strict`` (a column typed as one of ``kinds``), the column must look like
    one (see the module's rule); ``strict``, any other token counts.
    """
    kinds = kinds if strict else tuple(k for k in kinds if _looks_like(column, k, decimal))
    if not kinds:
        return None
    counts = pc.value_counts(pc.drop_null(column))
    values, ns = counts.field("values").to_pylist(), counts.field("counts").to_numpy()
    for kind in kinds:
        ok = (_booleans if kind == "bool" else _numbers)(values, decimal)
        if ok.all():
            return None
        bad = [v for v, good in zip(values, ok, strict=True) if not good]
        n_good, n_bad = int(ns[ok].sum()), int(ns[~ok].sum())
        share = n_good / (n_good + n_bad)
        marks = all(not any(ch.isalnum() for ch in t) for t in bad)
        numeric = share >= NUMERIC_SHARE or (marks and share >= 0.5)
        if not strict and (not numeric or len(bad) > MAX_STRAY_TOKENS):
            continue
        tokens = [bad[i] for i in np.argsort(-ns[~ok], kind="stable")]
        mask = pc.is_in(column, value_set=pa.array(tokens, type=pa.string()))
        row = int(np.flatnonzero(np.asarray(mask.to_numpy(zero_copy_only=False)))[0])
        what = "boolean (true/false)" if kind == "bool" else "numeric"
        return Stray(name, what, tokens, n_bad, row)
    return None


def _lines(reading: CsvReading) -> Iterator[tuple[int, list[str]]]:
    """Each data row with the 1-based file line it starts on, as pyarrow reads the rows.

    Quoted fields may span lines and empty lines are skipped, so lines are counted, not
    computed; this runs only on the way to an error.
    """
    with _long_fields(), pa.input_stream(str(reading.path), compression="detect") as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        rows = csv.reader(text, delimiter=reading.sep)
        end = 0
        for record in rows:
            start, end = end + 1, rows.line_num
            if record:
                yield start, record


def line_of(reading: CsvReading, row: int) -> int | None:
    """The file line on which data row ``row`` (0-based) starts; None if unknown."""
    try:
        for i, (line, _) in enumerate(_lines(reading)):
            if i == row + 1:  # the header comes first
                return line
    except (pa.ArrowInvalid, OSError, csv.Error):
        return None
    return None


def ragged(reading: CsvReading) -> tuple[int, int] | None:
    """The line and data row (0-based) of the first row whose width is not the header's."""
    try:
        width = None
        for i, (line, record) in enumerate(_lines(reading)):
            if width is None:
                width = len(record)
            elif len(record) != width:
                return line, i - 1
    except (pa.ArrowInvalid, OSError, csv.Error):
        return None
    return None


def check_values(
    table: pa.Table, declared: Mapping[str, pa.DataType], decimal: str
) -> Stray | None:
    """The first undeclared text column that is numbers (or booleans) with stray tokens."""
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in declared or not (
            pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        ):
            continue
        found = _stray(name, column, decimal)
        if found is not None:
            return found
    return None


def typed_stray(reading: CsvReading, name: str, target: str) -> Stray | None:
    """The values of a column read as a number or boolean that are not one.

    The type was declared, or inferred by pyarrow from the file's first block.
    """
    try:
        table = pacsv.read_csv(reading.path, **reading.options(MAX_LINE_BYTES, only=name))
    except (pa.ArrowInvalid, OSError):
        return None
    kind = "bool" if target == "bool" else "number"
    found = _stray(name, table.column(0), reading.decimal, kinds=(kind,), strict=True)
    if found is not None and name not in reading.types:
        found = replace(found, type=f"{found.type} in its first rows")
    return found
