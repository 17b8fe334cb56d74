"""Record batches to model matrices: one-hot levels, and the error for a level never seen."""

from __future__ import annotations

import numpy as np
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
