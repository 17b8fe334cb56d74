"""``logitkit report`` driven as a user would, through Typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from logitkit.cli import app
from logitkit.data.demo import load_demo

runner = CliRunner()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli-report") / "model.json"
    result = runner.invoke(app, ["train", "--quiet", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli-data") / "demo.csv"
    load_demo().sample(150, random_state=1).to_csv(path, index=False)
    return path


def test_report_from_the_model_file_alone(model_file, tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", str(model_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"written to {out}" in " ".join(result.output.split())
    page = out.read_text(encoding="utf-8")
    assert "Flag as malignant when P(malignant) ≥" in page
    assert "No labelled rows to evaluate" in page
    assert "Report on model.json" in page


def test_report_evaluated_on_labelled_data(model_file, demo_csv, tmp_path):
    out = tmp_path / "report.html"
    args = ["report", str(model_file), str(demo_csv), "--out", str(out), "--title", "Audit"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # The demo model was fitted on every row: these rows are named for what they are.
    assert "evaluated on 150 training rows (optimistic)" in " ".join(result.output.split())
    page = out.read_text(encoding="utf-8")
    assert "<title>Audit</title>" in page
    assert 'id="ex-slider"' in page
    assert "ROC-AUC" in page


def test_quiet_prints_nothing(model_file, tmp_path):
    result = runner.invoke(
        app, ["report", str(model_file), "-q", "--out", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0
    assert result.output == ""


def one_line_error(result, message: str) -> None:
    assert result.exit_code == 2
    assert result.output.startswith("error:")
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_an_unknown_target_is_a_one_line_error(model_file, demo_csv, tmp_path):
    args = ["report", str(model_file), str(demo_csv), "--target", "outcome"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r.html")])
    one_line_error(result, "Target column 'outcome' is not in")


def test_unknown_labels_are_a_one_line_error(model_file, tmp_path):
    path = tmp_path / "relabelled.csv"
    frame = load_demo().head(50)
    frame["diagnosis"] = frame["diagnosis"].replace({"benign": "healthy"})
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app, ["report", str(model_file), str(path), "--out", str(tmp_path / "r.html")]
    )
    one_line_error(result, "label(s) 'healthy' that the model does not know")


def test_missing_files_are_one_line_errors(model_file, tmp_path):
    one_line_error(
        runner.invoke(app, ["report", str(tmp_path / "none.json")]), "Cannot read model file"
    )
    result = runner.invoke(app, ["report", str(model_file), str(tmp_path / "none.csv")])
    one_line_error(result, "does not exist")


def test_data_without_the_model_columns(model_file, tmp_path):
    path = tmp_path / "few.csv"
    load_demo()[["mean radius", "diagnosis"]].to_csv(path, index=False)
    result = runner.invoke(
        app, ["report", str(model_file), str(path), "--out", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 2
    assert "mean texture" in result.output
