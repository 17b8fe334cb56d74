"""The Open Inference Protocol (v2) endpoints, as KServe and Seldon tooling call them."""

from __future__ import annotations

from pathlib import Path

import pytest

from logitkit.serve import Settings
from tests.serve.helpers import LiveServer, instances


@pytest.fixture(scope="module")
def live(demo_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("v2") / "log.db"
    with LiveServer(
        Settings(model_path=demo_model, db_url=f"sqlite:///{db}", model_name="cancer")
    ) as server:
        yield server


def test_health_and_metadata(live, demo_rows):
    names, _ = demo_rows
    client = live.client()
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["name"] == "logitkit"
    meta = client.get("/v2/models/cancer").json()
    version = live.runtime.predictor.version
    assert meta["versions"] == [version]
    assert [i["name"] for i in meta["inputs"]] == names
    assert {o["name"] for o in meta["outputs"]} == {
        "label",
        "probability",
        "probabilities",
        "decision",
    }
    assert client.get(f"/v2/models/cancer/versions/{version}").status_code == 200
    assert client.get("/v2/models/cancer/ready").json() == {"name": "cancer", "ready": True}
    missing = client.get("/v2/models/other")
    assert missing.status_code == 404
    assert "cancer" in missing.json()["error"]
    assert client.get("/v2/models/cancer/versions/abc").status_code == 404


def test_infer_with_one_tensor_matches_v1(live, demo_rows):
    names, rows = demo_rows
    client = live.client()
    v1 = client.post("/v1/predict", json=instances(names, rows[:4])).json()["predictions"]
    request = {
        "id": "kserve-1",
        "inputs": [
            {"name": "input-0", "shape": [4, len(names)], "datatype": "FP64", "data": rows[:4]}
        ],
    }
    answer = client.post("/v2/models/cancer/infer", json=request)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_name"] == "cancer"
    assert body["id"] == "kserve-1"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["probability"]["data"] == [p["probability"] for p in v1]
    assert outputs["label"]["data"] == [p["label"] for p in v1]
    assert outputs["label"]["datatype"] == "BYTES"
    assert outputs["decision"]["data"] == [p["decision"] for p in v1]
    assert outputs["probabilities"]["shape"] == [4, 2]
    assert outputs["probabilities"]["data"][:2] == [
        v1[0]["probabilities"]["benign"],
        v1[0]["probabilities"]["malignant"],
    ]


def test_infer_with_one_tensor_per_feature_and_chosen_outputs(live, demo_rows):
    names, rows = demo_rows
    inputs = [
        {"name": n, "shape": [3, 1], "datatype": "FP32", "data": [[r[j]] for r in rows[:3]]}
        for j, n in enumerate(names)
    ]
    answer = live.client().post(
        "/v2/models/cancer/infer", json={"inputs": inputs, "outputs": [{"name": "decision"}]}
    )
    assert answer.status_code == 200, answer.text
    assert [o["name"] for o in answer.json()["outputs"]] == ["decision"]


@pytest.mark.parametrize(
    ("tensor", "fragment"),
    [
        ({"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}, "must have shape"),
        ({"name": "x", "shape": [1, 30], "datatype": "FP64", "data": ["a"] * 30}, "holds str"),
        (
            {"name": "x", "shape": [1, 30], "datatype": "BYTES", "data": [1.0] * 30},
            "datatype BYTES",
        ),
        ({"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [1e301] * 30}, "exceeds"),
        ({"name": "x", "shape": [1, 30], "datatype": "INT64", "data": [1.5] * 30}, "holds float"),
    ],
)
def test_bad_tensors_are_400_with_an_error(live, tensor, fragment):
    answer = live.client().post("/v2/models/cancer/infer", json={"inputs": [tensor]})
    assert answer.status_code == 400
    assert fragment in answer.json()["error"]


def test_non_finite_and_malformed_requests_are_400(live):
    client = live.client()
    nan = (
        '{"inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": ['
        + ", ".join(["NaN"] * 30)
        + "]}]}"
    )
    answer = client.post(
        "/v2/models/cancer/infer", content=nan, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert "non-finite" in answer.json()["error"]
    assert client.post("/v2/models/cancer/infer", json={"inputs": []}).status_code == 400
    assert (
        client.post("/v2/models/cancer/infer", json={"inputs": [{"name": "x"}]}).status_code == 400
    )
    unknown = client.post(
        "/v2/models/cancer/infer",
        json={"inputs": [{"name": "mean radius", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
    )
    assert unknown.status_code == 400
    assert "missing features" in unknown.json()["error"]
