"""Reading files: types checked at the boundary, dialects found, odd files named with the fix."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from logitkit import DataError
from logitkit.data import arrow
from logitkit.data.arrow import iter_batches, read_table


def _write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _numbers(n=40, seed=0):
    return np.random.default_rng(seed).normal(50, 10, n).round(2)


def test_stray_token_in_numeric_column_names_column_token_count_and_line(tmp_path):
    ages = [str(a) for a in _numbers()]
    ages[3] = "?"
    ages[17] = "?"
    grades = ["A", "B", "1", "2"] * 10  # text with a few numbers: stays text
    lines = ["age,grade", *(f"{a},{g}" for a, g in zip(ages, grades, strict=True))]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        read_table(path)
    message = str(err.value)
    assert "Column 'age'" in message
    assert str(path) in message
    assert "2 other value(s): '?'" in message
    assert "(first at line 5)" in message  # the header is line 1, row 3 is line 5
    assert "--na-values '?'" in message
    assert "read_table(..., na_values=['?'])" in message
    assert "\n" not in message
    assert (err.value.column, err.value.row, err.value.count) == ("age", 3, 2)
    frame = read_table(path, na_values=["?"])
    assert frame["age"].dtype == np.float64
    assert frame["age"].isna().tolist() == [i in (3, 17) for i in range(40)]
    assert frame["grade"].tolist() == grades


def test_line_counts_quoted_line_breaks_and_blank_lines(tmp_path):
    rows = "".join(f"{i},ok\n" for i in range(2, 12))
    text = f'x,note\n1,"two\nlines"\n\n{rows}n/k,ok\n'
    with pytest.raises(DataError, match=r"'n/k' \(first at line 15\)") as err:
        read_table(_write(tmp_path, text))
    assert err.value.row == 11


def test_up_to_five_tokens_are_shown_most_frequent_first(tmp_path):
    values = [str(v) for v in _numbers(200)]
    strays = ["-", "-", "-", "?", "*", ".", "--", "n/a "]
    for i, token in enumerate(strays):
        values[10 + i] = token
    path = _write(tmp_path, "v\n" + "\n".join(values) + "\n")
    with pytest.raises(DataError, match=r"8 other value\(s\): '-', .* and 1 more") as err:
        read_table(path)
    assert err.value.count == 8
    assert err.value.row == 10


def test_mostly_text_column_is_read_as_text(tmp_path):
    values = ["1", "2", "3"] + [f"code{i}" for i in range(7)]
    frame = read_table(_write(tmp_path, "c\n" + "\n".join(values) + "\n"), na_values="-")
    assert frame["c"].tolist() == values


def test_column_typed_as_number_holding_text_names_line_and_fix(tmp_path):
    path = _write(tmp_path, "zip,age\n02134,41\n10001,?\n")
    types = {"zip": pa.string(), "age": pa.float64()}
    with pytest.raises(DataError, match=r"Column 'age' .* '\?' \(first at line 3\)") as err:
        read_table(path, column_types=types)
    assert "--na-values '?'" in str(err.value)
    assert err.value.row == 1
    frame = read_table(path, column_types=types, na_values=["?"])
    assert frame["zip"].tolist() == ["02134", "10001"]
    assert np.isnan(frame["age"][1])
    with pytest.raises(DataError, match="first at line 3"):
        list(iter_batches(path, column_types=types))
    batches = list(iter_batches(path, column_types=types, na_values=["?"]))
    assert batches[0].column("age").null_count == 1


def test_semicolon_file_with_decimal_commas_is_read_as_written(tmp_path):
    path = _write(tmp_path, "age;weight;city\n41;70,5;Lyon\n52;82,25;Metz\n")
    frame = read_table(path)
    assert list(frame.columns) == ["age", "weight", "city"]
    assert frame["weight"].tolist() == [70.5, 82.25]
    batch = next(iter_batches(path))
    assert batch.column("weight").to_pylist() == [70.5, 82.25]
    gz = tmp_path / "data.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert read_table(gz)["weight"].tolist() == [70.5, 82.25]


def test_ambiguous_dialect_asks_for_sep_or_decimal_and_explicit_options_win(tmp_path):
    path = _write(tmp_path, "a;b,c\n1;2,3\n4;5,6\n")
    with pytest.raises(DataError, match=r"column separator .* --sep ',' or --sep ';'"):
        read_table(path)
    assert list(read_table(path, sep=",").columns) == ["a;b", "c"]
    semi = read_table(path, sep=";")
    assert list(semi.columns) == ["a", "b,c"]
    assert semi["b,c"].tolist() == [2.3, 5.6]
    assert read_table(path, sep=";", decimal=".")["b,c"].tolist() == ["2,3", "5,6"]
    mixed = _write(tmp_path, "a;b\n1,5;2.5\n3,5;4.5\n", "mixed.csv")
    with pytest.raises(DataError, match=r"decimal mark .* --decimal ','"):
        read_table(mixed)
    assert read_table(mixed, decimal=",")["a"].tolist() == [1.5, 3.5]
    with pytest.raises(DataError, match="cannot also be the column separator"):
        read_table(path, sep=",", decimal=",")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", r"is empty: a CSV file needs a header line"),
        ("\n\n", r"is empty: a CSV file needs a header line"),
        ("age,income\n", r"has column names \(age, income\) but no rows"),
        ("a,b,a\n1,2,3\n", r"duplicated column names: 'a' \(columns 1, 3\)\. Give each"),
        ("a,b\n1,2\n3,4,5\n", r"Line 3 of .* has 3 fields where the header has 2"),
    ],
)
def test_odd_files_are_one_line_errors_naming_the_file(tmp_path, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=expected) as err:
        read_table(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=expected):
        list(iter_batches(path))


def test_lines_longer_than_a_block_are_read_up_to_the_limit(tmp_path, monkeypatch):
    long = "x" * (5 << 19)  # 2.5 MiB: pyarrow's 1 MiB blocks do not hold it
    path = _write(tmp_path, f"a,b\n1,{long}\n2,y\n")
    frame = read_table(path)
    assert frame["b"].str.len().tolist() == [len(long), 1]
    assert [b.num_rows for b in iter_batches(path)] == [2]
    monkeypatch.setattr(arrow, "MAX_LINE_BYTES", 1 << 20)
    with pytest.raises(DataError, match=r"line longer than 1 MiB.* a line break after each row"):
        read_table(path)
    with pytest.raises(DataError, match=r"line longer than 1 MiB"):
        list(iter_batches(path))


def test_parquet_text_columns_take_na_values(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(
        pa.table({"x": ["1.5", "2", "?", "4", "5"], "g": ["a", "b", "?", "a", "b"]}), path
    )
    with pytest.raises(DataError, match=r"Column 'x' .* '\?' \(first at row 2 \(from 0\)\)"):
        read_table(path)
    frame = read_table(path, na_values="?")
    assert frame["x"].dtype == np.float64
    assert frame["x"].isna().tolist() == [False, False, True, False, False]
    assert frame["g"].isna().tolist() == [False, False, True, False, False]
    batch = next(iter_batches(path, na_values=["?"]))
    assert batch.column("g").null_count == 1


def test_boolean_column_with_a_stray_token_is_named(tmp_path):
    flags = ["true", "false"] * 10 + ["?"]
    path = _write(tmp_path, "flag\n" + "\n".join(flags) + "\n")
    with pytest.raises(DataError, match=r"'flag' .* is boolean \(true/false\) but holds 1"):
        read_table(path)
    assert read_table(path, na_values="?")["flag"].tolist()[:2] == [True, False]


def test_csv_dialect_options_are_refused_for_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1.5]}), path)
    with pytest.raises(DataError, match=r"--sep \(sep=\) applies to CSV files, but .* is Parquet"):
        read_table(path, sep=";")
    with pytest.raises(DataError, match=r"--decimal \(decimal=\) applies to CSV files"):
        list(iter_batches(path, decimal=","))


def test_header_only_parquet_has_no_rows(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pandas(pd.DataFrame({"a": pd.Series([], dtype=float)})), path)
    with pytest.raises(DataError, match=r"has column names \(a\) but no rows"):
        read_table(path)


def test_parquet_text_of_numbers_and_na_tokens_reads_as_numbers(tmp_path):
    """As the docstring says, and as a streamed read does, even when pandas wrote the file
    (its metadata would restore the text dtype)."""
    path = tmp_path / "d.parquet"
    frame = pd.DataFrame({"age": ["41.5", "?", "30"], "g": ["a", "b", "?"], "y": [1, 0, 1]})
    frame.index = [5, 6, 7]
    frame.to_parquet(path)
    got = read_table(path, na_values=["?"])
    assert got["age"].dtype == np.float64
    assert got["age"].tolist()[::2] == [41.5, 30.0]
    assert np.isnan(got["age"].iloc[1])
    assert got["g"].isna().tolist() == [False, False, True]
    assert list(got.columns) == ["age", "g", "y"]
    assert got.index.tolist() == [5, 6, 7]
