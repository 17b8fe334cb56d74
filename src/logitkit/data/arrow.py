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
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from numpy.typing import NDArray

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
#: Share of a text column's values that must be numbers for it to count as numeric.
NUMERIC_SHARE = 0.9
#: Most distinct non-numeric tokens a numeric column may hold to be refused (more: text).
MAX_STRAY_TOKENS = 10
#: Longest line read (pyarrow reads in blocks; a row must fit in one).
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
        flags = " or ".join(f"--sep {_flag(s)}" for s in fits)
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
class _Csv:
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


def _csv(
    p: Path,
    kind: str,
    *,
    sep: str | None,
    decimal: str | None,
    na_values: tuple[str, ...],
    types: Mapping[str, pa.DataType] | None,
) -> _Csv:
    if sep is not None and len(sep) != 1:
        msg = f"The column separator must be one character; got {sep!r} (--sep ';', sep=';')."
        raise DataError(msg)
    if decimal is not None and decimal not in (".", ","):
        msg = f"The decimal mark must be '.' or ','; got {decimal!r} (--decimal ',')."
        raise DataError(msg)
    text, cut = _sample(p)
    if not text.strip():
        msg = (
            f"{p} is empty: a CSV file needs a header line of column names and one line "
            "per row. Check that you named the right file and that it was written fully."
        )
        raise DataError(msg)
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
    return _Csv(p, sep, decimal, na_values, dict(types or {}), tuple(rows[0]) if rows else ())


def _csv_only(p: Path, sep: str | None, decimal: str | None) -> None:
    """Refuse a CSV dialect for a Parquet file (where it would silently do nothing)."""
    given = [f"--{k} ({k}=)" for k, v in (("sep", sep), ("decimal", decimal)) if v is not None]
    if given:
        msg = (
            f"{' and '.join(given)} applies to CSV files, but {p} is Parquet, whose "
            "columns are typed already; leave it out."
        )
        raise DataError(msg)


def _na_tokens(na_values: str | Sequence[str] | None) -> tuple[str, ...]:
    if na_values is None:
        return ()
    if isinstance(na_values, str):
        return (na_values,)
    return tuple(str(v) for v in na_values)


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
class _Stray:
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
            flags = " ".join(f"--na-values {_flag(t)}" for t in missing)
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
) -> _Stray | None:
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
        return _Stray(name, what, tokens, n_bad, row)
    return None


def _lines(reading: _Csv) -> Iterator[tuple[int, list[str]]]:
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


def _line_of(reading: _Csv, row: int) -> int | None:
    """The file line on which data row ``row`` (0-based) starts; None if unknown."""
    try:
        for i, (line, _) in enumerate(_lines(reading)):
            if i == row + 1:  # the header comes first
                return line
    except (pa.ArrowInvalid, OSError, csv.Error):
        return None
    return None


def _ragged(reading: _Csv) -> tuple[int, int] | None:
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


def _flag(value: str) -> str:
    """A separator or token quoted as typed after a command-line option."""
    if value == "\t":
        return "'\\t'"
    return shlex.quote(value) if "'" in value else f"'{value}'"


def _check_values(
    table: pa.Table, declared: Mapping[str, pa.DataType], decimal: str
) -> _Stray | None:
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


# ------------------------------------------------------------------------ the checks
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


def _csv_error(reading: _Csv, exc: Exception) -> DataError:
    """pyarrow's error on a CSV file as a message naming the file, the place and the fix."""
    p, text = reading.path, str(exc)
    if "Empty CSV file" in text:
        msg = (
            f"{p} is empty: a CSV file needs a header line of column names and one line "
            "per row. Check that you named the right file and that it was written fully."
        )
        return DataError(msg)
    if "straddling" in text or "straddles" in text:
        return _long_line(p)
    conversion = _CONVERSION.search(text)
    if conversion is not None and int(conversion[1]) < len(reading.header):
        name = reading.header[int(conversion[1])]
        found = _typed_stray(reading, name, conversion[2])
        if found is not None:
            return found.error(p, _line_of(reading, found.row))
    fields = _FIELDS.search(text)
    if fields is not None:
        ragged = _ragged(reading)
        where = f"Line {ragged[0]}" if ragged is not None else "A line"
        msg = (
            f"{where} of {p} has {fields[2]} fields where the header has {fields[1]} "
            f"({fields[3].strip()[:60]!r}): check its quoting, and the column separator "
            f"(read as {_flag(reading.sep)}; name another with --sep, Python sep=...)."
        )
        return DataError(msg, row=None if ragged is None else ragged[1])
    msg = f"Cannot read {p}: {' '.join(text.split())}"
    return DataError(msg)


def _typed_stray(reading: _Csv, name: str, target: str) -> _Stray | None:
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
    value_set = pa.array(tokens, type=pa.string())
    for i, column in enumerate(table.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            hit = pc.is_in(column, value_set=value_set)
            table = table.set_column(
                i, table.field(i), pc.if_else(hit, pa.scalar(None, column.type), column)
            )
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
    if kind == "parquet":
        _csv_only(p, sep, decimal)
        try:
            table = _null_tokens(pq.read_table(p), tokens, numbers=True)
        except (pa.ArrowInvalid, OSError) as exc:
            msg = f"Cannot read {p}: {' '.join(str(exc).split())}"
            raise DataError(msg) from None
        _check_table(p, table.column_names, table.num_rows)
        found = _check_values(table, declared, ".")
        if found is not None:
            raise found.error(p, None)
    else:
        reading = _csv(p, kind, sep=sep, decimal=decimal, na_values=tokens, types=declared)
        try:
            table = _grow(lambda block: pacsv.read_csv(p, **reading.options(block)))
        except (pa.ArrowInvalid, OSError) as exc:
            raise _csv_error(reading, exc) from None
        _check_table(p, table.column_names, table.num_rows)
        found = _check_values(table, declared, reading.decimal)
        if found is not None:
            raise found.error(p, _line_of(reading, found.row))
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
        _csv_only(p, sep, decimal)
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
    reading = _csv(p, kind, sep=sep, decimal=decimal, na_values=tokens, types=column_types)
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
