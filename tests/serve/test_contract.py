"""One contract for every route: user middleware, key checks and error answers.

``POST /v1/predict`` is served by a route inside the app like every other, so middleware
added the standard way (``app.add_middleware``) applies to it, and the same bad request
gets the same status and the same JSON error shape whichever endpoint it is sent to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.middleware.cors import CORSMiddleware

from logitkit.serve import Settings
from tests.serve.conftest import API_KEY
from tests.serve.helpers import LiveServer, instances

ORIGIN = "https://dashboard.example"
MODEL = "cancer"
ERROR_KEYS = {"error", "code", "errors", "request_id"}


@pytest.fixture(scope="module")
def live(demo_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("contract") / "log.db"
    settings = Settings(
        model_path=demo_model,
        db_url=f"sqlite:///{db}",
        model_name=MODEL,
        api_keys=(API_KEY,),
        max_body_bytes=200_000,
        max_batch=50,
    )
    server = LiveServer(settings)
    server.app.add_middleware(
        CORSMiddleware,
        allow_origins=[ORIGIN],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID"],
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def bodies(demo_rows):
    """A valid body of two rows for each prediction endpoint."""
    names, rows = demo_rows
    v1 = instances(names, rows[:2])
    tensor = {"name": "input-0", "shape": [2, len(names)], "datatype": "FP64", "data": rows[:2]}
    return {
        "/v1/predict": v1,
        "/v1/explain": v1,
        f"/v2/models/{MODEL}/infer": {"inputs": [tensor]},
    }


def test_user_middleware_applies_to_every_route(live, bodies):
    client = live.client(API_KEY, headers={"Origin": ORIGIN})
    for path, body in bodies.items():
        answer = client.post(path, json=body)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["access-control-allow-origin"] == ORIGIN, path
        assert answer.headers["access-control-expose-headers"] == "X-Request-ID", path
        refused = live.client(headers={"Origin": ORIGIN}).post(path, json=body)
        assert refused.status_code == 401, path
        assert refused.headers["access-control-allow-origin"] == ORIGIN, path
        preflight = live.client().options(
            path,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200, path
        assert preflight.headers["access-control-allow-origin"] == ORIGIN, path
    for path in ("/v1/model", "/v2", f"/v2/models/{MODEL}", "/health/ready"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["access-control-allow-origin"] == ORIGIN, path


def _same(answers: dict[str, object], status: int, code: str) -> None:
    for path, answer in answers.items():
        assert answer.status_code == status, (path, answer.text)
        body = answer.json()
        assert set(body) == ERROR_KEYS, path
        assert body["code"] == code, path


def test_the_same_bad_request_gets_the_same_answer_everywhere(live, bodies):
    keyed = live.client(API_KEY)
    wrong_key = live.client("not-the-key-0123456789")
    _same({p: live.client().post(p, json=b) for p, b in bodies.items()}, 401, "unauthorized")
    _same({p: wrong_key.post(p, json=b) for p, b in bodies.items()}, 401, "unauthorized")
    for answer in (wrong_key.post(p, json=b) for p, b in bodies.items()):
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    xml = {"Content-Type": "application/xml"}
    _same(
        {p: keyed.post(p, content=b"<x/>", headers=xml) for p in [*bodies, "/v1/feedback"]},
        415,
        "unsupported_media_type",
    )
    big = b"[" + b"0," * 120_000 + b"0]"
    _same(
        {
            p: keyed.post(p, content=big, headers={"Content-Type": "application/json"})
            for p in bodies
        },
        413,
        "body_too_large",
    )
    bad_id = {"X-Request-ID": "not a valid id!"}
    answers = {p: keyed.post(p, json=b, headers=bad_id) for p, b in bodies.items()}
    _same(answers, 422, "validation_error")
    for answer in answers.values():
        assert answer.json()["errors"][0]["field"] == "X-Request-ID"
    _same({p: keyed.get(p) for p in bodies}, 405, "method_not_allowed")


def test_json_without_a_content_type_is_taken_everywhere(live, bodies):
    import json

    client = live.client(API_KEY)
    for path, body in bodies.items():
        answer = client.post(path, content=json.dumps(body).encode())
        assert answer.status_code == 200, (path, answer.text)


def test_overload_is_refused_alike_everywhere(live, bodies):
    client = live.client(API_KEY)
    live.runtime.in_flight = live.settings.max_in_flight
    try:
        answers = {p: client.post(p, json=b) for p, b in bodies.items()}
        assert client.get("/health/ready").status_code == 200
    finally:
        live.runtime.in_flight = 0
    _same(answers, 503, "overloaded")
    assert all(a.headers["Retry-After"] == "1" for a in answers.values())


def test_a_v2_id_is_echoed_and_only_x_request_id_makes_retries_idempotent(live, demo_rows):
    _, rows = demo_rows
    client = live.client(API_KEY)
    path = f"/v2/models/{MODEL}/infer"

    def body(start: int) -> dict[str, object]:
        tensor = {"name": "x", "shape": [1, len(rows[0])], "datatype": "FP64", "data": rows[start]}
        return {"id": "my-id", "inputs": [tensor]}

    first, second = client.post(path, json=body(0)), client.post(path, json=body(1))
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["id"] == second.json()["id"] == "my-id"
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    header = {"X-Request-ID": "retry-contract-1"}
    once = client.post(path, json=body(2), headers=header)
    again = client.post(path, json=body(2), headers=header)
    assert again.json()["outputs"] == once.json()["outputs"]
    conflict = client.post(path, json=body(3), headers=header)
    assert conflict.status_code == 409
    assert "X-Request-ID 'retry-contract-1'" in conflict.json()["error"]


def test_schema_and_server_agree_on_shapes_and_batch_sizes(live, demo_rows):
    """What the schema calls invalid is refused as invalid: a tensor of shape [] (no
    scalar inputs: 400 as the protocol asks) and more instances than maxItems (422, on
    every endpoint; a body past max_body_bytes is 413 before it is read, as documented)."""
    names, _ = demo_rows
    client = live.client(API_KEY)
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["RequestInput"]["properties"]["shape"]["minItems"] == 1
    scalar = {"inputs": [{"name": "x", "shape": [], "datatype": "FP64", "data": [1.0]}]}
    answer = client.post(f"/v2/models/{MODEL}/infer", json=scalar)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "inputs[0].shape"
    limit = schemas["PredictRequest"]["properties"]["instances"]["maxItems"]
    assert limit == live.settings.max_batch
    few = instances(names, [[0.0] * len(names)] * 3)
    over = {"instances": few["instances"][:1] * (limit + 1)}
    for path in ("/v1/predict", "/v1/explain"):
        answer = client.post(path, json=over)
        assert answer.status_code == 422, (path, answer.status_code)
        assert answer.json()["errors"][0]["type"] == "too_long"
    tensor = {"name": "x", "shape": [limit + 1, len(names)], "datatype": "FP64"}
    tensor["data"] = [[0.0] * len(names)] * (limit + 1)
    answer = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": [tensor]})
    assert answer.status_code == 400
    assert f"limit of {limit}" in answer.json()["error"]
