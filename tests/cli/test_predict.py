"""``logitkit predict``: streamed predictions equal in-process ones bit for bit, in columns
named after the class they are the probability of."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

import logitkit
from logitkit import DataError, LogisticModel
from logitkit.cli import app
from logitkit.cli._reading import (
    DecimalOption,
    NaValuesOption,
    NormalizeLabelsOption,
    ReferenceOption,
    SepOption,
    parse_reference,
    read_options,
)
from logitkit.data.arrow import read_table
from logitkit.data.demo import load_demo
from logitkit.data.encoding import TableEncoder
from tests.cli.helpers import loan_frame, save_loan_model

runner = CliRunner()
BIRTHWT = Path(__file__).parents[1] / "data" / "birthwt.csv"


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
    assert list(written.columns) == ["id", "p_default", "label", "decision"]
    model, probability, decision = _expected(model_path, read_table(where / "loans.csv"))
    np.testing.assert_array_equal(written["id"], frame["id"])  # input order
    np.testing.assert_array_equal(written["p_default"].to_numpy(), probability)
    np.testing.assert_array_equal(written["label"], model.predict(frame))
    np.testing.assert_array_equal(written["decision"], decision)
    if suffix == "parquet":
        assert str(pq.read_schema(out).field("p_default").type) == "double"


def test_stdout_csv_and_json_lines(loans):
    where, frame, model_path = loans
    result = runner.invoke(app, ["predict", str(model_path), str(where / "loans.csv")])
    assert result.exit_code == 0, result.output
    _, probability, _ = _expected(model_path, frame)
    printed = pd.read_csv(io.StringIO(result.stdout))
    np.testing.assert_array_equal(printed["p_default"].to_numpy(), probability)
    result = runner.invoke(app, ["predict", str(model_path), str(where / "loans.csv"), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 300
    assert [r["p_default"] for r in rows] == probability.tolist()


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
    column = list(model.classes_).index("malignant")
    expected = model.predict_proba(demo.drop(columns=["diagnosis"]))[:, column]
    written = read_table(tmp_path / "pred.csv")
    assert list(written.columns) == ["p_malignant", "label", "decision"]
    np.testing.assert_array_equal(written["p_malignant"].to_numpy(), expected)
    assert set(written["decision"]) <= {"malignant", "benign"}
    assert "decision = 'malignant' if p_malignant >= " in result.output


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
    assert "that is row 250" not in result.output  # one batch: its rows are the file's
    result = runner.invoke(
        app, ["predict", str(model_path), "bad.csv", "--out", str(out), "--batch-size", "7"]
    )
    assert result.exit_code == 2
    assert "first at row 5)" in result.output  # within the batch of rows 245-251
    assert "In the file that is row 250, counted from 0 after the header." in result.output
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
    assert list(written.columns) == [*(f"p_{c}" for c in model.classes_), "label"]
    np.testing.assert_array_equal(written.iloc[:, :4].to_numpy(), model.predict_proba(X))
    np.testing.assert_array_equal(written["label"], model.predict(X))
    assert "Columns: p_<class> = the probability of each class;" in result.output


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
    assert list(written.columns) == ["id", "p_1", "label"]  # classes_[1]; no policy stored
    np.testing.assert_array_equal(written["p_1"], model.predict_proba(X)[:, 1])
    assert "p_1 = the probability of 1; label = the most probable class; no decision " in (
        result.output
    )
    assert "m.json stores no threshold policy)." in result.output


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_legend_says_what_each_column_means_and_where_the_threshold_came_from(loans):
    where, _, model_path = loans
    result = runner.invoke(app, ["predict", str(model_path), str(where / "loans.csv")])
    assert result.exit_code == 0, result.output
    threshold = logitkit.load(model_path).artifact_["policy"]["threshold"]
    assert (
        "Columns: p_default = the probability of 'default'; label = the most probable class; "
        f"decision = 'default' if p_default >= {threshold:.6g} else 'repaid' (the threshold "
        f"of the policy stored in {model_path}: the highest threshold with recall >= 0.9)."
    ) in result.output
    quiet = runner.invoke(app, ["predict", str(model_path), str(where / "loans.csv"), "-q"])
    assert "Columns:" not in quiet.output


def test_the_models_positive_class_names_the_probability_column(tmp_path):
    frame = loan_frame(n=200, seed=4)
    X = frame.drop(columns=["id", "outcome"])
    y = frame["outcome"].to_numpy()
    encoder = TableEncoder().fit(X)
    model = LogisticModel(positive_class="default").fit(encoder.transform(X), y)
    model.encoder_ = encoder
    logitkit.save(model, tmp_path / "m.json")
    frame.to_csv("loans.csv", index=False)
    result = runner.invoke(app, ["predict", "m.json", "loans.csv", "--out", "p.csv"])
    assert result.exit_code == 0, result.output
    written = read_table("p.csv")
    assert list(written.columns) == ["p_default", "label"]
    np.testing.assert_array_equal(written["p_default"], model.predict_proba(X)[:, 0])
    result = runner.invoke(app, ["predict", "m.json", "loans.csv", "--positive", "repaid"])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(io.StringIO(result.stdout)).columns) == ["p_repaid", "label"]


def _imputing_model(path, frame):
    """A model whose encoder fills missing values with the training medians and modes."""
    X = frame.drop(columns=["id", "outcome"])
    encoder = TableEncoder(impute="median").fit(X)
    model = LogisticModel().fit(encoder.transform(X), frame["outcome"].to_numpy())
    model.encoder_ = encoder
    return logitkit.save(model, path, training={"target": "outcome"})


def _with_holes(frame):
    holes = frame.astype({"region": object}).copy()
    holes.loc[[3, 150], "income"] = np.nan
    holes.loc[7, "region"] = None
    return holes


def test_missing_values_are_filled_as_the_model_learned_or_named_with_a_real_fix(loans):
    where, frame, model_path = loans
    holes = _with_holes(frame)
    holes.to_csv("holes.csv", index=False)
    imputing = _imputing_model(where / "imputing.json", frame)
    result = runner.invoke(
        app, ["predict", str(imputing), "holes.csv", "--out", "p.csv", "--batch-size", "50"]
    )
    assert result.exit_code == 0, result.output
    written = read_table("p.csv")
    expected = logitkit.load(imputing).predict_proba(holes.drop(columns=["id", "outcome"]))
    np.testing.assert_array_equal(written["p_repaid"], expected[:, 1])
    result = runner.invoke(app, ["predict", str(model_path), "holes.csv"])
    assert result.exit_code == 2
    assert "Missing values in the rows: 'income' (2), 'region' (1), first at row 3" in result.output
    assert "fill them in, or refit it with imputation (logitkit train --impute median" in (
        result.output
    )
    assert "predict --impute" not in result.output
    assert "Traceback" not in result.output


def test_stray_tokens_name_the_line_and_na_values_reads_them_as_missing(loans):
    where, frame, _ = loans
    text = frame.astype({"income": object})
    text.loc[5, "income"] = "?"
    text.to_csv("marked.csv", index=False)
    imputing = _imputing_model(where / "imputing.json", frame)
    result = runner.invoke(app, ["predict", str(imputing), "marked.csv"])
    assert result.exit_code == 2
    assert "Column 'income' of marked.csv is numeric but holds 1 other value(s): '?'" in (
        result.output
    )
    assert "(first at line 7)" in result.output
    assert "--na-values '?'" in result.output
    result = runner.invoke(
        app, ["predict", str(imputing), "marked.csv", "--na-values", "?", "--out", "p.csv"]
    )
    assert result.exit_code == 0, result.output
    holes = frame.drop(columns=["id", "outcome"]).assign(
        income=frame["income"].where(frame.index != 5)
    )
    expected = logitkit.load(imputing).predict_proba(holes)[:, 1]
    np.testing.assert_array_equal(read_table("p.csv")["p_repaid"], expected)


def test_semicolon_files_with_decimal_commas_are_found_or_named(loans):
    _, frame, model_path = loans
    frame.to_csv("semi.csv", index=False, sep=";", decimal=",")
    _, probability, _ = _expected(model_path, frame)
    for options in ([], ["--sep", ";", "--decimal", ","]):
        result = runner.invoke(app, ["predict", str(model_path), "semi.csv", *options])
        assert result.exit_code == 0, result.output
        printed = pd.read_csv(io.StringIO(result.stdout))
        np.testing.assert_allclose(printed["p_default"], probability, rtol=1e-12)


def test_keep_column_that_an_output_would_overwrite_is_refused(loans):
    _, frame, model_path = loans
    frame.assign(decision="yes").to_csv("with_decision.csv", index=False)
    result = runner.invoke(
        app, ["predict", str(model_path), "with_decision.csv", "--keep", "decision"]
    )
    assert result.exit_code == 2
    assert "--keep decision clashes with an output column of the same name" in result.output


def test_reading_options_parse_as_typed(loans):
    assert parse_reference(["region=south", "tier = gold=plus"]) == {
        "region": "south",
        "tier": "gold=plus",
    }
    for bad in (["region"], ["=south"], ["region="], ["region=south", "region=east"]):
        with pytest.raises(DataError, match="--reference"):
            parse_reference(bad)
    assert read_options(None, "tab", ",") == {"na_values": None, "sep": "\t", "decimal": ","}
    _, frame, model_path = loans
    frame.to_csv("tabs.csv", index=False, sep="\t")
    result = runner.invoke(app, ["predict", str(model_path), "tabs.csv", "--sep", "\\t"])
    assert result.exit_code == 0, result.output
    _, probability, _ = _expected(model_path, frame)
    np.testing.assert_array_equal(pd.read_csv(io.StringIO(result.stdout))["p_default"], probability)


def test_shared_reading_options_make_the_documented_command_line():
    command = typer.Typer()

    @command.command()
    def read(
        na_values: NaValuesOption = None,
        sep: SepOption = None,
        decimal: DecimalOption = None,
        normalize_labels: NormalizeLabelsOption = False,
        reference: ReferenceOption = None,
    ) -> None:
        options = read_options(na_values, sep, decimal)
        typer.echo(json.dumps([options, normalize_labels, parse_reference(reference)]))

    args = ["--na-values", "?", "--na-values", "n/k", "--sep", ";", "--decimal", ","]
    args += ["--normalize-labels", "--reference", "region=south", "--reference", "tier=gold"]
    result = runner.invoke(command, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"na_values": ["?", "n/k"], "sep": ";", "decimal": ","},
        True,
        {"region": "south", "tier": "gold"},
    ]
    assert json.loads(runner.invoke(command, []).stdout) == [
        {"na_values": None, "sep": None, "decimal": None},
        False,
        {},
    ]


@pytest.fixture(scope="module")
def birthwt(tmp_path_factory):
    """MASS birthwt (``low`` on eight predictors) fitted by maximum likelihood, saved."""
    where = tmp_path_factory.mktemp("birthwt")
    frame = pd.read_csv(BIRTHWT)
    X = frame[["age", "lwt", "race", "smoke", "ptl", "ht", "ui", "ftv"]].astype(float)
    model = LogisticModel(penalty=None).fit(X, frame["low"].to_numpy())
    path = model.save(where / "model.json")
    X.assign(id=frame["rownames"]).to_csv(where / "rows.csv", index=False)
    return where, X, path


def test_interval_adds_the_bounds_of_the_positive_probability(birthwt):
    where, X, path = birthwt
    out = where / "pred.parquet"
    args = ["predict", str(path), str(where / "rows.csv"), "--keep", "id", "--out", str(out)]
    result = runner.invoke(app, [*args, "--interval", "0.9", "--batch-size", "50"])
    assert result.exit_code == 0, result.output
    written = read_table(out)
    assert list(written.columns) == ["id", "p_1", "p_1_low", "p_1_high", "label"]
    expected = logitkit.load(path).predict_interval(X, level=0.9)
    np.testing.assert_array_equal(written["p_1"].to_numpy(), expected["probability"])
    np.testing.assert_allclose(written["p_1_low"].to_numpy(), expected["ci_low"], rtol=1e-12)
    np.testing.assert_allclose(written["p_1_high"].to_numpy(), expected["ci_high"], rtol=1e-12)
    assert "p_1_low, p_1_high = its 90% confidence interval" in result.output
    # Without the option the output is as before.
    result = runner.invoke(app, ["predict", str(path), str(where / "rows.csv"), "--keep", "id"])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(io.StringIO(result.stdout)).columns) == ["id", "p_1", "label"]


def test_interval_of_the_other_class_is_the_mirror(birthwt):
    where, X, path = birthwt
    args = ["predict", str(path), str(where / "rows.csv"), "--keep", "id", "--interval", "0.95"]
    result = runner.invoke(app, [*args, "--positive", "0"])
    assert result.exit_code == 0, result.output
    printed = pd.read_csv(io.StringIO(result.stdout))
    assert list(printed.columns) == ["id", "p_0", "p_0_low", "p_0_high", "label"]
    expected = logitkit.load(path).predict_interval(X)
    np.testing.assert_allclose(printed["p_0_low"], 1.0 - expected["ci_high"], rtol=1e-9)
    np.testing.assert_allclose(printed["p_0_high"], 1.0 - expected["ci_low"], rtol=1e-9)


def test_interval_is_refused_for_penalised_models_and_bad_levels(loans, birthwt, tmp_path):
    where, _, model_path = loans
    out = tmp_path / "pred.csv"
    args = ["predict", str(model_path), str(where / "loans.csv"), "--out", str(out)]
    result = runner.invoke(app, [*args, "--interval", "0.95"])
    assert result.exit_code == 2
    assert "--interval: Prediction intervals are refused for a penalised fit" in result.output
    assert "Refit with penalty=None" in result.output
    assert not out.exists()
    where, _, path = birthwt
    for level in ("95", "0", "1"):
        result = runner.invoke(
            app, ["predict", str(path), str(where / "rows.csv"), "--interval", level]
        )
        assert result.exit_code == 2
        assert "--interval must be a level in (0, 1)" in result.output
