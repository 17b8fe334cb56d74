"""Offline documentation, and who may read the docs, the schema and the metrics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from logitkit.serve import Settings
from tests.serve.conftest import API_KEY
from tests.serve.helpers import LiveServer

LINK = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url: ["']([^"']+)["']""")


def _settings(model: Path, tmp: Path, **changes: object) -> Settings:
    return Settings(
        model_path=model, db_url=f"sqlite:///{tmp / 'log.db'}", api_keys=(API_KEY,), **changes
    )


@pytest.fixture(scope="module")
def closed(demo_model: Path, tmp_path_factory: pytest.TempPathFactory):
    with LiveServer(_settings(demo_model, tmp_path_factory.mktemp("docs"))) as server:
        yield server


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_pages_load_only_from_this_server(closed, page):
    client = closed.client(API_KEY)
    answer = client.get(page)
    assert answer.status_code == 200
    html = answer.text
    assert "http://" not in html
    assert "https://" not in html
    links = [a or b for a, b in LINK.findall(html)]
    assert any(link.endswith(".js") for link in links), links
    for link in links:
        assert link.startswith("/"), link
        assert not link.startswith("//"), link
        fetched = client.get(link)
        assert fetched.status_code == 200, link
        if link.endswith(".js"):
            assert "javascript" in fetched.headers["content-type"]
            assert len(fetched.content) > 100_000  # the real bundle, not a stand-in


def test_assets_are_open_and_pages_need_a_key_by_default(closed):
    anonymous = closed.client()
    assert anonymous.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    assert anonymous.get("/docs/static/redoc.standalone.js").status_code == 200
    for path in ("/docs", "/redoc", "/openapi.json"):
        answer = anonymous.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.get("/metrics").status_code == 200  # metrics_public defaults to True
    assert closed.client(API_KEY).get("/openapi.json").status_code == 200


def test_the_schema_names_the_key_each_operation_needs(closed):
    schema = closed.client(API_KEY).get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    paths = schema["paths"]
    assert paths["/v1/predict"]["post"]["security"] == [{"bearer": []}]
    assert paths["/v2/models/{model_name}/infer"]["post"]["security"] == [{"bearer": []}]
    assert paths["/admin/reload"]["post"]["security"] == [{"admin_bearer": []}]
    assert "security" not in paths["/health/ready"]["get"]
    assert "security" not in paths["/metrics"]["get"]


def test_options_open_docs_and_close_metrics(demo_model, tmp_path):
    settings = _settings(demo_model, tmp_path, docs_public=True, metrics_public=False)
    with LiveServer(settings) as live:
        anonymous = live.client()
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert anonymous.get(path).status_code == 200, path
        assert anonymous.get("/metrics").status_code == 401
        assert live.client(API_KEY).get("/metrics").status_code == 200
        schema = anonymous.get("/openapi.json").json()
        assert schema["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}]


def test_without_keys_everything_is_open(demo_model, tmp_path):
    with LiveServer(
        Settings(model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'l.db'}")
    ) as live:
        anonymous = live.client()
        for path in ("/docs", "/openapi.json", "/metrics", "/v1/model"):
            assert anonymous.get(path).status_code == 200, path
        assert "securitySchemes" not in anonymous.get("/openapi.json").json()["components"]
