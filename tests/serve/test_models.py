"""Models other than the demo: categorical inputs with imputation, multiclass, no policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import logitkit
from logitkit.data.encoding import TableEncoder
from logitkit.decision import MulticlassPolicy, ThresholdPolicy
from logitkit.serve import Settings
from tests.serve.helpers import LiveServer


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n).round(1),
            "region": rng.choice(["east", "north", "south"], n),
            "smoker": rng.random(n) < 0.3,
        }
    )
    logit = (
        0.05 * (frame["age"] - 50)
        + frame["region"].map({"east": 0.0, "north": 0.5, "south": -0.7})
        + 0.8 * frame["smoker"]
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame.loc[frame.index[:20], "age"] = np.nan  # imputed with the training median
    return frame, y


@pytest.fixture(scope="module")
def categorical_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, logitkit.LogisticModel]:
    frame, y = _frame(400, 0)
    encoder = TableEncoder(impute="median").fit(frame)
    model = logitkit.LogisticModel().fit(encoder.transform(frame), y)
    model.encoder_ = encoder
    path = tmp_path_factory.mktemp("cat") / "model.json"
    logitkit.save(model, path, policy=ThresholdPolicy.fixed(0.3, positive=1, negative=0))
    return path, logitkit.load(path)


def test_categorical_inputs_are_encoded_like_the_model_does(categorical_model, tmp_path):
    path, model = categorical_model
    frame, _ = _frame(30, 1)
    records = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    records = [{**r, "smoker": bool(r["smoker"])} for r in records]
    with LiveServer(Settings(model_path=path, db_url=f"sqlite:///{tmp_path / 'l.db'}")) as live:
        client = live.client()
        answer = client.post("/v1/predict", json={"instances": records})
        assert answer.status_code == 200, answer.text
        got = [p["probabilities"]["1"] for p in answer.json()["predictions"]]
        expected = model.predict_proba(frame)[:, 1]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        assert [p["decision"] for p in answer.json()["predictions"]] == [int(p >= 0.3) for p in got]
        unseen = client.post("/v1/predict", json={"instances": [{**records[0], "region": "west"}]})
        assert unseen.status_code == 422
        error = unseen.json()["errors"][0]
        assert error["field"] == "instances[0].region"
        assert "'east'" in error["message"]
        assert "west" in error["message"]
        wrong = client.post("/v1/predict", json={"instances": [{**records[0], "smoker": "yes"}]})
        assert wrong.status_code == 422
        info = client.get("/v1/model").json()
        assert [(f["name"], f["type"], f["nullable"]) for f in info["features"]] == [
            ("age", "float", True),
            ("region", "category", True),
            ("smoker", "bool", True),
        ]
        assert info["columns"] == ["age", "region[T.north]", "region[T.south]", "smoker[T.True]"]
        explain = client.post("/v1/explain", json={"instances": records[:1]}).json()[
            "explanations"
        ][0]
        assert {c["feature"] for c in explain["contributions"]} == set(info["columns"])
        schema = client.get("/openapi.json").json()["components"]["schemas"]["Instance"][
            "properties"
        ]
        assert {"east", "north", "south"} <= {
            v for alt in schema["region"]["anyOf"] for v in alt.get("enum", [])
        }
        drift = client.get("/v1/drift").json()
        assert drift["n"] == 30


def test_multiclass_model_decides_by_its_policy(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = np.array(["low", "mid", "high"])[
        np.argmax(X.to_numpy() @ rng.normal(size=(3, 3)) + rng.normal(size=(300, 3)), axis=1)
    ]
    model = logitkit.LogisticModel().fit(X, y)
    policy = MulticlassPolicy.from_costs(list(model.classes_), [[0, 1, 5], [1, 0, 1], [5, 1, 0]])
    path = logitkit.save(model, tmp_path / "m.json", policy=policy)
    with LiveServer(Settings(model_path=path, db_url=f"sqlite:///{tmp_path / 'l.db'}")) as live:
        client = live.client()
        rows = X.iloc[:25]
        answer = client.post("/v1/predict", json={"instances": rows.to_dict(orient="records")})
        assert answer.status_code == 200, answer.text
        preds = answer.json()["predictions"]
        proba = model.predict_proba(rows)
        assert [p["label"] for p in preds] == list(model.classes_[proba.argmax(axis=1)])
        assert [p["decision"] for p in preds] == list(policy.decide(proba))
        assert all(p["threshold"] is None for p in preds)
        np.testing.assert_allclose([p["probability"] for p in preds], proba.max(axis=1), rtol=1e-12)
        explain = client.post(
            "/v1/explain", json={"instances": rows.iloc[:1].to_dict(orient="records")}
        )
        assert explain.json()["explanations"][0]["target"] == preds[0]["label"]


def test_a_model_without_policy_decides_at_one_half(tmp_path, demo_rows):
    names, rows = demo_rows
    X = pd.DataFrame(rows, columns=names)
    y = np.array([0, 1] * (len(rows) // 2) + [0] * (len(rows) % 2))
    path = logitkit.LogisticModel(C=0.01).fit(X, y).save(tmp_path / "m.json")
    with LiveServer(Settings(model_path=path, db_url=f"sqlite:///{tmp_path / 'l.db'}")) as live:
        preds = (
            live.client()
            .post("/v1/predict", json={"instances": X.iloc[:5].to_dict(orient="records")})
            .json()
        )
    for p in preds["predictions"]:
        assert p["threshold"] == 0.5
        assert p["decision"] == int(p["probability"] >= 0.5)


def test_policy_file_overrides_the_artifact(demo_model, tmp_path, demo_rows):

    names, rows = demo_rows
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(ThresholdPolicy.fixed(0.9, positive="malignant", negative="benign").to_dict())
    )
    settings = Settings(
        model_path=demo_model, policy_path=policy, db_url=f"sqlite:///{tmp_path / 'l.db'}"
    )
    with LiveServer(settings) as live:
        client = live.client()
        info = client.get("/v1/model").json()
        answer = client.post(
            "/v1/predict", json={"instances": [dict(zip(names, rows[0], strict=True))]}
        ).json()
    assert info["threshold"] == 0.9
    assert info["policy_source"] == str(policy)
    assert answer["predictions"][0]["threshold"] == 0.9


def test_a_policy_for_other_labels_is_refused(demo_model, tmp_path):

    from logitkit.exceptions import ArtifactError
    from logitkit.serve import create_app

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(ThresholdPolicy.fixed(0.5, positive="cancer").to_dict()))
    with pytest.raises(ArtifactError, match="'cancer' is not a class"):
        create_app(
            Settings(
                model_path=demo_model, policy_path=policy, db_url=f"sqlite:///{tmp_path / 'l.db'}"
            )
        )


def test_v2_per_feature_tensors_for_an_encoded_model(categorical_model, tmp_path):
    path, model = categorical_model
    frame, _ = _frame(5, 2)
    frame = frame.fillna({"age": 50.0})
    inputs = [
        {"name": "age", "shape": [5], "datatype": "FP64", "data": frame["age"].tolist()},
        {
            "name": "region",
            "shape": [5, 1],
            "datatype": "BYTES",
            "data": [[v] for v in frame["region"]],
        },
        {
            "name": "smoker",
            "shape": [5],
            "datatype": "BOOL",
            "data": [bool(v) for v in frame["smoker"]],
        },
    ]
    with LiveServer(Settings(model_path=path, db_url=f"sqlite:///{tmp_path / 'l.db'}")) as live:
        client = live.client()
        answer = client.post("/v2/models/model/infer", json={"inputs": inputs})
        assert answer.status_code == 200, answer.text
        outputs = {o["name"]: o for o in answer.json()["outputs"]}
        np.testing.assert_allclose(
            outputs["probability"]["data"], model.predict_proba(frame)[:, 1], rtol=1e-12
        )
        inputs[1]["data"] = [["west"]] * 5
        unseen = client.post("/v2/models/model/infer", json={"inputs": inputs})
        assert unseen.status_code == 400
        assert "west" in unseen.json()["error"]
        logged = live.runtime.log.window(None, 10)
    assert len(logged) == 5
    assert logged[-1]["inputs"][1] in {"east", "north", "south"}  # raw values logged
