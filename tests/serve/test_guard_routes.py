"""The guard and the routes: refusals are counted by the route asked for; unknown paths are 404.

A request the guard refuses (no key, a wrong key, overload) never reaches the router,
yet its metrics carry the route it was addressed to, as the answers of served requests
do. A path that no route matches is answered 404 whatever key it carries, as FastAPI
and Starlette apps answer it; every path a route matches still needs its key.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from logitkit.serve import Settings
from tests.serve.conftest import ADMIN_KEY, API_KEY
from tests.serve.helpers import LiveServer, instances

MODEL = "cancer"


@pytest.fixture(scope="module")
def live(demo_model: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("guard") / "log.db"
    settings = Settings(
        model_path=demo_model,
        db_url=f"sqlite:///{db}",
        model_name=MODEL,
        api_keys=(API_KEY,),
        admin_keys=(ADMIN_KEY,),
    )
    with LiveServer(settings) as server:
        yield server


def _count(text: str, route: str, method: str, status: int) -> float:
    """The value of ``logitkit_http_requests_total`` for one label set (0 when absent)."""
    labels = {"route": route, "method": method, "status": str(status)}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "logitkit_http_requests_total" and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_refusals_carry_the_route_they_were_addressed_to(live, demo_rows):
    names, rows = demo_rows
    body = instances(names, rows[:1])
    metrics = live.client(API_KEY)
    before = metrics.get("/metrics").text
    anonymous, wrong = live.client(), live.client("not-the-key-0123456789")
    assert anonymous.post("/v1/predict", json=body).status_code == 401
    assert wrong.post("/v1/predict", json=body).status_code == 401
    assert anonymous.get("/v1/model").status_code == 401
    assert anonymous.post(f"/v2/models/{MODEL}/infer", json={}).status_code == 401
    assert live.client(API_KEY).post("/admin/reload").status_code == 401  # not an admin key
    live.runtime.in_flight = live.settings.max_in_flight
    try:
        assert metrics.post("/v1/predict", json=body).status_code == 503
    finally:
        live.runtime.in_flight = 0
    assert metrics.get("/no/such/route").status_code == 404
    after = metrics.get("/metrics").text
    expected = [
        ("/v1/predict", "POST", 401, 2),
        ("/v1/model", "GET", 401, 1),
        ("/v2/models/{model_name}/infer", "POST", 401, 1),
        ("/admin/reload", "POST", 401, 1),
        ("/v1/predict", "POST", 503, 1),
        ("unmatched", "GET", 404, 1),
    ]
    for route, method, status, n in expected:
        grown = _count(after, route, method, status) - _count(before, route, method, status)
        assert grown == n, (route, method, status, grown)
    assert _count(after, "unmatched", "POST", 401) == 0
    assert _count(after, "unmatched", "POST", 503) == 0


@pytest.mark.parametrize("key", [None, "not-the-key-0123456789", API_KEY, ADMIN_KEY])
def test_a_path_no_route_matches_is_404_whatever_the_key(live, key):
    client = live.client(key)
    for method, path in (("GET", "/no/such/route"), ("POST", "/v1/predictions"), ("GET", "/v3")):
        answer = client.request(method, path)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["code"] == "not_found"
        assert "WWW-Authenticate" not in answer.headers


def test_every_path_a_route_matches_still_needs_its_key(live, demo_rows):
    names, rows = demo_rows
    anonymous = live.client()
    for method, path in (
        ("POST", "/v1/predict"),
        ("GET", "/v1/model"),
        ("GET", f"/v2/models/{MODEL}"),
        ("GET", "/v2/models/another-model"),  # a route with a parameter matches any name
        ("GET", "/openapi.json"),
        ("GET", "/v1/predict"),  # a route's path with another method: the key comes first
        ("POST", "/admin/reload"),
    ):
        answer = anonymous.request(method, path)
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    keyed = live.client(API_KEY)
    assert keyed.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200
    assert keyed.get("/v1/predict").status_code == 405
    assert keyed.get("/v2/models/another-model").status_code == 404  # the route's own 404
    assert anonymous.get("/health/ready").status_code == 200
