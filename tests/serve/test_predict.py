"""``POST /v1/predict`` against a live server: answers, the log, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

import logitkit
from logitkit.decision import ThresholdPolicy
from logitkit.serve import Settings
from tests.serve.conftest import API_KEY, Db
from tests.serve.helpers import LiveServer, instances

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(demo_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("predict") / "log.db"
    settings = Settings(
        model_path=demo_model,
        db_url=f"sqlite:///{db}",
        api_keys=(API_KEY,),
        max_batch=1000,
        max_body_bytes=1 << 20,  # test_body_size_limit_with_length_and_chunked passes it
    )
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def client(server: LiveServer):
    return server.client(API_KEY)


def test_answers_match_the_model_and_the_policy(client, demo_model, demo_rows):
    names, rows = demo_rows
    model = logitkit.load(demo_model)
    policy = ThresholdPolicy.from_dict(model.artifact_["policy"])
    answer = client.post("/v1/predict", json=instances(names, rows[:50]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_version"] == model.artifact_["sha256"]
    assert answer.headers["X-Request-ID"] == body["request_id"]
    assert "compute;dur=" in answer.headers["Server-Timing"]
    proba = model.predict_proba(pd.DataFrame(rows[:50], columns=names))
    got = np.array([p["probability"] for p in body["predictions"]])
    np.testing.assert_allclose(got, proba[:, 1], rtol=1e-12, atol=1e-300)
    decided = policy.decide(got)
    for p, flag, row_proba in zip(body["predictions"], decided, proba, strict=True):
        assert p["decision"] == ("malignant" if flag else "benign")
        assert p["threshold"] == policy.threshold
        assert p["label"] == ("malignant" if row_proba[1] > 0.5 else "benign")
        assert p["probabilities"]["benign"] + p["probabilities"]["malignant"] == pytest.approx(1.0)


def test_every_answered_prediction_is_logged_with_its_exact_inputs(server, client, demo_rows):
    names, rows = demo_rows
    answer = client.post(
        "/v1/predict", json=instances(names, rows[100:103]), headers={"X-Request-ID": "logged-1"}
    )
    assert answer.status_code == 200
    engine = create_engine(server.settings.db_url)
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT instance, inputs, probability, decision, model_version "
                "FROM logitkit_predictions WHERE request_id = 'logged-1' ORDER BY instance"
            )
        ).all()
    engine.dispose()
    assert [s.instance for s in stored] == [0, 1, 2]
    for s, row, p in zip(stored, rows[100:103], answer.json()["predictions"], strict=True):
        assert json.loads(s.inputs) == row  # floats round-trip exactly
        assert s.probability == p["probability"]
        assert s.decision == p["decision"]
        assert s.model_version == answer.json()["model_version"]


def test_extreme_linear_predictor_gives_exactly_zero_or_one(client, demo_model, demo_rows):
    names, rows = demo_rows
    model = logitkit.load(demo_model)
    coef, intercept = model.coef_[0], model.intercept_[0]
    j = int(np.argmax(np.abs(coef)))
    out = []
    for z in (800.0, -800.0):
        x = np.array(rows[0], dtype=float)
        x[j] += (z - (x @ coef + intercept)) / coef[j]
        out.append(x.tolist())
    answer = client.post("/v1/predict", json=instances(names, out))
    assert answer.status_code == 200, answer.text
    probs = [p["probabilities"]["malignant"] for p in answer.json()["predictions"]]
    assert probs == [1.0, 0.0]


def _bad(client, body: bytes | str, **headers: str):
    answer = client.post("/v1/predict", content=body, headers={**JSON, **headers})
    assert answer.status_code != 500
    return answer


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        ("NaN", "finite_number", "NaN"),
        ("Infinity", "finite_number", "Infinity"),
        ("-Infinity", "finite_number", "-Infinity"),
        ("1e400", "finite_number", "Infinity"),
        ("1e301", "less_than_equal", "1e+301"),
        ('"12.5"', "float_type", "'12.5'"),
        ("true", "float_type", "true"),
        ("null", "float_type", "null"),
        ("[1]", "float_type", None),
    ],
)
def test_bad_values_are_422_naming_the_field(client, demo_rows, value, kind, shown):
    names, rows = demo_rows
    instance = json.dumps(dict(zip(names, rows[0], strict=True)))
    body = instance.replace(f'"{names[3]}": {rows[0][3]!r}', f'"{names[3]}": {value}')
    assert body != instance
    answer = _bad(client, '{"instances": [' + body + "]}")
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["code"] == "validation_error"
    assert [e["field"] for e in error["errors"]] == [f"instances[0].{names[3]}"]
    assert error["errors"][0]["type"] == kind
    assert names[3] in error["error"]
    if shown is not None:
        assert shown in error["errors"][0]["message"]


def test_missing_and_unknown_features_are_named(client, demo_rows):
    names, rows = demo_rows
    instance = dict(zip(names, rows[0], strict=True))
    del instance[names[0]]
    instance["colour"] = 3.0
    answer = client.post(
        "/v1/predict", json={"instances": [dict(zip(names, rows[0], strict=True)), instance]}
    )
    assert answer.status_code == 422
    errors = {(e["field"], e["type"]) for e in answer.json()["errors"]}
    assert errors == {
        (f"instances[1].{names[0]}", "missing"),
        ("instances[1].colour", "extra_forbidden"),
    }
    assert "colour" in answer.json()["error"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ('{"instances": []}', "too_short"),
        ("{}", "missing"),
        ('{"instances": {}}', "list_type"),
        ("[]", "dict_type"),
        ("not json", "json_invalid"),
        ("", "json_invalid"),
        ('{"instances": [1]}', "dict_type"),
        ('{"instances": [], "extra": 1}', "extra_forbidden"),
    ],
)
def test_malformed_bodies_are_422(client, body, kind):
    answer = _bad(client, body)
    assert answer.status_code == 422, answer.text
    assert kind in {e["type"] for e in answer.json()["errors"]}


def test_batch_limits(client, demo_rows):
    names, rows = demo_rows
    too_many = instances(names, (rows * 2)[:1001])
    answer = client.post("/v1/predict", json=too_many)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["type"] == "too_long"
    ok = client.post("/v1/predict", json=instances(names, (rows * 2)[:1000]))
    assert ok.status_code == 200
    assert len(ok.json()["predictions"]) == 1000


def test_body_size_limit_with_length_and_chunked(client):
    big = b'{"instances": [' + b",".join([b'{"a": 1.0}'] * 120_000) + b"]}"
    assert len(big) > 1 << 20
    answer = client.post("/v1/predict", content=big, headers=JSON)
    assert answer.status_code == 413
    assert answer.json()["code"] == "body_too_large"

    def chunks():
        for start in range(0, len(big), 65_536):
            yield big[start : start + 65_536]

    answer = client.post("/v1/predict", content=chunks(), headers=JSON)
    assert "content-length" not in {k.lower() for k in answer.request.headers}
    assert answer.status_code == 413


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_wrong_content_type_is_415(client, content_type):
    headers = {"Content-Type": content_type}
    answer = client.post("/v1/predict", content=b'{"instances": []}', headers=headers)
    assert answer.status_code == 415
    assert "application/json" in answer.json()["error"]


def test_json_with_charset_and_vendor_types_are_accepted(client, demo_rows):
    names, rows = demo_rows
    body = json.dumps(instances(names, rows[:1]))
    for ct in ("application/json; charset=utf-8", "application/vnd.api+json"):
        assert (
            client.post("/v1/predict", content=body, headers={"Content-Type": ct}).status_code
            == 200
        )


def test_garbage_never_gives_a_server_error(client):
    rng = np.random.default_rng(0)
    for _ in range(200):
        body = rng.integers(0, 256, rng.integers(0, 200)).astype(np.uint8).tobytes()
        assert client.post("/v1/predict", content=body, headers=JSON).status_code == 422


def test_request_ids_retries_and_conflicts(server, client, demo_rows):
    names, rows = demo_rows
    body = instances(names, rows[5:7])
    first = client.post("/v1/predict", json=body, headers={"X-Request-ID": "retry-me"})
    again = client.post("/v1/predict", json=body, headers={"X-Request-ID": "retry-me"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    clash = client.post(
        "/v1/predict", json=instances(names, rows[7:9]), headers={"X-Request-ID": "retry-me"}
    )
    assert clash.status_code == 409
    assert "retry-me" in clash.json()["error"]
    bad = client.post("/v1/predict", json=body, headers={"X-Request-ID": "spaces are not allowed"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "X-Request-ID"
    engine = create_engine(server.settings.db_url)
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM logitkit_predictions WHERE request_id = 'retry-me'")
        ).scalar()
    engine.dispose()
    assert n == 2  # two instances, logged once


def test_auth(server, demo_rows):
    names, rows = demo_rows
    anonymous = server.client()
    assert anonymous.get("/health/live").status_code == 200
    assert anonymous.get("/health/ready").status_code == 200
    for path in ("/v1/model", "/v1/drift", "/v2", "/openapi.json", "/docs"):
        answer = anonymous.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    answer = anonymous.post("/v1/predict", json=instances(names, rows[:1]))
    assert answer.status_code == 401
    wrong = server.client("not-the-key-0123456789")
    assert wrong.post("/v1/predict", json=instances(names, rows[:1])).status_code == 401
    basic = server.client(headers={"Authorization": f"Basic {API_KEY}"})
    assert basic.get("/v1/model").status_code == 401
    key = server.client(API_KEY)
    assert key.post("/admin/reload").status_code == 403  # no admin keys configured


def test_model_info_and_openapi_name_the_real_features(client, demo_model, demo_rows):
    names, _ = demo_rows
    content = json.loads(demo_model.read_text())
    info = client.get("/v1/model").json()
    assert info["version"] == content["sha256"]
    assert [f["name"] for f in info["features"]] == names
    assert {f["type"] for f in info["features"]} == {"float"}
    assert info["classes"] == ["benign", "malignant"]
    assert info["positive"] == "malignant"
    assert info["threshold"] == content["policy"]["threshold"]
    assert info["policy"]["rule"]["method"] == "min_recall"
    schema = client.get("/openapi.json").json()
    instance = schema["components"]["schemas"]["Instance"]
    assert list(instance["properties"]) == names
    assert sorted(instance["required"]) == sorted(names)
    assert instance["additionalProperties"] is False
    assert all(p["type"] == "number" for p in instance["properties"].values())
    request = schema["components"]["schemas"]["PredictRequest"]
    assert request["properties"]["instances"]["maxItems"] == 1000
    operation = schema["paths"]["/v1/predict"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PredictRequest"
    )
    assert {"401", "409", "413", "415", "422", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"bearer": []}]


def test_explain_is_an_exact_split_of_the_log_odds(client, demo_model, demo_rows):
    names, rows = demo_rows
    model = logitkit.load(demo_model)
    answer = client.post("/v1/explain", json=instances(names, rows[:3]))
    assert answer.status_code == 200, answer.text
    for explanation, row in zip(answer.json()["explanations"], rows[:3], strict=True):
        parts = [c["contribution"] for c in explanation["contributions"]]
        assert explanation["log_odds"] == pytest.approx(
            model.decision_function(pd.DataFrame([row], columns=names))[0], rel=1e-12
        )
        assert math.fsum([explanation["baseline"], *parts]) == pytest.approx(
            explanation["log_odds"], abs=1e-9
        )
        assert [abs(p) for p in parts] == sorted((abs(p) for p in parts), reverse=True)
        assert explanation["target"] == "malignant"
        assert 1 / (1 + math.exp(-explanation["log_odds"])) == pytest.approx(
            explanation["probability"]
        )


def test_metrics_count_requests_decisions_and_commits(client, demo_rows):
    names, rows = demo_rows
    client.post("/v1/predict", json=instances(names, rows[:4]))
    text = client.get("/metrics").text
    assert 'logitkit_http_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert "logitkit_predictions_total" in text
    assert "logitkit_log_commit_rows_bucket" in text
    assert "logitkit_model_info{" in text


def test_both_databases_log_every_answer(db: Db, demo_model, demo_rows):
    names, rows = demo_rows
    settings = Settings(model_path=demo_model, db_url=db.url, db_table_prefix=db.prefix)
    with LiveServer(settings) as live:
        client = live.client()
        ids = []
        for k in range(20):
            answer = client.post(
                "/v1/predict",
                json=instances(names, rows[k : k + 2]),
                headers={"X-Request-ID": f"both-{k}"},
            )
            assert answer.status_code == 200
            ids.append(answer.json()["request_id"])
        logged = live.runtime.log.window(None, 1000)
    assert len(logged) == 40
    assert live.runtime.log.healthy is False  # closed with the server


# ------------------------------------------------------------- probability intervals
BIRTHWT = Path(__file__).parents[1] / "data" / "birthwt.csv"
BIRTHWT_FEATURES = ["age", "lwt", "race", "smoke", "ptl", "ht", "ui", "ftv"]


@pytest.fixture(scope="module")
def birthwt_server(tmp_path_factory: pytest.TempPathFactory):
    """MASS birthwt (``low`` on eight predictors), maximum likelihood, served."""
    where = tmp_path_factory.mktemp("birthwt")
    frame = pd.read_csv(BIRTHWT)
    X = frame[BIRTHWT_FEATURES].astype(float)
    path = logitkit.LogisticModel(penalty=None).fit(X, frame["low"]).save(where / "model.json")
    settings = Settings(model_path=path, db_url=f"sqlite:///{where / 'log.db'}", max_batch=1000)
    with LiveServer(settings) as live:
        yield live, logitkit.load(path), X


@pytest.mark.parametrize("rows", [slice(0, 3), slice(0, 189)])  # the small and the fast path
def test_interval_gives_each_probability_its_delta_method_bounds(birthwt_server, rows):
    live, model, X = birthwt_server
    body = instances(BIRTHWT_FEATURES, X.iloc[rows].to_numpy().tolist())
    if rows.stop > 3:
        assert len(json.dumps(body)) > 16_384
    answer = live.client().post("/v1/predict", json={**body, "interval": 0.9})
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    expected = model.predict_interval(X.iloc[rows], level=0.9)
    got = np.array([p["probability_interval"] for p in predictions])
    np.testing.assert_allclose(got[:, 0], expected["ci_low"], rtol=1e-12)
    np.testing.assert_allclose(got[:, 1], expected["ci_high"], rtol=1e-12)
    probability = np.array([p["probability"] for p in predictions])
    np.testing.assert_allclose(probability, expected["probability"], rtol=1e-12)
    assert list(predictions[0]) == [
        "label",
        "probability",
        "probability_interval",
        "probabilities",
        "decision",
        "threshold",
    ]
    # Without the field the answer is the one it always was.
    plain = live.client().post("/v1/predict", json=body)
    assert plain.status_code == 200, plain.text
    for with_, without in zip(predictions, plain.json()["predictions"], strict=True):
        assert "probability_interval" not in without
        assert {k: v for k, v in with_.items() if k != "probability_interval"} == without


def test_interval_retry_is_answered_again_with_its_bounds(birthwt_server):
    live, _, X = birthwt_server
    body = {**instances(BIRTHWT_FEATURES, X.iloc[:2].to_numpy().tolist()), "interval": 0.95}
    headers = {"X-Request-ID": "interval-retry"}
    first = live.client().post("/v1/predict", json=body, headers=headers)
    again = live.client().post("/v1/predict", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content


@pytest.mark.parametrize("n", [1, 189])  # the small and the fast path
@pytest.mark.parametrize("level", [0, 1, 1.5, -0.5, True, "0.95", None])
def test_interval_outside_zero_one_is_422_naming_it(birthwt_server, level, n):
    live, _, X = birthwt_server
    body = {**instances(BIRTHWT_FEATURES, X.iloc[:n].to_numpy().tolist()), "interval": level}
    answer = live.client().post("/v1/predict", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "interval"


def test_interval_is_in_the_schema_only_where_the_model_gives_one(birthwt_server, client):
    live, _, X = birthwt_server
    schema = live.client().get("/openapi.json").json()["components"]["schemas"]
    assert "interval" in schema["PredictRequest"]["properties"]
    assert "interval" not in schema["ExplainRequest"]["properties"]
    demo = client.get("/openapi.json").json()["components"]["schemas"]
    assert "interval" not in demo["PredictRequest"]["properties"]
    body = {**instances(BIRTHWT_FEATURES, X.iloc[:1].to_numpy().tolist()), "interval": 0.95}
    explained = live.client().post("/v1/explain", json=body)
    assert explained.status_code == 422
    assert explained.json()["errors"][0]["field"] == "interval"


def test_penalised_model_refuses_intervals_saying_why(client, demo_rows):
    names, rows = demo_rows
    answer = client.post("/v1/predict", json={**instances(names, rows[:2]), "interval": 0.95})
    assert answer.status_code == 422
    error = answer.json()["errors"][0]
    assert error["field"] == "interval"
    assert error["type"] == "interval_unavailable"
    assert "penalised fit" in error["message"]
    assert "penalty=None" in error["message"]
