"""Grouped data (successes of trials) at scale: streamed and on Dask as in memory.

The same groups are trained in memory, streamed from Parquet and CSV, and on a Dask
cluster; the artifacts must agree number by number (:func:`_differences` of
:mod:`tests.workflow.test_streamed_pipeline`). References nobody here wrote: statsmodels'
``GLM`` with a binomial family on the (successes, failures) counts, and the budworm
table of Venables & Ripley's MASS (section 7.2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

import logitkit
from logitkit import DataError, LogisticModel
from logitkit.cli import app
from logitkit.cli._scale import train_streamed
from logitkit.data.dask import DaskSource
from logitkit.data.fingerprint import RowFingerprint
from logitkit.data.stream import FileSource
from logitkit.workflow import TrainingSpec
from tests.workflow.test_streamed_pipeline import _artifact, _differences

runner = CliRunner()
BUDWORM = Path(__file__).parent.parent / "data" / "budworm.csv"


def _groups(n: int = 700, seed: int = 0) -> pd.DataFrame:
    """Groups with a number, a text level, a flag, some missing doses, and their counts."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "dose": rng.normal(2.0, 1.0, n).round(3),
            "site": rng.choice(["north", "south", "east"], n),
            "treated": rng.random(n) < 0.5,
            "trials": rng.integers(1, 40, n),
        }
    )
    eta = (
        -0.5 + 0.9 * (frame["dose"] - 2) + 0.6 * frame["treated"] - 0.4 * (frame["site"] == "east")
    )
    frame["dead"] = rng.binomial(frame["trials"], 1 / (1 + np.exp(-eta)))
    frame.loc[rng.random(n) < 0.04, "dose"] = np.nan
    return frame


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    frame = _groups()
    where = tmp_path_factory.mktemp("grouped")
    parquet, csv = where / "groups.parquet", where / "groups.csv"
    frame.to_parquet(parquet, row_group_size=160)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


def _streamed(
    path: Path, dask: str | None = None, **options: Any
) -> logitkit.workflow.TrainingResult:
    spec = TrainingSpec(target="dead", trials="trials", **options)
    return train_streamed(path, spec, batch_rows=128, dask=dask, progress=False, explicit=True)


