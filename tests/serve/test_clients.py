"""Real Open Inference Protocol clients, unmodified, against a live server.

Triton's HTTP client (``tritonclient.http``) sends JSON without a Content-Type and, by
default, its tensors under the binary tensor extension, asking for binary outputs; the
KServe SDK's ``InferenceRESTClient`` sends ``application/octet-stream`` bodies with
``Inference-Header-Content-Length`` (its test needs the ``kserve-client`` extra: every
kserve release pins pandas below 3). Each answer is checked against ``/v1/predict`` on
the same rows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from logitkit.serve import Settings
from tests.serve.conftest import API_KEY
from tests.serve.helpers import LiveServer, instances

MODEL = "cancer"


@pytest.fixture(scope="module")
def live(demo_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("clients") / "log.db"
    settings = Settings(
        model_path=demo_model, db_url=f"sqlite:///{db}", model_name=MODEL, api_keys=(API_KEY,)
    )
    with LiveServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
def expected(live, demo_rows):
    """The /v1 answers for the first 5 rows (the reference every client must match)."""
    names, rows = demo_rows
    answer = live.client(API_KEY).post("/v1/predict", json=instances(names, rows[:5]))
    assert answer.status_code == 200, answer.text
    return answer.json()["predictions"]


def auth() -> dict[str, str]:
    """A fresh headers dict per call: tritonclient's infer adds its binary header to the
    dict it is given."""
    return {"Authorization": f"Bearer {API_KEY}"}


def _triton(live):
    return httpclient.InferenceServerClient(url=f"127.0.0.1:{live.port}")


def test_triton_health_and_metadata(live, demo_rows):
    names, _ = demo_rows
    client = _triton(live)
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready(MODEL, headers=auth())
        meta = client.get_model_metadata(MODEL, headers=auth())
        assert meta["name"] == MODEL
        assert [i["name"] for i in meta["inputs"]] == names
    finally:
        client.close()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["FP32", "FP64"])
def test_triton_infer(live, demo_rows, expected, binary, dtype):
    _, rows = demo_rows
    X = np.asarray(rows[:5], dtype=dtype)
    datatype = "FP32" if dtype is np.float32 else "FP64"
    tensor = httpclient.InferInput("input-0", list(X.shape), datatype)
    tensor.set_data_from_numpy(X, binary_data=binary)
    client = _triton(live)
    try:
        if binary:  # the client's default: no outputs named, all asked for as bytes
            result = client.infer(MODEL, [tensor], headers=auth(), request_id="triton-1")
        else:
            outputs = [
                httpclient.InferRequestedOutput(name, binary_data=False)
                for name in ("label", "probability", "probabilities", "decision")
            ]
            result = client.infer(
                MODEL, [tensor], outputs=outputs, headers=auth(), request_id="triton-1"
            )
    finally:
        client.close()
    assert result.get_response()["id"] == "triton-1"
    probability = result.as_numpy("probability")
    reference = np.array([p["probability"] for p in expected])
    if dtype is np.float64:
        np.testing.assert_array_equal(probability, reference)
    else:  # the inputs were rounded to float32 on the client
        np.testing.assert_allclose(probability, reference, rtol=1e-4, atol=1e-6)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
    decisions = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("decision")]
    assert labels == [p["label"] for p in expected]
    assert decisions == [p["decision"] for p in expected]
    assert result.as_numpy("probabilities").shape == (5, 2)


def test_triton_reusing_an_id_with_another_body_is_not_a_conflict(live, demo_rows):
    """The v2 id labels a request; it is not an idempotency key (X-Request-ID is)."""
    _, rows = demo_rows
    client = _triton(live)
    try:
        answers = []
        for start in (0, 10):
            X = np.asarray(rows[start : start + 2], dtype=np.float64)
            tensor = httpclient.InferInput("input-0", list(X.shape), "FP64")
            tensor.set_data_from_numpy(X)
            answers.append(client.infer(MODEL, [tensor], headers=auth(), request_id="same-id"))
    finally:
        client.close()
    first, second = (a.as_numpy("probability") for a in answers)
    assert not np.array_equal(first, second)
    assert {a.get_response()["id"] for a in answers} == {"same-id"}


async def _kserve_infer(live, X: np.ndarray, datatype: str, binary_out: bool):
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
    from kserve.protocol.infer_type import RequestedOutput

    tensor = InferInput("input-0", list(X.shape), datatype)
    tensor.set_data_from_numpy(X, binary_data=True)
    outputs = [
        RequestedOutput(name, parameters={"binary_data": binary_out})
        for name in ("label", "probability", "probabilities", "decision")
    ]
    request = InferRequest(MODEL, [tensor], request_id="kserve-1", request_outputs=outputs)
    client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    try:
        return await client.infer(live.url, request, model_name=MODEL, headers=auth())
    finally:
        await client._client.aclose()


@pytest.mark.parametrize("binary_out", [True, False], ids=["binary-out", "json-out"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["FP32", "FP64"])
def test_kserve_infer_with_binary_inputs(live, demo_rows, expected, dtype, binary_out):
    pytest.importorskip("kserve", reason="the KServe SDK: pip install -e '.[kserve-client]'")
    _, rows = demo_rows
    X = np.asarray(rows[:5], dtype=dtype)
    datatype = "FP32" if dtype is np.float32 else "FP64"
    response = asyncio.run(_kserve_infer(live, X, datatype, binary_out))
    assert response.id == "kserve-1"
    outputs = {o.name: o for o in response.outputs}
    probability = np.asarray(outputs["probability"].as_numpy(), dtype=np.float64)
    reference = np.array([p["probability"] for p in expected])
    if dtype is np.float64:
        np.testing.assert_array_equal(probability, reference)
    else:
        np.testing.assert_allclose(probability, reference, rtol=1e-4, atol=1e-6)
    labels = [v.decode() if isinstance(v, bytes) else v for v in outputs["label"].as_numpy()]
    assert labels == [p["label"] for p in expected]
    assert list(outputs["probabilities"].shape) == [5, 2]


def test_an_octet_stream_body_as_kserve_sends_it(live, demo_rows, expected):
    """The KServe SDK's request, byte for byte as its ``InferRequest.to_rest`` lays it out
    (checked without the SDK, which the ``test`` extra does not install)."""
    import json

    _, rows = demo_rows
    X = np.asarray(rows[:5], dtype="<f8")
    head = {
        "id": "octet-1",
        "model_name": MODEL,
        "inputs": [
            {
                "name": "input-0",
                "shape": [5, X.shape[1]],
                "datatype": "FP64",
                "parameters": {"binary_data_size": X.nbytes},
            }
        ],
        "parameters": {"binary_data_output": True},
    }
    json_part = json.dumps(head).encode()
    headers = {
        **auth(),
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(json_part)),
    }
    answer = live.client().post(
        f"/v2/models/{MODEL}/infer", content=json_part + X.tobytes(), headers=headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    split = int(answer.headers["Inference-Header-Content-Length"])
    body = json.loads(answer.content[:split])
    assert body["id"] == "octet-1"
    sizes = {o["name"]: o["parameters"]["binary_data_size"] for o in body["outputs"]}
    assert sum(sizes.values()) == len(answer.content) - split
    at = split + sizes["label"]
    probability = np.frombuffer(answer.content[at : at + sizes["probability"]], dtype="<f8")
    np.testing.assert_array_equal(probability, [p["probability"] for p in expected])
