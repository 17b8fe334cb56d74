"""``logitkit predict``: streamed predictions equal in-process ones bit for bit."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit.cli import app
from logitkit.data.arrow import read_table
from logitkit.data.demo import load_demo
from tests.cli.helpers import loan_frame, save_loan_model

runner = CliRunner()


@pytest.fixture(scope="module")
def loans(tmp_path_factory):
    where = tmp_path_factory.mktemp("loans")
    frame = loan_frame()
    frame.to_csv(where / "loans.csv", index=False)
    frame.to_parquet(where / "loans.parquet", index=False)
    model = save_loan_model(where / "model.json", frame)
    return where, frame, model


def _expected(model_path, frame):
    model = logitkit.load(model_path)
    proba = model.predict_proba(frame)
    policy = logitkit.ThresholdPolicy.from_dict(model.artifact_["policy"])
    column = list(model.classes_).index(policy.positive)
    return model, proba[:, column], policy.decide_labels(proba[:, column])


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_csv_and_parquet_out_equal_in_process_predictions(loans, suffix):
    where, frame, model_path = loans
    out = where / f"pred-{suffix}.{suffix}"
    result = runner.invoke(
        app,
        [
            "predict",
            *(str(model_path), str(where / f"loans.{suffix}")),
            *("--out", str(out), "--keep", "id", "--batch-size", "7"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote 300 predictions to {out}" in result.output
    written = read_table(out)
    assert list(written.columns) == ["id", "probability", "label", "decision"]
    model, probability, decision = _expected(model_path, read_table(where / "loans.csv"))
    np.testing.assert_array_equal(written["id"], frame["id"])  # input order
    np.testing.assert_array_equal(written["probability"].to_numpy(), probability)
    np.testing.assert_array_equal(written["label"], model.predict(frame))
    np.testing.assert_array_equal(written["decision"], decision)
    if suffix == "parquet":
        assert str(pq.read_schema(out).field("probability").type) == "double"


def test_stdout_csv_and_json_lines(loans):
    where, frame, model_path = loans
    result = runner.invoke(app, ["predict", str(model_path), str(where / "loans.csv")])
    assert result.exit_code == 0, result.output
    _, probability, _ = _expected(model_path, frame)
    printed = pd.read_csv(io.StringIO(result.stdout))
    np.testing.assert_array_equal(printed["probability"].to_numpy(), probability)
    result = runner.invoke(app, ["predict", str(model_path), str(where / "loans.csv"), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 300
    assert [r["probability"] for r in rows] == probability.tolist()


def test_demo_model_from_train_reproduces_in_process_predictions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "--quiet"])  # the README's first command
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model.json").exists()
    assert (tmp_path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    demo = load_demo()
    demo.to_csv(tmp_path / "demo.csv", index=False)
    result = runner.invoke(
        app, ["predict", "model.json", "demo.csv", "--out", "pred.csv", "--batch-size", "100"]
    )
    assert result.exit_code == 0, result.output
    model = logitkit.load(tmp_path / "model.json")
    expected = model.predict_proba(demo.drop(columns=["diagnosis"]))[:, 1]
    written = read_table(tmp_path / "pred.csv")
    np.testing.assert_array_equal(written["probability"].to_numpy(), expected)
    assert set(written["decision"]) <= {"malignant", "benign"}


def test_unseen_level_is_a_one_line_error_and_leaves_no_file(loans, tmp_path):
    _, frame, model_path = loans
    bad = frame.assign(region=frame["region"].where(frame.index != 250, "centre"))
    bad.to_csv(tmp_path / "bad.csv", index=False)
    out = tmp_path / "pred.csv"
    result = runner.invoke(
        app, ["predict", str(model_path), str(tmp_path / "bad.csv"), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "Column 'region' has level(s) 'centre' not seen in training" in result.output
    assert "'east', 'north', 'south', 'west'" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not (tmp_path / "pred.csv.tmp").exists()


def test_missing_column_and_untrusted_model(loans, tmp_path):
    where, frame, model_path = loans
    frame.drop(columns=["debt"]).to_csv(tmp_path / "nodebt.csv", index=False)
    result = runner.invoke(app, ["predict", str(model_path), str(tmp_path / "nodebt.csv")])
    assert result.exit_code == 2
    assert "lack column(s) 'debt'" in result.output
    tampered = tmp_path / "tampered.json"
    tampered.write_text(model_path.read_text().replace('"outcome"', '"outcome2"', 1))
    result = runner.invoke(app, ["predict", str(tampered), str(where / "loans.csv")])
    assert result.exit_code == 2
    assert "failed its integrity check" in result.output


def test_multiclass_model_writes_one_probability_per_class(tmp_path):
    frame = loan_frame(n=240, seed=3)
    y = frame["region"].to_numpy()
    X = frame[["age", "debt"]]
    model = logitkit.LogisticModel().fit(X, y)
    model.save(tmp_path / "m.json")
    X.to_csv(tmp_path / "x.csv", index=False)
    result = runner.invoke(
        app, ["predict", str(tmp_path / "m.json"), str(tmp_path / "x.csv"), "--out", "p.parquet"]
    )
    assert result.exit_code == 0, result.output
    written = read_table("p.parquet")
    assert list(written.columns) == [*(f"proba_{c}" for c in model.classes_), "label"]
    np.testing.assert_array_equal(written.iloc[:, :4].to_numpy(), model.predict_proba(X))


def test_model_fitted_without_names_reads_the_columns_in_order(tmp_path, breast_cancer):
    X, y = breast_cancer
    model = logitkit.LogisticModel().fit(X, y)
    model.save(tmp_path / "m.json")
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame.insert(0, "id", np.arange(len(frame)) * 10)
    frame.to_csv(tmp_path / "x.csv", index=False)
    result = runner.invoke(
        app, ["predict", str(tmp_path / "m.json"), "x.csv", "--keep", "id", "--out", "p.csv"]
    )
    assert result.exit_code == 0, result.output
    written = read_table("p.csv")
    np.testing.assert_array_equal(written["probability"], model.predict_proba(X)[:, 1])
    assert "decision" not in written.columns  # no policy stored


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
