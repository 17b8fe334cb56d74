"""``logitkit drift`` on a prediction log written by a live server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logitkit.cli import app
from logitkit.data.demo import DEMO_TARGET, load_demo
from logitkit.serve import Settings
from tests.serve.helpers import LiveServer, instances

runner = CliRunner()


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A model and a log of 200 ordinary rows then 200 rows scaled by 1.5."""
    tmp = tmp_path_factory.mktemp("drift")
    model = tmp / "model.json"
    assert runner.invoke(app, ["train", "--quiet", "--out", str(model)]).exit_code == 0
    frame = load_demo().drop(columns=[DEMO_TARGET])
    names, rows = list(frame.columns), frame.to_numpy(dtype=float).tolist()
    db = f"sqlite:///{tmp / 'log.db'}"
    with LiveServer(Settings(model_path=model, db_url=db)) as live:
        client = live.client()
        assert client.post("/v1/predict", json=instances(names, rows[:200])).status_code == 200
        shifted = [[v * 1.5 for v in r] for r in rows[200:400]]
        assert client.post("/v1/predict", json=instances(names, shifted)).status_code == 200
    return model, db


def test_table_output_flags_the_shift(logged):
    model, db = logged
    result = runner.invoke(app, ["drift", str(model), "--db", db, "--window", "200"])
    assert result.exit_code == 0, result.output
    assert "mean radius" in result.output
    assert "Predicted-positive rate" in result.output
    assert "Drifted:" in result.output
    assert "nothing" not in result.output.split("Drifted:")[1]


def test_json_and_fail_on_drift(logged):
    model, db = logged
    result = runner.invoke(
        app, ["drift", str(model), "--db", db, "--window", "200", "--json", "--fail-on-drift"]
    )
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["n"] == 200
    assert "mean radius" in report["flagged"]


def test_bigger_windows_get_lower_thresholds(logged):
    model, db = logged
    small = json.loads(
        runner.invoke(app, ["drift", str(model), "--db", db, "--window", "50", "--json"]).output
    )
    large = json.loads(
        runner.invoke(app, ["drift", str(model), "--db", db, "--window", "400", "--json"]).output
    )
    assert small["features"][0]["psi"]["threshold"] > large["features"][0]["psi"]["threshold"]


def test_bad_input_is_one_line(logged, tmp_path):
    model, _ = logged
    result = runner.invoke(app, ["drift", str(model), "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    result = runner.invoke(app, ["drift", str(model), "--window", "1"])
    assert result.exit_code == 2


def test_a_two_row_window_gets_no_rate_interval_only_the_rows_it_needs(logged):
    model, db = logged
    result = runner.invoke(app, ["drift", str(model), "--db", db, "--window", "2"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "not tested, the window has 2 rows and the test needs at least" in text
    assert "95% CI" not in text.split("Predicted-positive rate")[1].split(".")[0]
