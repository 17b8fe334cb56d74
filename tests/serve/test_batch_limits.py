"""The batch limit and the body limit agree: with the defaults, ``max_batch`` binds first.

A full batch of the demo model's 30 features, written as ``json.dumps`` writes it, is
answered 200 by a real server with default settings, and one instance more is refused
422 by the batch limit, not 413 by the body limit. A body past the body limit is 413
with a message naming the setting that raises it.
"""

from __future__ import annotations

import json
from pathlib import Path

from logitkit.serve import Settings
from tests.serve.helpers import LiveServer, instances

JSON = {"Content-Type": "application/json"}


def _batch(names: list[str], rows: list[list[float]], n: int) -> bytes:
    """``n`` demo instances (the rows over and over) as one /v1/predict body."""
    return json.dumps(instances(names, [rows[i % len(rows)] for i in range(n)])).encode()


def test_a_full_batch_fits_the_default_body_limit(demo_model: Path, demo_rows, tmp_path: Path):
    names, rows = demo_rows
    settings = Settings(model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'log.db'}")
    full = _batch(names, rows, settings.max_batch)
    with LiveServer(settings) as server:
        client = server.client()
        answer = client.post("/v1/predict", content=full, headers=JSON)
        assert answer.status_code == 200, answer.text[:500]
        assert len(answer.json()["predictions"]) == settings.max_batch
        over = client.post(
            "/v1/predict", content=_batch(names, rows, settings.max_batch + 1), headers=JSON
        )
    assert over.status_code == 422, over.text[:500]
    assert over.json()["errors"][0]["type"] == "too_long"


def test_a_body_past_the_limit_names_the_setting_to_raise(
    demo_model: Path, demo_rows, tmp_path: Path
):
    names, rows = demo_rows
    limit = 10_000
    settings = Settings(
        model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'log.db'}", max_body_bytes=limit
    )
    body = _batch(names, rows, 20)
    assert len(body) > limit

    def chunks():
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    with LiveServer(settings) as server:
        client = server.client()
        declared = client.post("/v1/predict", content=body, headers=JSON)
        streamed = client.post("/v1/predict", content=chunks(), headers=JSON)
    for answer in (declared, streamed):
        assert answer.status_code == 413, answer.text
        error = answer.json()
        assert error["code"] == "body_too_large"
        assert f"{limit} bytes" in error["error"]
        assert "max_body_bytes" in error["error"], error["error"]
