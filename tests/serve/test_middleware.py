"""The guard: overload, timeouts and shutdown answer 503 with Retry-After; health stays open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from logitkit.serve import Settings
from logitkit.serve.errors import json_response
from logitkit.serve.middleware import Guard
from tests.serve.helpers import LiveServer, instances


def test_overload_is_refused_but_health_answers(demo_model: Path, demo_rows, tmp_path):
    names, rows = demo_rows
    settings = Settings(
        model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'l.db'}", max_in_flight=4
    )
    with LiveServer(settings) as live:
        client = live.client()
        live.runtime.in_flight = 4  # as if four requests were being served
        try:
            refused = client.post("/v1/predict", json=instances(names, rows[:1]))
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["code"] == "overloaded"
            assert client.get("/health/live").status_code == 200
            assert client.get("/metrics").status_code == 200
        finally:
            live.runtime.in_flight = 0
        assert client.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200


def test_draining_and_hurrying(demo_model: Path, demo_rows, tmp_path):
    names, rows = demo_rows
    with LiveServer(
        Settings(model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'l.db'}")
    ) as live:
        client = live.client()
        live.runtime.start_draining()
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "shutdown" in ready.json()["checks"]
        assert client.get("/v2/health/ready").status_code == 400
        assert (
            client.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200
        )  # still served
        live.runtime.hurry = True
        refused = client.post("/v1/predict", json=instances(names, rows[:1]))
        assert refused.status_code == 503
        assert refused.json()["code"] == "shutting_down"


@pytest.mark.anyio
async def test_a_slow_request_times_out_with_503(demo_model: Path, tmp_path):
    from logitkit.serve import create_app

    settings = Settings(
        model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'l.db'}", request_timeout_s=0.2
    )
    runtime = create_app(settings).state.runtime

    async def slow(scope, receive, send):  # the wrapped app
        await asyncio.sleep(5)
        await json_response({})(scope, receive, send)

    guard = Guard(slow, runtime)
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/slow")
    assert answer.status_code == 503
    assert answer.json()["code"] == "timeout"
    assert "X-Request-ID" in answer.json()["error"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_a_failing_log_answers_nothing_and_readiness_says_so(demo_model: Path, demo_rows, tmp_path):
    from sqlalchemy import create_engine, text

    from logitkit.serve.log import make_tables

    names, rows = demo_rows
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with LiveServer(Settings(model_path=demo_model, db_url=url)) as live:
        client = live.client()
        assert client.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE logitkit_requests RENAME TO moved_away"))
            conn.execute(text("DROP INDEX logitkit_requests_version"))
        refused = client.post("/v1/predict", json=instances(names, rows[:1]))
        assert refused.status_code == 503
        assert refused.json()["code"] == "log_unavailable"
        assert refused.headers["Retry-After"] == "1"
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "log" in ready.json()["checks"]
        make_tables().metadata.create_all(engine)  # the database is back
        engine.dispose()
        assert client.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200
        assert client.get("/health/ready").status_code == 200
