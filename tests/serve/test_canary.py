"""A model is admitted (at start and on reload) only after it answers a canary prediction.

Hostile artifacts are re-hashed with the project's own writer, so they pass the integrity
check: what refuses them is the bound on the formula state (before anything is decoded)
or the canary prediction, while the model serving before keeps serving. A reload that
changes the request schema needs an explicit flag; and a served probability equals
``LogisticModel.predict_proba`` on the same row bit for bit, alone or in a batch.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit.artifact import read_content, write_content
from logitkit.cli import app as cli
from logitkit.exceptions import ArtifactError
from logitkit.serve import Settings
from logitkit.serve.predictor import load_predictor
from tests.serve.conftest import ADMIN_KEY, API_KEY
from tests.serve.helpers import LiveServer, instances

DATA = Path(__file__).parents[1] / "data" / "Default.csv"
ROW = {"student": "No", "balance": 800.0, "income": 30000.0}


@pytest.fixture(scope="module")
def formula_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model with a formula whose state is learned (the centre of income)."""
    where = tmp_path_factory.mktemp("canary")
    pd.read_csv(DATA).sample(1500, random_state=0).to_csv(where / "default.csv", index=False)
    out = where / "model.json"
    result = CliRunner().invoke(
        cli,
        [
            "train",
            str(where / "default.csv"),
            "--target",
            "default",
            "--positive",
            "Yes",
            "--formula",
            "default ~ balance + center(income) + C(student)",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _formula(content: dict[str, Any]) -> dict[str, Any]:
    formula: dict[str, Any] = content["model"]["encoding"]["formula"]
    return formula


def _huge_array(content: dict[str, Any]) -> None:  # over the size bound: refused unread
    state = _formula(content)["transform_state"]["center(income)"]
    state["center"] = {"__ndarray__": "<f8", "shape": [300_000], "data": [1.0] * 300_000}


def _big_array(content: dict[str, Any]) -> None:  # within the bound: the canary refuses it
    state = _formula(content)["transform_state"]["center(income)"]
    state["center"] = {"__ndarray__": "<f8", "shape": [50_000], "data": [1.0] * 50_000}


def _renamed_variable(content: dict[str, Any]) -> None:
    formula = _formula(content)
    formula["formula"] = formula["formula"].replace("center(income)", "center(balance)")


def _overflowing_term(content: dict[str, Any]) -> None:
    formula = _formula(content)
    formula["formula"] = formula["formula"].replace("balance", "np.exp(balance)", 1)
    formula["columns"][0] = "np.exp(balance)"
    content["model"]["encoded_features"][0] = "np.exp(balance)"
    formula["encoder_state"]["np.exp(balance)"] = formula["encoder_state"].pop("balance")


def _huge_strings(content: dict[str, Any]) -> None:  # 3 x 400 MB once decoded
    state = _formula(content)["transform_state"]
    for k in range(3):
        state[f"junk{k}"] = {"__ndarray__": "<U100000000", "shape": [1], "data": ["x"]}


HOSTILE: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "huge_array": (_huge_array, "holds more than 100,000 values"),
    "big_array": (_big_array, "failed its canary prediction"),
    "renamed_variable": (_renamed_variable, "failed its canary prediction"),
    "overflowing_term": (_overflowing_term, "NaN or infinite values in 'np.exp(balance)'"),
    "huge_strings": (_huge_strings, "dtype '<U100000000'"),
}


def _hostile(base: Path, name: str, where: Path) -> Path:
    content = copy.deepcopy(json.loads(base.read_text()))
    HOSTILE[name][0](content)
    return write_content(content, where / f"{name}.json")  # hash-valid


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_model_is_refused_at_start_with_the_reason(formula_model, tmp_path, name):
    bad = _hostile(formula_model, name, tmp_path)
    read_content(bad)  # it passes the integrity check...
    result = CliRunner().invoke(cli, ["serve", str(bad), "--db", f"sqlite:///{tmp_path}/l.db"])
    assert result.exit_code == 2, result.output  # ...but is never served
    assert HOSTILE[name][1] in " ".join(result.output.split())


def test_hostile_reloads_are_refused_and_the_old_model_keeps_serving(formula_model, tmp_path):
    served = tmp_path / "model.json"
    shutil.copyfile(formula_model, served)
    settings = Settings(
        model_path=served,
        db_url=f"sqlite:///{tmp_path / 'l.db'}",
        api_keys=(API_KEY,),
        admin_keys=(ADMIN_KEY,),
    )
    with LiveServer(settings) as live:
        client, admin = live.client(API_KEY), live.client(ADMIN_KEY)
        first = client.post("/v1/predict", json={"instances": [ROW]})
        assert first.status_code == 200, first.text
        version = first.json()["model_version"]
        for name, (_, reason) in HOSTILE.items():
            shutil.copyfile(_hostile(formula_model, name, tmp_path), served)
            refused = admin.post("/admin/reload")
            assert refused.status_code == 422, (name, refused.text)
            assert refused.json()["code"] == "model_refused"
            assert reason in refused.json()["error"], name
            again = client.post("/v1/predict", json={"instances": [ROW]})
            assert again.status_code == 200, (name, again.text)
            assert again.json()["model_version"] == version


def test_the_size_bound_refuses_before_allocating(formula_model, tmp_path):
    bad = _hostile(formula_model, "huge_strings", tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ArtifactError, match="U100000000"):
            load_predictor(bad, name="m")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20  # one decoded string alone would be 400 MB


def test_the_canary_time_budget_is_enforced(formula_model):
    with pytest.raises(ArtifactError, match="longer than the 1e-06 s budget"):
        load_predictor(formula_model, name="m", canary_timeout_s=1e-6)
    load_predictor(formula_model, name="m")  # the default budget admits it


@pytest.fixture(scope="module")
def narrower(demo_model: Path, demo_rows, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model refitted without its first feature (another request schema)."""
    names, rows = demo_rows
    frame = pd.DataFrame(rows, columns=names).drop(columns=names[0])
    y = ["malignant" if k % 3 else "benign" for k in range(len(rows))]
    out = tmp_path_factory.mktemp("schema") / "narrower.json"
    content = json.loads(demo_model.read_text())
    logitkit.save(logitkit.LogisticModel().fit(frame, y), out, policy=content["policy"])
    return out


def test_a_schema_changing_reload_needs_the_flag(demo_model, narrower, demo_rows, tmp_path):
    names, rows = demo_rows
    served = tmp_path / "model.json"
    shutil.copyfile(demo_model, served)
    settings = Settings(model_path=served, db_url=f"sqlite:///{tmp_path / 'l.db'}")
    with LiveServer(settings) as live:
        client = live.client()
        version = client.get("/v1/model").json()["version"]
        shutil.copyfile(narrower, served)
        refused = client.post("/admin/reload")
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "schema_changed"
        assert f"feature {names[0]!r} removed" in refused.json()["error"]
        answer = client.post("/v1/predict", json=instances(names, rows[:3]))
        assert answer.status_code == 200
        assert answer.json()["model_version"] == version
        allowed = client.post("/admin/reload", params={"allow_schema_change": "true"})
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["version"] != version


@pytest.mark.parametrize("allow", [False, True])
def test_sighup_reload_follows_the_allow_schema_change_setting(
    demo_model, narrower, tmp_path, allow
):
    served = tmp_path / "model.json"
    shutil.copyfile(demo_model, served)
    settings = Settings(
        model_path=served, db_url=f"sqlite:///{tmp_path / 'l.db'}", allow_schema_change=allow
    )
    with LiveServer(settings) as live:
        before = live.runtime.predictor.version
        shutil.copyfile(narrower, served)
        assert live.runtime.loop is not None
        # What the SIGHUP handler runs, on the server's loop.
        asyncio.run_coroutine_threadsafe(live.runtime.reload_quietly(), live.runtime.loop).result(
            20
        )
        assert (live.runtime.predictor.version != before) is allow


def test_served_probabilities_equal_predict_proba_alone_and_in_a_batch(
    demo_model, demo_rows, tmp_path
):
    names, rows = demo_rows
    model = logitkit.load(demo_model)
    expected = model.predict_proba(pd.DataFrame(rows, columns=names))
    classes = [str(c) for c in model.classes_]
    settings = Settings(model_path=demo_model, db_url=f"sqlite:///{tmp_path / 'l.db'}")
    with LiveServer(settings) as live:
        client = live.client()
        batch = client.post("/v1/predict", json=instances(names, rows)).json()["predictions"]
        alone = [
            client.post("/v1/predict", json=instances(names, [row])).json()["predictions"][0]
            for row in rows[:120]
        ]
    got = np.array([[p["probabilities"][c] for c in classes] for p in batch])
    assert np.array_equal(got, expected)  # bit for bit, every row of the batch
    got_alone = np.array([[p["probabilities"][c] for c in classes] for p in alone])
    assert np.array_equal(got_alone, expected[:120])
