"""``logitkit evaluate``, ``threshold`` and ``summary`` on a saved model, as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit.artifact import SIGNING_KEY_ENV, write_content
from logitkit.cli import app
from tests.cli.helpers import loan_frame, save_loan_model

runner = CliRunner()


@pytest.fixture(scope="module")
def loans(tmp_path_factory):
    where = tmp_path_factory.mktemp("loans")
    save_loan_model(where / "model.json", loan_frame(n=300, seed=0))
    later = loan_frame(n=200, seed=1)  # rows the model never saw
    later.to_csv(where / "later.csv", index=False)
    return where, where / "model.json", later


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)


def _proba(model_path, frame, positive="default"):
    model = logitkit.load(model_path)
    column = list(model.classes_).index(positive)
    return model.predict_proba(frame)[:, column]


# ---------------------------------------------------------------------------- evaluate
def test_evaluate_prints_metrics_and_decisions(loans):
    where, model_path, _ = loans
    result = runner.invoke(app, ["evaluate", str(model_path), str(where / "later.csv")])
    assert result.exit_code == 0, result.output
    for text in ("ROC-AUC", "95% CI", "Brier score", "Hosmer-Lemeshow", "policy", "default"):
        assert text in result.output


def test_evaluate_json_equals_the_library(loans):
    where, model_path, later = loans
    result = runner.invoke(app, ["evaluate", str(model_path), str(where / "later.csv"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    policy = logitkit.ThresholdPolicy.from_dict(logitkit.load(model_path).artifact_["policy"])
    expected = logitkit.evaluate(
        later["outcome"], _proba(model_path, later), positive="default", threshold=policy
    )
    assert record["roc_auc"] == expected.to_dict()["roc_auc"]
    assert record["confusion"] == expected.to_dict()["confusion"]
    assert record["model"] == logitkit.load(model_path).artifact_["sha256"]


def test_evaluate_bad_labels_and_target(loans, tmp_path):
    where, model_path, later = loans
    later.assign(outcome="maybe").to_csv(tmp_path / "odd.csv", index=False)
    result = runner.invoke(app, ["evaluate", str(model_path), str(tmp_path / "odd.csv")])
    assert result.exit_code == 2
    assert "label 'maybe' (row 0); the model's classes are 'default', 'repaid'" in result.output
    result = runner.invoke(
        app, ["evaluate", str(model_path), str(where / "later.csv"), "--target", "nope"]
    )
    assert result.exit_code == 2
    assert "Target column 'nope' is not in" in result.output


# --------------------------------------------------------------------------- threshold
def test_threshold_rechooses_without_refitting(loans, tmp_path):
    where, model_path, later = loans
    before = model_path.read_bytes()
    out = tmp_path / "new.json"
    result = runner.invoke(
        app,
        [
            "threshold",
            *(str(model_path), str(where / "later.csv")),
            *("--min-recall", "0.8", "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "coefficients unchanged" in result.output
    assert model_path.read_bytes() == before  # the input is never overwritten
    old, new = logitkit.load(model_path), logitkit.load(out)
    np.testing.assert_array_equal(new.coef_, old.coef_)
    expected = logitkit.ThresholdPolicy.fit(
        later["outcome"], _proba(model_path, later), positive="default", min_recall=0.8
    )
    assert new.artifact_["policy"] == json.loads(json.dumps(expected.to_dict()))
    assert "later.csv (200 labelled rows" in new.artifact_["training"]["policy_chosen_on"]
    assert new.artifact_["sha256"] != old.artifact_["sha256"]


def test_threshold_reapplies_the_stored_rule_and_guards_the_input(loans, tmp_path):
    where, model_path, _ = loans
    copy = tmp_path / "model.json"
    copy.write_bytes(model_path.read_bytes())
    args = ["threshold", str(copy), str(where / "later.csv")]
    result = runner.invoke(app, [*args, "--out", str(copy)])
    assert result.exit_code == 2
    assert "pass --in-place to overwrite it" in result.output
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Name the updated model file with --out" in result.output
    result = runner.invoke(app, [*args, "--in-place", "--json"])
    assert result.exit_code == 0, result.output
    policy = json.loads(result.stdout)["policy"]
    assert policy["rule"] == {"method": "min_recall", "min_recall": 0.9}
    assert policy["fitted_on"]["n_samples"] == 200
    assert logitkit.load(copy).artifact_["policy"] == policy


def test_threshold_keeps_models_signed(loans, tmp_path, monkeypatch):
    where, model_path, _ = loans
    signed = write_content(logitkit.load(model_path).artifact_, tmp_path / "s.json", key="k3y")
    monkeypatch.setenv(SIGNING_KEY_ENV, "k3y")
    args = [str(where / "later.csv"), "--cost-fp", "1", "--cost-fn", "5"]
    result = runner.invoke(app, ["threshold", str(model_path), *args, "--out", "x.json"])
    assert result.exit_code == 2  # with a key set, an unsigned model is not trusted
    assert "is not signed" in result.output
    result = runner.invoke(app, ["threshold", str(signed), *args, "--in-place", "-q"])
    assert result.exit_code == 0, result.output
    assert result.output == ""
    content = logitkit.load(signed).artifact_  # verified with the key
    assert content["signature"]["algorithm"] == "HMAC-SHA256"
    assert content["policy"]["rule"]["cost_fn"] == 5


# ----------------------------------------------------------------------------- summary
def test_summary_prints_what_the_file_holds(loans):
    _, model_path, _ = loans
    result = runner.invoke(app, ["summary", str(model_path)])
    assert result.exit_code == 0, result.output
    for text in (
        "Inputs: age (float), income (float), debt (float), region (category 4 levels)",
        "Logistic regression summary",
        "region[T.south]",
        "Threshold: decide default when P(default) >=",
    ):
        assert text in result.output


def test_summary_json(loans):
    _, model_path, _ = loans
    result = runner.invoke(app, ["summary", str(model_path), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["signed"] is False
    assert [f["name"] for f in record["features"]] == ["age", "income", "debt", "region", "member"]
    assert record["summary"]["index"] == ["term"]
    assert record["policy"]["positive"] == "default"


def test_summary_of_a_broken_file(tmp_path):
    (tmp_path / "m.json").write_text("{")
    result = runner.invoke(app, ["summary", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
