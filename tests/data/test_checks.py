"""Label spellings: one label typed several ways is refused, or merged when asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logitkit import DataError
from logitkit.data.checks import check_label_spelling


def test_labels_differing_by_case_or_spaces_are_refused_with_counts_and_fix():
    y = ["no", "yes", "no", "yes ", "yes", "Yes", "yes", "No"]
    with pytest.raises(DataError) as err:
        check_label_spelling(y, "smoker")
    message = str(err.value)
    assert message.startswith("Column 'smoker' has labels that differ only by case")
    assert "'yes' (3), 'Yes' (1), 'yes ' (1)" in message
    assert "'no' (2), 'No' (1)" in message
    assert "--normalize-labels" in message
    assert "normalize_labels=True" in message
    assert (err.value.column, err.value.row, err.value.count) == ("smoker", 3, 3)


def test_normalize_maps_each_group_to_its_most_frequent_spelling():
    y = pd.Series(["Yes", "yes ", "yes", "no", "Yes", "NO", "no", None])
    merged, mapping = check_label_spelling(y, "smoker", normalize=True)
    assert mapping == {"NO": "no", "yes": "Yes", "yes ": "Yes"}
    assert merged[:7].tolist() == ["Yes", "Yes", "Yes", "no", "Yes", "no", "no"]
    assert pd.isna(merged[7])


def test_ties_go_to_the_first_spelling_in_sorted_order():
    merged, mapping = check_label_spelling(np.array(["b", "B", "a "]), "g", normalize=True)
    assert mapping == {"b": "B"}
    assert merged.tolist() == ["B", "B", "a "]
    assert merged.dtype.kind == "U"


def test_distinct_labels_numbers_and_missing_values_pass_unchanged():
    for values in (["yes", "no", None], [1, 0, 1], np.array([True, False])):
        out, mapping = check_label_spelling(values, "y")
        assert mapping == {}
        assert list(out) == list(values)
