"""The input schema: the batch fast path accepts only what the validator accepts, alike."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from logitkit.serve.predictor import load_predictor


@pytest.fixture(scope="module")
def schema(demo_model):
    return load_predictor(demo_model, name="m", max_batch=500).inputs


def _body(names, rows, **replace) -> bytes:
    items = [dict(zip(names, r, strict=True)) for r in rows]
    for key, value in replace.items():
        index, name = key.split("__")
        items[int(index)][names[int(name)] if name.isdigit() else name] = value
    return json.dumps({"instances": items}).encode()


def test_fast_path_gives_the_validators_matrix(schema, demo_rows):
    names, rows = demo_rows
    rng = np.random.default_rng(0)
    for n in (1, 7, 200, 500):
        picked = [rows[k] for k in rng.integers(0, len(rows), n)]
        picked[0] = [
            int(v) if k % 3 == 0 else v for k, v in enumerate(picked[0])
        ]  # ints are numbers
        body = _body(names, picked)
        fast = schema.fast_matrix(body)
        slow = schema.matrix(schema.parse(body))
        assert fast is not None
        np.testing.assert_array_equal(fast, slow)
    instances, X = schema.read(_body(names, rows[:200]))
    assert instances == []
    assert X.shape == (200, len(names))


@pytest.mark.parametrize(
    "change",
    [
        {"0__3": "1.5"},
        {"0__3": True},
        {"0__3": None},
        {"0__3": [1.0]},
        {"0__3": 1e301},
        {"0__3": -1e301},
        {"0__extra": 1.0},
    ],
)
def test_fast_path_leaves_bad_values_to_the_validator(schema, demo_rows, change):
    names, rows = demo_rows
    body = _body(names, rows[:30], **change)
    assert schema.fast_matrix(body) is None
    with pytest.raises(ValidationError):
        schema.parse(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [], "x": 1}',
        b'{"instances": []}',
        b"[]",
        b'{"instances": [1]}',
        b'{"instances": [{"mean radius": NaN}]}',
        b'{"instances": [{"mean radius": 1e400}]}',
        b"\xff\xfe",
    ],
)
def test_fast_path_refuses_malformed_bodies(schema, body):
    assert schema.fast_matrix(body) is None
    with pytest.raises(ValidationError):
        schema.parse(body)


def test_huge_integers_read_alike_on_both_paths(schema, demo_rows):
    names, rows = demo_rows
    body = _body(names, rows[:30], **{"0__3": 10**30, "1__3": 2**64 + 1})
    fast = schema.fast_matrix(body)
    slow = schema.matrix(schema.parse(body))
    assert fast is None or np.array_equal(fast, slow)
    assert slow[0, 3] == 1e30


def test_missing_features_and_oversized_batches(schema, demo_rows):
    names, rows = demo_rows
    items = [dict(zip(names, r, strict=True)) for r in rows[:3]]
    del items[1][names[0]]
    body = json.dumps({"instances": items}).encode()
    assert schema.fast_matrix(body) is None
    too_many = _body(names, (rows * 2)[:501])
    assert schema.fast_matrix(too_many) is None
    with pytest.raises(ValidationError):
        schema.read(too_many)


_ODD_VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**20), 10**20),
    st.sampled_from([True, False, None, "1.5", [1.0], {"x": 1.0}, 1e301, -1e301]),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fast_path_and_validator_agree_on_any_batch(schema, demo_rows, data):
    """The fast path accepts only what the validator accepts, with the same matrix."""
    names, rows = demo_rows
    n = data.draw(st.integers(1, 40))
    items = [dict(zip(names, rows[k], strict=True)) for k in range(n)]
    for _ in range(data.draw(st.integers(0, 3))):
        item = items[data.draw(st.integers(0, n - 1))]
        change = data.draw(st.sampled_from(["value", "drop", "extra"]))
        name = data.draw(st.sampled_from(names))
        if change == "value":
            item[name] = data.draw(_ODD_VALUES)
        elif change == "drop":
            item.pop(name, None)
        else:
            item[data.draw(st.text(min_size=1, max_size=8))] = 1.0
    body = json.dumps({"instances": items}).encode()
    fast = schema.fast_matrix(body)
    try:
        slow = schema.matrix(schema.parse(body))
    except ValidationError:
        assert fast is None
        return
    if fast is not None:
        np.testing.assert_array_equal(fast, slow)
    elif all(type(v) is float for item in items for v in item.values()):
        pytest.fail("the fast path refused a valid batch of floats")