OPTIONS: list[dict[str, Any]] = [
    {"formula": "dead ~ dose + C(site) + treated + dose:treated", "impute": "median"},
    {"impute": "median", "penalty": "l2", "C": 0.05},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_memory_parquet_csv_and_dask_give_the_same_grouped_artifact(grouped, tmp_path, options):
    distributed = pytest.importorskip("distributed")
    frame, parquet, csv = grouped
    memory = logitkit.train(frame, target="dead", trials="trials", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    b = _artifact(_streamed(parquet, **options), tmp_path / "parquet.json")
    c = _artifact(_streamed(csv, **options), tmp_path / "csv.json")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        d = _artifact(
            _streamed(parquet, dask=cluster.scheduler_address, **options), tmp_path / "d.json"
        )
    for other in (b, c, d):
        assert _differences(a, other) == []
    # What the equality covers: the grouped sections are there and about these groups.
    stats = a["training"]["fit_statistics"]
    assert stats["n_groups"] == len(frame)
    assert stats["n_trials"] == frame["trials"].sum()
    assert np.isfinite(stats["pearson_chi2"])
    assert a["reference"]["n_rows"] == len(frame)
    assert set(a["reference"]["features"]) == set(memory.model.feature_names_in_)
    assert a["policy"] is None
    assert "streamed in record batches" in b["training"]["fit"]
    assert "Dask" in d["training"]["fit"]


def test_grouped_reference_and_fingerprint_are_those_of_the_groups(grouped):
    frame, parquet, _ = grouped
    result = _streamed(parquet, impute="median")
    model = result.model
    E = model.encoder_.transform(frame.drop(columns=["dead", "trials"]))
    assert result.fingerprint == RowFingerprint.of_rows(E)
    dose = E["dose"].to_numpy()
    profile = result.reference["features"]["dose"]
    assert profile["n"] == len(frame)
    assert profile["mean"] == pytest.approx(dose.mean(), rel=1e-12)
    assert profile["edges"] == pytest.approx(
        np.unique(np.quantile(dose, np.linspace(0, 1, 11)[1:-1])).tolist(), rel=1e-12
    )


def test_streamed_groups_agree_with_statsmodels_glm(grouped):
    frame, parquet, _ = grouped
    rows = frame.dropna(subset=["dose"]).reset_index(drop=True)
    path = parquet.with_name("complete.parquet")
    rows.to_parquet(path, row_group_size=100)
    model = LogisticModel(penalty=None).fit(
        FileSource(path, target="dead", trials="trials", batch_rows=64)
    )
    E = model.encoder_.transform(rows.drop(columns=["dead", "trials"]))
    counts = np.column_stack([rows["dead"], rows["trials"] - rows["dead"]])
    glm = sm.GLM(counts, sm.add_constant(E.to_numpy(dtype=float)), family=sm.families.Binomial())
    ref = glm.fit(tol=1e-12)
    ours = np.r_[model.intercept_, model.coef_.ravel()]
    np.testing.assert_allclose(ours, ref.params, rtol=1e-7, atol=1e-9)
    summary = model.summary()
    np.testing.assert_allclose(summary["std_err"].to_numpy(), ref.bse, rtol=1e-6)
    stats = model.fit_statistics()
    assert stats["deviance"] == pytest.approx(ref.deviance, rel=1e-8)
    assert stats["pearson_chi2"] == pytest.approx(ref.pearson_chi2, rel=1e-6)
    assert stats["log_likelihood"] == pytest.approx(ref.llf, rel=1e-9)
    assert stats["df_resid"] == ref.df_resid


def test_cli_streams_the_budworm_groups_as_mass_reports(tmp_path):
    # MASS (Venables & Ripley, 4th ed., section 7.2): budworm.lg, numdead ~ sex*ldose
    # with weights n, has residual deviance 4.9937 on 8 df.
    out = tmp_path / "bud.json"
    args = ["train", str(BUDWORM), "--formula", "numdead ~ sex*ldose", "--trials", "n"]
    for scale in (["--stream"], ["--stream", "--no-spill"]):
        result = runner.invoke(app, [*args, *scale, "--penalty", "none", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "4.9937 on 8 df" in result.output
        stats = logitkit.load(out).fit_statistics()
        assert stats["deviance"] == pytest.approx(4.9937, abs=1e-4)
        assert stats["df_resid"] == 8
    result = runner.invoke(app, [*args, "--stream", "--min-recall", "0.9", "--out", str(out)])
    assert result.exit_code == 2
    assert "cannot be combined with --trials" in result.output
    result = runner.invoke(app, [*args, "--stream", "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "--report cannot be combined with --trials" in result.output


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("dead", 99, "more successes than trials"),
        ("dead", 2.5, "has 2.5"),
        ("trials", 0, "whole numbers >= 1"),
        ("trials", np.nan, "missing"),
    ],
)
def test_bad_counts_in_a_file_name_the_column_and_row(tmp_path, suffix, column, value, match):
    frame = _groups(n=300, seed=2).dropna()
    frame["trials"] = frame["trials"].astype(float)
    frame["dead"] = frame["dead"].astype(float)
    frame.iloc[217, frame.columns.get_loc(column)] = value
    path = tmp_path / f"bad.{suffix}"
    frame.to_parquet(path) if suffix == "parquet" else frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=match) as err:
        LogisticModel().fit(FileSource(path, target="dead", trials="trials", batch_rows=50))
    assert err.value.column == column
    assert err.value.row == 217
    assert str(path) in str(err.value)
    args = ["train", str(path), "--target", "dead", "--trials", "trials", "--stream"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    assert "217" in result.output
    assert not (tmp_path / "m.json").exists()


def test_bad_counts_on_dask_name_the_row():
    pytest.importorskip("distributed")
    dd = pytest.importorskip("dask.dataframe")
    frame = _groups(n=300, seed=2).dropna().reset_index(drop=True)
    frame = frame.assign(dead=frame["dead"].astype(float))
    frame.loc[217, "dead"] = frame.loc[217, "trials"] + 1
    parts = dd.from_pandas(frame[["dose", "dead", "trials"]], npartitions=4)
    with pytest.raises(DataError, match="row 217 of the dask collection"):
        LogisticModel().fit(DaskSource(parts, target="dead", trials="trials"))


def test_every_trial_one_outcome_is_refused_in_a_file(tmp_path):
    frame = _groups(n=100, seed=3).dropna()
    frame["dead"] = 0
    path = tmp_path / "none.parquet"
    frame.to_parquet(path)
    with pytest.raises(DataError, match="both outcomes"):
        LogisticModel().fit(FileSource(path, target="dead", trials="trials"))


def test_grouped_sources_refuse_weights():
    with pytest.raises(ValueError, match="either 'weight' or 'trials'"):
        FileSource("x.parquet", target="dead", weight="w", trials="n")
    with pytest.raises(ValueError, match=r"trials=\.\.\. applies to rows in memory"):
        LogisticModel().fit(FileSource(BUDWORM, target="numdead"), trials=np.ones(12))
