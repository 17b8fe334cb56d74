"""``logitkit train`` driven as a user would, through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit.cli import app
from logitkit.data.demo import load_demo
from tests.cli.helpers import loan_frame

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Run in a scratch directory: train writes report.html there by default."""
    monkeypatch.chdir(tmp_path)


def test_demo_trains_prints_summary_and_writes_model(tmp_path):
    out = tmp_path / "model.json"
    result = runner.invoke(app, ["train", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "breast-cancer demo" in result.output
    assert "Positive class malignant" in result.output
    assert "ROC-AUC" in result.output
    assert "cross-validation of the whole procedure" in " ".join(result.output.split())
    model = logitkit.load(out)
    assert list(model.classes_) == ["benign", "malignant"]
    frame = load_demo()
    proba = model.predict_proba(frame.drop(columns=["diagnosis"]))
    assert proba.shape == (569, 2)


def test_json_output_for_scripts(tmp_path):
    result = runner.invoke(app, ["train", "--json", "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["positive"] == "malignant"
    assert report["fitting_rows"] == 569
    assert report["held_out_rows"] == 0
    assert report["performance"]["metrics"]["roc_auc"]["auc"] > 0.95


def test_quiet_prints_nothing(tmp_path):
    result = runner.invoke(app, ["train", "--quiet", "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 0
    assert result.output == ""


def test_csv_with_target_and_drop(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {"id": np.arange(n), "age": rng.normal(50, 10, n), "dose": rng.normal(1, 0.3, n)}
    )
    logit = 0.08 * (frame["age"] - 50) + 2 * (frame["dose"] - 1)
    frame["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "model.json"
    result = runner.invoke(
        app,
        [
            "train",
            str(path),
            "--target",
            "outcome",
            "--positive",
            "yes",
            "--drop",
            "id",
            "--penalty",
            "l1",
            "--C",
            "0.5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    model = logitkit.load(out)
    assert list(model.feature_names_in_) == ["age", "dose"]


def test_bad_input_gives_one_line_error(tmp_path):
    result = runner.invoke(app, ["train", str(tmp_path / "missing.csv"), "--target", "y"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output
    frame = load_demo()
    path = tmp_path / "demo.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(app, ["train", str(path), "--target", "nope"])
    assert result.exit_code == 2
    assert "Target column 'nope' is not in the data" in result.output
    result = runner.invoke(app, ["train", "--positive", "maybe"])
    assert result.exit_code == 2
    assert "'maybe' is not a class" in result.output


def test_demo_policy_is_chosen_out_of_fold_and_stored(tmp_path):
    out = tmp_path / "model.json"
    result = runner.invoke(app, ["train", "--json", "--out", str(out)])
    report = json.loads(result.output)
    decisions = report["performance"]["decisions"]
    assert report["policy"]["rule"]["min_recall"] == 0.995
    # Each fold chose its own threshold; the rows it decided were never fitted on.
    assert len(report["performance"]["fold_thresholds"]) == 5
    assert decisions["recall"]["count"][1] == 212
    content = json.loads(out.read_text())
    assert content["policy"]["positive"] == "malignant"
    assert content["policy"]["threshold"] == report["policy"]["threshold"]
    assert content["policy"]["fitted_on"]["n_samples"] == report["fitting_rows"]
    assert set(content["reference"]["features"]) == set(load_demo().columns) - {"diagnosis"}
    model = logitkit.load(out)
    assert model.artifact_["policy"] == content["policy"]


def test_one_decision_rule_at_a_time(tmp_path):
    result = runner.invoke(
        app,
        ["train", "--min-recall", "0.9", "--threshold", "0.3", "--out", str(tmp_path / "m.json")],
    )
    assert result.exit_code == 2
    assert "Give one decision rule" in result.output
    result = runner.invoke(app, ["train", "--cost-fp", "1", "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "--cost-fp and --cost-fn go together" in result.output


def test_cost_rule(tmp_path):
    result = runner.invoke(
        app,
        ["train", "--json", "--cost-fp", "1", "--cost-fn", "20", "--out", str(tmp_path / "m.json")],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["policy"]["rule"]["cost_fn"] == 20


# ------------------------------------------------- categorical data, imputation, formula
def _loans_csv(tmp_path, holes=False):
    frame = loan_frame(n=300, seed=2)
    if holes:
        frame.loc[[3, 8, 40], "income"] = np.nan
        frame.loc[[5], "region"] = None
    path = tmp_path / "loans.csv"
    frame.to_csv(path, index=False)
    return frame, path


def test_text_columns_become_categories_and_missing_values_need_a_choice(tmp_path):
    frame, path = _loans_csv(tmp_path, holes=True)
    base = ["train", str(path), "--target", "outcome", "--positive", "default", "--drop", "id"]
    result = runner.invoke(app, [*base, "--out", "m.json"])
    assert result.exit_code == 2
    assert "Missing values in the training rows: 'income' (" in result.output
    assert "--impute median|most_frequent" in result.output
    result = runner.invoke(app, [*base, "--impute", "median", "--json", "--out", "m.json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["features"] == 5
    assert report["encoded_features"] == 7  # age, income, debt, 3 regions, member
    content = json.loads((tmp_path / "m.json").read_text())
    region = next(f for f in content["model"]["features"] if f["name"] == "region")
    assert region["levels"] == ["east", "north", "south", "west"]
    income = next(f for f in content["model"]["features"] if f["name"] == "income")
    assert income["impute"] == float(frame["income"].median()) or income["n_missing"] > 0
    assert content["model"]["encoding"]["impute"] == "median"
    assert content["diagnostics"] is not None
    assert content["inference"]["rows"][0][0] == "intercept"
    assert "region[T.south]" in content["model"]["encoded_features"]
    # The loaded model scores raw rows, with the stored medians for the holes.
    model = logitkit.load(tmp_path / "m.json")
    assert model.predict_proba(frame.drop(columns=["id", "outcome"])).shape == (300, 2)


def test_formula_and_cross_validated_c(tmp_path):
    frame, path = _loans_csv(tmp_path)
    result = runner.invoke(
        app,
        [
            *("train", str(path)),
            *("--formula", "outcome ~ age + C(region) + member + bs(debt, 3)"),
            *("--positive", "default", "--cv", "--cs", "5", "--folds", "3", "--json"),
            *("--min-recall", "0.8", "--report", "loans.html", "--out", "m.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["C"] is not None
    assert report["report_path"] == "loans.html"
    assert "<html" in (tmp_path / "loans.html").read_text().lower()
    content = json.loads((tmp_path / "m.json").read_text())
    cv = content["training"]["cross_validation"]
    assert cv["C"] == report["C"]
    assert cv["folds"] == 3
    assert len(cv["results"]) == 5
    assert content["model"]["params"]["C"] == cv["C"]
    assert content["model"]["encoding"]["formula"]["variables"] == [
        "age",
        "debt",
        "region",
        "member",
    ]
    assert "bs(debt, 3)[3]" in content["model"]["encoded_features"]
    assert content["policy"]["fitted_on"]["n_samples"] == report["fitting_rows"]
    model = logitkit.load(tmp_path / "m.json")
    assert model.predict(frame.head(3)).tolist() == model.predict(frame).tolist()[:3]


def test_formula_errors_are_one_line(tmp_path):
    _, path = _loans_csv(tmp_path)
    result = runner.invoke(
        app, ["train", str(path), "--formula", "outcome ~ age + __import__('os')", "--out", "m"]
    )
    assert result.exit_code == 2
    assert "does not evaluate" in result.output
    result = runner.invoke(
        app, ["train", str(path), "--formula", "y ~ age", "--target", "outcome", "--out", "m"]
    )
    assert result.exit_code == 2
    assert "The formula names the target 'y' but target names 'outcome'" in result.output
    result = runner.invoke(app, ["train", "--cv", "--penalty", "none", "--out", "m"])
    assert result.exit_code == 2
    assert "--cv chooses C for a penalty" in result.output


def test_text_output_shows_summary_and_diagnostics_and_no_report_on_request(tmp_path):
    result = runner.invoke(app, ["train", "--no-report", "--out", "m.json"])
    assert result.exit_code == 0, result.output
    assert "Logistic regression summary" in result.output
    assert "Policy" in result.output
    assert "Report written" not in result.output
    assert not (tmp_path / "report.html").exists()


def test_streamed_training_from_parquet(tmp_path):
    rng = np.random.default_rng(3)
    n = 3000
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    logit = 1.5 * frame["a"] - frame["b"]
    frame["y"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path)
    out = tmp_path / "model.json"
    result = runner.invoke(
        app,
        ["train", str(path), "--target", "y", "--stream", "--batch-rows", "500", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    model = logitkit.load(out)
    in_memory = logitkit.LogisticModel().fit(frame[["a", "b"]], frame["y"])
    np.testing.assert_allclose(model.coef_, in_memory.coef_, rtol=1e-8)
    result = runner.invoke(
        app,
        [
            *("train", str(path), "--target", "y", "--stream"),
            *("--folds-by", "stratified", "--out", str(out)),
        ],
    )
    assert result.exit_code == 2
    assert "--folds-by stratified cannot be combined with a streamed fit" in result.output


def test_grouped_data_from_the_command_line(tmp_path):
    # Venables & Ripley sec. 7.2: glm(cbind(numdead, 20 - numdead) ~ sex*ldose, binomial)
    # has residual deviance 4.9937 on 8 df.
    data = Path(__file__).parent.parent / "data" / "budworm.csv"
    out = tmp_path / "bud.json"
    args = ["train", str(data), "--formula", "numdead ~ sex*ldose", "--trials", "n"]
    result = runner.invoke(app, [*args, "--penalty", "none", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4.9937 on 8 df" in result.output
    stats = logitkit.load(out).fit_statistics()
    assert stats["deviance"] == pytest.approx(4.9937, abs=1e-4)
    assert stats["df_resid"] == 8
    result = runner.invoke(app, [*args, "--min-recall", "0.9", "--out", str(out)])
    assert result.exit_code == 2
    assert "cannot be combined with --trials" in result.output
