"""Hot reload: an atomic swap that never fails or mixes requests; tampered files refused."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from benchmarks.serve_checks import ADMIN_KEY as BENCH_ADMIN
from benchmarks.serve_checks import reload_under_load
from benchmarks.serve_load import ServerProcess, free_port

import logitkit
from logitkit.serve import Settings
from logitkit.serve.predictor import load_predictor
from tests.serve.conftest import ADMIN_KEY, API_KEY
from tests.serve.helpers import LiveServer, instances


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory, demo_model: Path, demo_rows) -> list[Path]:
    """The demo model and one fitted with another penalty (another version)."""
    names, rows = demo_rows
    other = tmp_path_factory.mktemp("reload") / "other.json"
    content = json.loads(demo_model.read_text())
    y = ["malignant" if k % 2 else "benign" for k in range(len(rows))]
    model = logitkit.LogisticModel(C=0.05).fit(pd.DataFrame(rows, columns=names), y)
    logitkit.save(model, other, policy=content["policy"])
    return [demo_model, other]


def test_admin_reload_swaps_and_a_tampered_file_is_refused(two_models, tmp_path, demo_rows):
    names, rows = demo_rows
    served = tmp_path / "model.json"
    shutil.copyfile(two_models[0], served)
    settings = Settings(
        model_path=served,
        db_url=f"sqlite:///{tmp_path / 'l.db'}",
        api_keys=(API_KEY,),
        admin_keys=(ADMIN_KEY,),
    )
    with LiveServer(settings) as live:
        client, admin = live.client(API_KEY), live.client(ADMIN_KEY)
        first = client.post("/v1/predict", json=instances(names, rows[:1])).json()["model_version"]
        assert client.post("/admin/reload").status_code == 401  # an API key is not an admin key
        shutil.copyfile(two_models[1], served)
        answer = admin.post("/admin/reload")
        assert answer.status_code == 200, answer.text
        assert answer.json()["previous_version"] == first
        second = client.post("/v1/predict", json=instances(names, rows[:1])).json()["model_version"]
        assert second == answer.json()["version"] != first
        content = json.loads(served.read_text())
        content["model"]["coef"][0][0] *= 2  # hand-edited: the hash no longer fits
        served.write_text(json.dumps(content))
        refused = admin.post("/admin/reload")
        assert refused.status_code == 422
        assert "integrity" in refused.json()["error"]
        assert second in refused.json()["error"]
        assert (
            client.post("/v1/predict", json=instances(names, rows[:1])).json()["model_version"]
            == second
        )
        assert 'logitkit_model_reloads_total{outcome="refused"} 1.0' in client.get("/metrics").text


def test_reloads_under_load_never_fail_mix_or_lose_a_row(two_models, tmp_path, demo_rows):
    names, rows = demo_rows
    expected = {}
    for path in two_models:
        predictor = load_predictor(path, name="m")
        proba = predictor.predict(
            predictor.inputs.matrix([dict(zip(names, r, strict=True)) for r in rows[:40]])
        )
        expected[predictor.version] = {
            json.dumps(r): float(p) for r, p in zip(rows[:40], proba.probability, strict=True)
        }
    result = reload_under_load(
        two_models,
        expected,
        tmp_path,
        f"sqlite:///{tmp_path / 'l.db'}",
        names=names,
        rows=rows[:40],
        swaps=6,
        total=1500,
        concurrency=8,
        max_seconds=20,
    )
    assert result.ok, result
    assert result.swaps == 6
    assert len(result.versions) == 2  # both models answered


def test_sighup_reloads(two_models, tmp_path, demo_rows):
    names, rows = demo_rows
    served = tmp_path / "model.json"
    shutil.copyfile(two_models[0], served)
    port = free_port()
    server = ServerProcess.logitkit(
        served,
        port,
        "--db",
        f"sqlite:///{tmp_path / 'l.db'}",
        env={"LOGITKIT_ADMIN_KEYS": BENCH_ADMIN},
    )
    with server:
        import httpx

        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {BENCH_ADMIN}"}
        ) as client:
            before = client.get("/v1/model").json()["version"]
            shutil.copyfile(two_models[1], served)
            server.signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while (
                client.get("/v1/model").json()["version"] == before and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            assert client.get("/v1/model").json()["version"] != before
            assert client.post("/v1/predict", json=instances(names, rows[:1])).status_code == 200
        server.signal(signal.SIGTERM)
        assert server.wait(15) == 0
