"""Tensors to the model matrix: the float-tensor fast path agrees with the request model."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from logitkit.serve.predictor import load_predictor
from logitkit.serve.routes.v2 import InferenceRequest
from logitkit.serve.tensors import TensorError, float_tensor_matrix, model_matrix

MAX_ROWS = 300


@pytest.fixture(scope="module")
def model(demo_model):
    return load_predictor(demo_model, name="m", max_batch=MAX_ROWS)


def _body(data: Any, shape: list[Any], datatype: str = "FP64", **fields: Any) -> bytes:
    tensor = {"name": "input", "shape": shape, "datatype": datatype, "data": data, **fields}
    return json.dumps({"id": "req-1", "inputs": [tensor]}).encode()


def _slow(model, body: bytes) -> np.ndarray | None:
    """The matrix through the request model and the checks, or None where they refuse."""
    try:
        request = InferenceRequest.model_validate_json(body)
        X, _ = model_matrix(model, request.inputs)
    except (ValidationError, TensorError):
        return None
    return X if X.shape[0] <= MAX_ROWS else None


@pytest.mark.parametrize("layout", ["flat", "rows"])
@pytest.mark.parametrize("n", [1, 7, 300])
def test_fast_path_gives_the_request_models_matrix(model, demo_rows, layout, n):
    _, rows = demo_rows
    picked = [list(r) for r in rows[:n]]
    picked[0][3] = int(picked[0][3])  # integers are numbers of an FP64 tensor
    data = [v for r in picked for v in r] if layout == "flat" else picked
    body = _body(data, [n, len(picked[0])])
    fast = float_tensor_matrix(model, body, MAX_ROWS)
    assert fast is not None
    request, X = fast
    assert request.id == "req-1"
    np.testing.assert_array_equal(X, _slow(model, body))


def test_a_one_dimensional_shape_is_one_row(model, demo_rows):
    _, rows = demo_rows
    body = _body(rows[0], [len(rows[0])])
    fast = float_tensor_matrix(model, body, MAX_ROWS)
    assert fast is not None
    np.testing.assert_array_equal(fast[1], _slow(model, body))


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({"datatype": "INT64"}, False),  # floats in an integer tensor
        ({"value": True}, False),
        ({"value": "1.5"}, False),
        ({"value": None}, False),
        ({"value": 1e301}, False),  # beyond the feature's bound
        ({"value": [1.0]}, True),  # nested deeper: the request model flattens it
        ({"shape": [2, 30]}, False),  # the values do not fill the shape
        ({"shape": [1, 29]}, False),
        ({"shape": ["1", 30]}, True),  # the request model takes "1" for 1; left to it
        ({"name": "mean radius"}, False),  # one tensor named after a feature
        ({"rows": MAX_ROWS + 1}, False),
    ],
)
def test_fast_path_leaves_other_bodies_to_the_request_model(model, demo_rows, change, valid):
    _, rows = demo_rows
    n = change.get("rows", 1)
    data = [list(rows[k % len(rows)]) for k in range(n)]
    if "value" in change:
        data[0][5] = change["value"]
    tensor = {"name": change.get("name", "input"), "shape": change.get("shape", [n, 30])}
    tensor |= {"datatype": change.get("datatype", "FP64"), "data": data}
    body = json.dumps({"inputs": [tensor]}).encode()
    assert float_tensor_matrix(model, body, MAX_ROWS) is None
    assert (_slow(model, body) is not None) == valid


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": []}',
        b'{"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": [NaN]}]}',
        b'{"inputs": [{"name": "input", "shape": [1, 1], "datatype": "FP64", "data": [1e400]}]}',
        b'{"inputs": [{"name": "", "shape": [1, 30], "datatype": "FP64", "data": []}]}',
        b"\xff\xfe",
        b"[]",
    ],
)
def test_fast_path_refuses_malformed_bodies(model, body):
    assert float_tensor_matrix(model, body, MAX_ROWS) is None
    assert _slow(model, body) is None


_ODD_VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**20), 10**20),
    st.sampled_from([True, False, None, "1.5", [1.0], {"x": 1.0}, 1e301, -1e301, 10**30]),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_fast_path_and_request_model_agree_on_any_tensor(model, demo_rows, data):
    """The fast path accepts only what the request model accepts, with the same matrix."""
    _, rows = demo_rows
    n = data.draw(st.integers(1, 12))
    picked = [list(rows[k]) for k in range(n)]
    for _ in range(data.draw(st.integers(0, 3))):
        picked[data.draw(st.integers(0, n - 1))][data.draw(st.integers(0, 29))] = data.draw(
            _ODD_VALUES
        )
    values: list[Any] = picked
    if data.draw(st.booleans()):
        values = [v for r in picked for v in r]
    if data.draw(st.integers(0, 4)) == 0:
        values = values[: data.draw(st.integers(0, len(values)))]  # cut short
    shape = data.draw(st.sampled_from([[n, 30]] * 4 + [[n * 30], [n, 29], [30]]))
    datatype = data.draw(st.sampled_from(["FP64"] * 3 + ["FP32", "INT64", "BYTES"]))
    body = _body(values, shape, datatype)
    fast = float_tensor_matrix(model, body, MAX_ROWS)
    slow = _slow(model, body)
    if slow is None:
        assert fast is None
        return
    if fast is not None:
        np.testing.assert_array_equal(fast[1], slow)
    elif datatype.startswith("FP") and all(type(v) is float for r in picked for v in r):
        pytest.fail("the fast path refused a valid tensor of floats")
