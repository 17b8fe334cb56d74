"""Record batches to model matrices: one-hot levels, the error for a level never seen,
and the reading threads."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from logitkit.data._batches import BatchLayout
from logitkit.data.encoding import ColumnSpec
from logitkit.exceptions import DataError

LEVELS = ("a", "b", "c")


def _layout() -> BatchLayout:
    specs = (ColumnSpec("x", "float"), ColumnSpec("g", "category", LEVELS))
    return BatchLayout(specs, "y", None, pa.array([0, 1]), "data.parquet")


def _batch(g: pa.Array) -> pa.RecordBatch:
    n = len(g)
    x = pa.array(np.arange(n, dtype=np.float64))
    return pa.record_batch([x, g, pa.array(np.arange(n) % 2)], names=["x", "g", "y"])


def _expected(values: list[str]) -> np.ndarray:
    codes = np.array([LEVELS.index(v) for v in values])
    out = np.zeros((len(values), 3))
    out[:, 0] = np.arange(len(values))
    out[:, 1] = codes == 1
    out[:, 2] = codes == 2
    return out


@pytest.mark.parametrize("dictionary", [False, True])
def test_levels_one_hot_against_the_reference_level(dictionary):
    values = ["b", "a", "c", "c", "b", "a"]
    g = pa.array(values)
    if dictionary:  # Parquet's dictionary columns, entries in another order than the levels
        g = pa.DictionaryArray.from_arrays(
            pa.array([0, 1, 2, 2, 0, 1], type=pa.int8()), pa.array(["b", "a", "c"])
        )
    X, codes, weights = _layout().encode(_batch(g), 0)
    np.testing.assert_array_equal(X, _expected(values))
    np.testing.assert_array_equal(codes, [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(weights, 1.0)


def test_an_unused_dictionary_entry_is_not_an_error():
    g = pa.DictionaryArray.from_arrays(
        pa.array([1, 1, 2], type=pa.int8()), pa.array(["z", "a", "c"])
    )
    X, _, _ = _layout().encode(_batch(g), 0)
    np.testing.assert_array_equal(X, _expected(["a", "a", "c"]))


@pytest.mark.parametrize("dictionary", [False, True])
def test_an_unseen_level_names_its_column_value_and_row(dictionary):
    g = pa.array(["a", "b", "zz", "c"])
    if dictionary:
        g = g.dictionary_encode()
    with pytest.raises(
        DataError, match=r"Column 'g' of data.parquet has level 'zz' at row 102"
    ) as err:
        _layout().encode(_batch(g), 100)
    assert err.value.row == 102


def test_abandoned_passes_hold_up_neither_later_passes_nor_exit(tmp_path):
    """A pass whose consumer raised while its frame is kept alive (a traceback held, as
    a test runner holds it) is never closed: its reading thread must not block the next
    passes, nor the interpreter's exit."""
    path = tmp_path / "rows.parquet"
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    pd.DataFrame({"x": x, "y": (x + rng.normal(size=5000) > 0).astype(int)}).to_parquet(path)
    code = f"""
import sys
from logitkit import LogisticModel
from logitkit.data.stream import FileSource
kept = []
for _ in range(6):  # more passes than the reading threads first started
    try:
        for block in FileSource({str(path)!r}, "y", batch_rows=100).encoded_blocks():
            raise RuntimeError("stop")
    except RuntimeError:
        kept.append(sys.exc_info())  # the frames, and the passes, stay alive
model = LogisticModel().fit(FileSource({str(path)!r}, "y", batch_rows=100))
print(round(float(model.coef_[0, 0]), 3))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], timeout=120, check=True, capture_output=True, text=True
    )
    assert float(done.stdout.strip()) > 0.5
