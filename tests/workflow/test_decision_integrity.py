"""The pipeline as a new user meets it, on public data (tests/data/README.md).

Each test is one thing seen when the seams were tried: driven through the command
line and the Python API, with the positive label sorting first and last.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit.cli import app
from logitkit.data.demo import load_demo
from logitkit.serve.settings import Settings
from tests.serve.helpers import LiveServer

runner = CliRunner()
DATA = Path(__file__).parent.parent / "data"
#: ISLR's Default with "Yes" (the label that sorts last) as the positive class.
DEFAULT_YES = (str(DATA / "Default.csv"), "--target", "default", "--positive", "Yes")


def birthwt(tmp_path: Path) -> Path:
    """MASS birthwt with the outcome in words: 'low' sorts before 'normal'."""
    frame = pd.read_csv(DATA / "birthwt.csv").drop(columns=["rownames", "bwt"])
    frame["low"] = np.where(frame["low"] == 1, "low", "normal")
    path = tmp_path / "birthwt.csv"
    frame.to_csv(path, index=False)
    return path


def train_cli(*args: str) -> dict:
    result = runner.invoke(app, ["train", "--json", "--no-report", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(("positive", "sign"), [("low", 1.0), ("normal", -1.0)])
def test_summary_report_explain_and_served_probability_agree(tmp_path, positive, sign):
    # Smoking raises the odds of a low birth weight (Venables & Ripley, ch. 7).
    path = birthwt(tmp_path)
    out = tmp_path / "m.json"
    train_cli(
        str(path), "--target", "low", "--positive", positive, "--penalty", "none", "--out", str(out)
    )
    model = logitkit.load(out)
    assert model.positive_class_ == positive
    table = model.summary()
    assert np.sign(table.loc["smoke", "coef"]) == sign
    assert table.header["positive"] == positive
    assert f"log-odds of {positive}" in table.to_text()
    stored = logitkit.artifact.stored_summary(model.artifact_)
    assert np.sign(stored.loc["smoke", "coef"]) == sign
    # The same from Python.
    frame = pd.read_csv(path)
    result = logitkit.train(frame, target="low", positive=positive, penalty=None)
    assert result.summary.loc["smoke", "coef"] == pytest.approx(table.loc["smoke", "coef"])
    # The report speaks of the positive class, with the summary's numbers.
    page = logitkit.report.build_report(model)
    assert f"raise the odds of {positive}" in page
    # The service: explain and probability speak of the same class.
    rows = frame.drop(columns=["low"]).head(5).to_dict(orient="records")
    with LiveServer(Settings(model_path=out, db_url=f"sqlite:///{tmp_path / 'log.db'}")) as live:
        client = live.client()
        explained = client.post("/v1/explain", json={"instances": rows}).json()
        predicted = client.post("/v1/predict", json={"instances": rows}).json()
    first = explained["explanations"][0]
    assert first["target"] == positive
    smoke = next(c for c in first["contributions"] if c["feature"] == "smoke")
    assert smoke["coef"] == pytest.approx(table.loc["smoke", "coef"], rel=1e-12)
    column = list(model.classes_).index(positive)
    expected = model.predict_proba(frame.drop(columns=["low"]).head(5))[:, column]
    served = [p["probability"] for p in predicted["predictions"]]
    np.testing.assert_allclose(served, expected, rtol=1e-12)


def test_default_all_rows_fit_equals_published_glm(tmp_path):
    # ISLR 2nd ed., glm(default ~ balance + income + student, family = binomial).
    out = tmp_path / "m.json"
    record = train_cli(
        *DEFAULT_YES,
        "--penalty",
        "none",
        "--out",
        str(out),
    )
    assert record["fitting_rows"] == 10_000  # the shipped model saw every row
    table = logitkit.load(out).summary()
    assert table.loc["balance", "coef"] == pytest.approx(0.005737, rel=5e-4)
    assert table.loc["income", "coef"] == pytest.approx(0.000003033, rel=5e-4)
    assert table.loc["student[T.Yes]", "coef"] == pytest.approx(-0.6468, rel=5e-4)
    assert table.loc["balance", "std_err"] == pytest.approx(0.0002319, rel=5e-4)
    # Positive 'No' (sorts first): the same model, every effect turned around.
    flipped = logitkit.train(
        pd.read_csv(DATA / "Default.csv"), target="default", positive="No", penalty=None
    ).summary
    assert flipped.loc["balance", "coef"] == pytest.approx(-0.005737, rel=5e-4)
    assert flipped.loc["student[T.Yes]", "odds_ratio"] == pytest.approx(np.exp(0.6468), rel=1e-3)


def test_a_rule_on_a_multiclass_target_fails_naming_why(tmp_path):
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[frame.pop("target")]
    path, out = tmp_path / "iris.csv", tmp_path / "m.json"
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app,
        ["train", str(path), *["--target", "species", "--min-recall", "0.99", "--out"], str(out)],
    )
    assert result.exit_code == 2
    assert "binary" in result.output
    assert "3 classes" in result.output
    assert not out.exists()
    with pytest.raises(logitkit.DataError, match="3 classes"):
        logitkit.train(frame, target="species", min_recall=0.99)
    with pytest.raises(logitkit.DataError, match="binary target"):
        logitkit.train(frame, target="species", positive="setosa")


def test_streamed_fit_refuses_what_it_cannot_do(tmp_path):
    path = tmp_path / "d.parquet"
    pd.read_csv(DATA / "Default.csv").to_parquet(path)
    result = runner.invoke(
        app,
        [
            *("train", str(path), *["--target", "default", "--stream", "--min-recall", "0.9"]),
            *("--folds-by", "stratified"),
            *("--report", str(tmp_path / "r.html"), "--out", str(tmp_path / "m.json")),
        ],
    )
    assert result.exit_code == 2
    assert "--folds-by stratified cannot be combined with a streamed fit" in result.output
    assert not (tmp_path / "m.json").exists()
    assert not (tmp_path / "r.html").exists()


def test_demo_policy_says_what_the_data_cannot_show(tmp_path):
    result = runner.invoke(
        app, ["train", "--out", str(tmp_path / "m.json"), "--report", str(tmp_path / "r.html")]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "0.995" in text
    assert re.search(r"cannot (be )?show", text), text
    assert "unstable" in text.lower()
    model = logitkit.load(tmp_path / "m.json")
    checks = [f["check"] for f in model.artifact_["diagnostics"]]
    assert "unverifiable_policy" in checks
    assert "unstable_threshold" in checks
    # No degenerate interval: recall on 212 malignant rows is not "1 to 1".
    page = (tmp_path / "r.html").read_text()
    assert not re.search(r"(?<![\d.])1(\.0+)? to 1(\.0+)?(?!\d)", page)
    # The findings that matter lead the output; collinearity is one finding.
    findings = text[: text.index("Model:")] if "Model:" in text else text
    assert findings.lower().count("variance inflation") <= 1


def test_confidence_chooses_a_threshold_the_data_can_support_or_fails(tmp_path):
    # recall >= 0.995 cannot be shown at 95% from 212 malignant rows: a clear failure.
    result = runner.invoke(
        app,
        [
            "train",
            "--min-recall",
            "0.995",
            "--confidence",
            "0.95",
            "--out",
            str(tmp_path / "m.json"),
            "--no-report",
        ],
    )
    assert result.exit_code == 2
    assert "212" in result.output
    record = train_cli(
        "--min-recall", "0.95", "--confidence", "0.95", "--out", str(tmp_path / "m.json")
    )
    assert record["policy"]["rule"]["at_confidence"] == 0.95


def test_training_rows_are_never_called_held_out(tmp_path):
    out = tmp_path / "m.json"
    record = train_cli(
        *DEFAULT_YES,
        "--cv",
        "--cs",
        "4",
        "--test-size",
        "0.25",
        "--out",
        str(out),
    )
    assert record["held_out_rows"] == 2500
    assert record["fitting_rows"] == 7500
    result = runner.invoke(app, ["evaluate", str(out), str(DATA / "Default.csv"), "--json"])
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.output)
    assert evaluated["n_samples"] == 2500
    assert evaluated["rows"]["evaluated_on"] == "rows not used in training"
    # Only training rows: named optimistic, in the text and the report.
    frame = pd.read_csv(DATA / "Default.csv")
    seen = tmp_path / "seen.csv"
    fitted = logitkit.load(out)
    mask = logitkit.workflow.row_origin(fitted, frame.drop(columns=["default"])).seen
    frame[mask].to_csv(seen, index=False)
    result = runner.invoke(app, ["evaluate", str(out), str(seen)])
    assert result.exit_code == 0, result.output
    assert "training rows (optimistic)" in result.output
    page = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(out), str(seen), "--out", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "training rows (optimistic)" in html
    assert "held-out rows" not in html.replace("Held-out rows: ", "")
    assert "No cross-validation results were given" not in html


def test_the_shipped_model_fits_every_row_and_bad_shares_fail_clearly(tmp_path):
    record = train_cli("--out", str(tmp_path / "m.json"))
    assert record["fitting_rows"] == 569
    assert record["held_out_rows"] == 0
    assert "cross-validation of the whole procedure" in record["performance"]["procedure"]
    result = runner.invoke(
        app, ["train", "--test-size", "0.0001", "--no-report", "--out", str(tmp_path / "m.json")]
    )
    assert result.exit_code == 2
    assert "--test-size" in result.output
    assert "Traceback" not in result.output


def test_labels_that_differ_only_in_spelling_are_refused_or_merged(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200)})
    frame["y"] = np.where(frame["x"] + rng.normal(size=200) > 0, "yes", "no")
    frame.loc[:4, "y"] = ["yes ", "Yes", "yes ", "Yes", "No"]
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    args = [
        "train",
        str(path),
        "--target",
        "y",
        "--positive",
        "yes",
        "--no-report",
        "--out",
        str(tmp_path / "m.json"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "'Yes'" in result.output
    assert "--normalize-labels" in result.output
    record = train_cli(*args[1:-3], "--normalize-labels", "--out", str(tmp_path / "m.json"))
    assert record["classes"] == ["no", "yes"]


def test_advice_names_options_that_exist(tmp_path):
    frame = pd.read_csv(DATA / "Default.csv")
    result = runner.invoke(
        app,
        ["train", *DEFAULT_YES, "--no-report", "--out", str(tmp_path / "m.json")],
    )
    assert result.exit_code == 0, result.output
    assert "class_weight=" not in result.output  # Python syntax has no place on the CLI
    # The option the advice names is there and takes effect.
    record = train_cli(
        *DEFAULT_YES,
        "--class-weight",
        "balanced",
        "--out",
        str(tmp_path / "w.json"),
    )
    weighted = logitkit.load(tmp_path / "w.json")
    assert weighted.class_weight == "balanced"
    assert record["positive"] == "Yes"
    assert len(frame) == 10_000


def test_findings_are_right_on_public_data(tmp_path):
    smarket = pd.read_csv(DATA / "Smarket.csv").drop(columns=["Year", "Today"])
    result = logitkit.train(smarket, target="Direction", positive="Up", penalty=None)
    assert result.findings[0].check == "no_signal"
    default = logitkit.train(
        pd.read_csv(DATA / "Default.csv"), target="default", positive="Yes", penalty=None
    )
    assert "saturation" not in {f.check for f in default.findings}


def test_a_stray_token_in_a_numeric_column_is_named_with_its_line(tmp_path):
    frame = pd.read_csv(DATA / "birthwt.csv").drop(columns=["rownames", "bwt"])
    frame["lwt"] = frame["lwt"].astype(object)
    frame.loc[6, "lwt"] = "?"
    path = tmp_path / "birthwt.csv"
    frame.to_csv(path, index=False)
    args = ["train", str(path), "--target", "low", "--no-report", "--out", str(tmp_path / "m.json")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "'lwt'" in text
    assert "'?'" in text
    assert "line 8" in text  # the header is line 1
    assert "--na-values" in text
    result = runner.invoke(app, [*args, "--na-values", "?", "--impute", "median", "--json"])
    assert result.exit_code == 0, result.output
    model = logitkit.load(tmp_path / "m.json")
    assert "lwt" in model.encoder_.input_names  # still a number, not a '[T.?]' level
    assert not any("?" in name for name in model.artifact_["model"]["encoded_features"])


def test_a_threshold_is_not_rechosen_on_training_rows(tmp_path):
    model, rows = tmp_path / "m.json", tmp_path / "demo.csv"
    load_demo().to_csv(rows, index=False)
    train_cli("--out", str(model))  # every demo row trains the model
    args = ["threshold", str(model), str(rows), "--min-recall", "0.9", "--out", str(tmp_path / "n")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "in-sample" in result.output
