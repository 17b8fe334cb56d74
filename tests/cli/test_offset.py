"""``logitkit train --offset/--lower-bound/--upper-bound/--penalty-factor`` as a user runs them.

The offset fit is checked against statsmodels ``GLM(..., offset=)`` on the birth-weight
data (the numbers the artifact stores equal the reference to 1e-6), and ``logitkit
predict`` must read the offset column from the data it scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

import logitkit
from logitkit.cli import app

runner = CliRunner()
DATA = Path(__file__).parent.parent / "data"
FEATURES = ["age", "lwt", "smoke", "ht", "ui"]


@pytest.fixture
def births(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, pd.DataFrame]:
    monkeypatch.chdir(tmp_path)
    frame = pd.read_csv(DATA / "birthwt.csv")[["low", *FEATURES, "ptl"]]
    frame["prior"] = 0.4 * np.log1p(frame.pop("ptl"))  # a known log-odds term per row
    path = tmp_path / "births.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_train_offset_equals_statsmodels_and_predict_reads_it(
    births: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    path, frame = births
    out = tmp_path / "model.json"
    args = ["train", str(path), "--target", "low", "--penalty", "none", "--offset", "prior"]
    result = runner.invoke(app, [*args, "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    model = logitkit.load(out)
    assert model.offset_column_ == "prior"
    assert model.fitted_with_offset_
    assert "prior" not in [str(n) for n in model.feature_names_in_]
    X = frame[FEATURES].astype(float)
    ref = sm.GLM(
        frame["low"], sm.add_constant(X), family=sm.families.Binomial(), offset=frame["prior"]
    ).fit(tol=1e-12)
    table = model.summary()
    np.testing.assert_allclose(table["coef"].to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(table["std_err"].to_numpy(), ref.bse.to_numpy(), rtol=1e-6)

    scored = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", str(out), str(path), "--out", str(scored), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(pd.read_csv(scored)["p_1"], ref.fittedvalues, rtol=1e-7)

    missing = tmp_path / "no_prior.csv"
    frame.drop(columns="prior").to_csv(missing, index=False)
    result = runner.invoke(app, ["predict", str(out), str(missing)])
    assert result.exit_code == 2
    assert "offset column 'prior'" in result.output


def test_train_bounds_and_penalty_factors_take_effect(
    births: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    path, frame = births
    out = tmp_path / "model.json"
    args = ["train", str(path), "--target", "low", "--drop", "prior", "--no-report", "--out"]
    result = runner.invoke(
        app,
        [*args, str(out), "--upper-bound", "age=0", "--lower-bound", "lwt=-0.01",
         "--penalty-factor", "smoke=0", "--penalty-factor", "ht=2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model = logitkit.load(out)
    X = frame[FEATURES].astype(float)
    expected = logitkit.LogisticModel(
        upper_bounds={"age": 0.0},
        lower_bounds={"lwt": -0.01},
        penalty_factor={"smoke": 0.0, "ht": 2.0},
    ).fit(X, frame["low"])
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-9)
    assert model.coef_[0][0] <= 0.0
    assert model.upper_bounds_.tolist()[0] == 0.0
    stored = json.loads(out.read_text())["model"]["controls"]
    assert stored["penalty_factor"]["smoke"] == 0.0
    assert stored["upper_bounds"] == {"age": 0.0}


@pytest.mark.parametrize(
    "scale", [["--stream"], ["--stream", "--no-spill"], ["--folds-by", "hash"]]
)
def test_offset_at_scale_equals_statsmodels_and_predict_reads_it(
    births: tuple[Path, pd.DataFrame], tmp_path: Path, scale: list[str]
) -> None:
    """Streamed (or on hash folds in memory), the offset model is statsmodels' and its
    policy, evaluation and report are those of the rows at their offsets."""
    path, frame = births
    out, report = tmp_path / "model.json", tmp_path / "r.html"
    args = ["train", str(path), "--target", "low", "--penalty", "none", "--offset", "prior"]
    args += ["--min-recall", "0.8", "--report", str(report), "--out", str(out), *scale]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    model = logitkit.load(out)
    assert model.offset_column_ == "prior"
    assert model.fitted_with_offset_
    X = frame[FEATURES].astype(float)
    ref = sm.GLM(
        frame["low"], sm.add_constant(X), family=sm.families.Binomial(), offset=frame["prior"]
    ).fit(tol=1e-12)
    table = model.summary()
    np.testing.assert_allclose(table["coef"].to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(table["std_err"].to_numpy(), ref.bse.to_numpy(), rtol=1e-6)
    stats = model.fit_statistics()
    assert stats["null_log_likelihood"] == pytest.approx(ref.llnull, rel=1e-9)
    assert stats["log_likelihood"] == pytest.approx(ref.llf, rel=1e-9)
    assert report.exists()
    scored = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", str(out), str(path), "--out", str(scored), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(pd.read_csv(scored)["p_1"], ref.fittedvalues, rtol=1e-6)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_bad_offset_in_a_streamed_file_names_its_row(
    births: tuple[Path, pd.DataFrame], tmp_path: Path, suffix: str
) -> None:
    _, frame = births
    frame = frame.copy()
    frame.loc[150, "prior"] = np.nan
    path = tmp_path / f"bad.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    args = ["train", str(path), "--target", "low", "--offset", "prior", "--stream", "--no-report"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "'prior'" in text
    assert "row 150" in text
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--upper-bound", "age"], "FEATURE=VALUE"),
        (["--upper-bound", "age=low"], "FEATURE=VALUE"),
        (["--upper-bound", "weight=0"], "names the feature 'weight'"),
        (["--penalty", "none", "--penalty-factor", "age=0"], "has none"),
        (["--cv", "--upper-bound", "age=0"], "cannot be combined with --cv"),
        (["--offset", "nowhere"], "'nowhere'"),
        (["--offset", "prior", "--penalty", "firth"], "--offset cannot be combined"),
        (["--offset", "prior", "--stream", "--cv"], "cannot be combined with --cv"),
    ],
)
def test_control_options_fail_with_exit_2_naming_why(
    births: tuple[Path, pd.DataFrame], extra: list[str], words: str
) -> None:
    path, _ = births
    result = runner.invoke(app, ["train", str(path), "--target", "low", "--no-report", *extra])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())


def test_bounds_work_streamed_and_offset_with_held_out_rows(
    births: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    """Bounds take effect in passes over the file; an offset model scores held-out rows."""
    path, frame = births
    out = tmp_path / "streamed.json"
    args = ["train", str(path), "--target", "low", "--drop", "prior", "--stream", "--no-report"]
    result = runner.invoke(app, [*args, "--upper-bound", "lwt=-0.02", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    streamed = logitkit.load(out)
    X = frame[FEATURES].astype(float)
    expected = logitkit.LogisticModel(upper_bounds={"lwt": -0.02}).fit(X, frame["low"])
    np.testing.assert_allclose(streamed.coef_, expected.coef_, rtol=1e-7)
    assert streamed.coef_[0][1] == -0.02  # the bound is active, exactly

    held = tmp_path / "held.json"
    args = ["train", str(path), "--target", "low", "--offset", "prior", "--test-size", "0.25"]
    result = runner.invoke(app, [*args, "--no-report", "--out", str(held), "--json"])
    assert result.exit_code == 0, result.output
    assert logitkit.load(held).offset_column_ == "prior"
