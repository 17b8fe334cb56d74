"""An offset column (R's ``glm(offset=)``) through the pipeline on hash folds.

The same rows with a known log-odds term per row are trained in memory on hash folds,
streamed from Parquet and CSV, and on a Dask cluster; the artifacts must agree number
by number (:func:`_differences` of :mod:`tests.workflow.test_streamed_pipeline`). The
out-of-fold probabilities (the policy's evidence) must be those of fold models fitted
one by one with their rows' offsets, and each fit statsmodels' ``GLM(..., offset=)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import logitkit
from logitkit import DataError, LogisticModel
from logitkit.cli._scale import train_streamed
from logitkit.data.dask import DaskSource
from logitkit.data.sources import hash_folds
from logitkit.data.stream import FileSource
from logitkit.workflow import TrainingSpec
from tests.workflow.test_streamed_pipeline import _artifact, _differences


def _rows(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Rows with a number, a level, some missing values, and a log-exposure offset."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n).round(2),
            "region": rng.choice(["north", "south", "east"], n),
            "exposure": np.log(rng.uniform(0.2, 3.0, n)).round(4),
        }
    )
    eta = -1.0 + 0.04 * (frame["age"] - 50) - 0.6 * (frame["region"] == "east")
    frame["claim"] = np.where(
        rng.random(n) < 1 / (1 + np.exp(-(eta + frame["exposure"]))), "yes", "no"
    )
    frame.loc[rng.random(n) < 0.05, "age"] = np.nan
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    frame = _rows()
    where = tmp_path_factory.mktemp("offsets")
    parquet, csv = where / "rows.parquet", where / "rows.csv"
    frame.to_parquet(parquet, row_group_size=300)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


def _streamed(path: Path, dask: str | None = None, **options: Any) -> Any:
    spec = TrainingSpec(target="claim", offset="exposure", **options)
    return train_streamed(path, spec, batch_rows=256, dask=dask, progress=False, explicit=True)


@pytest.mark.parametrize("positive", ["no", "yes"])  # the label sorting first, then last
def test_memory_parquet_csv_and_dask_give_the_same_offset_artifact(files, tmp_path, positive):
    distributed = pytest.importorskip("distributed")
    frame, parquet, csv = files
    options = {"impute": "median", "folds": 3, "min_recall": 0.8, "positive": positive}
    options |= {"test_size": 0.2, "C": 0.5}
    memory = logitkit.train(frame, target="claim", offset="exposure", fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    b = _artifact(_streamed(parquet, **options), tmp_path / "parquet.json")
    c = _artifact(_streamed(csv, **options), tmp_path / "csv.json")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        on_dask = _streamed(parquet, dask=cluster.scheduler_address, **options)
    d = _artifact(on_dask, tmp_path / "dask.json")
    for other in (b, c, d):
        assert _differences(a, other) == []
    # What the equality covers: an offset model, decided and evaluated about `positive`.
    assert memory.model.offset_column_ == "exposure"
    assert "exposure" not in list(memory.model.feature_names_in_)
    assert memory.policy is not None
    assert memory.policy.positive == positive
    assert memory.held_out is not None
    assert "decisions" in memory.held_out


def test_out_of_fold_probabilities_are_those_of_each_fold_fitted_with_its_offsets(files):
    frame, parquet, _ = files
    result = _streamed(parquet, impute="median", folds=4, penalty=None)
    model = result.model
    E = model.encoder_.transform(frame.drop(columns=["claim", "exposure"]))
    X, o = E.to_numpy(dtype=float), frame["exposure"].to_numpy()
    y = frame["claim"].to_numpy()
    fold = hash_folds(X, 4, 0)
    expected = np.empty(len(frame))
    for k in range(4):
        part = LogisticModel(penalty=None).fit(E[fold != k], y[fold != k], offset=o[fold != k])
        expected[fold == k] = part.predict_proba(E[fold == k], offset=o[fold == k])[:, 1]
    labels, oof = result.oof
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_allclose(oof[:, 1], expected, rtol=1e-7, atol=1e-10)
    # The shipped model is statsmodels' GLM with the same offset.
    ref = sm.GLM(
        (y == "yes").astype(float), sm.add_constant(X), family=sm.families.Binomial(), offset=o
    ).fit(tol=1e-12)
    np.testing.assert_allclose(
        np.r_[model.intercept_, model.coef_.ravel()], ref.params, rtol=1e-7, atol=1e-10
    )
    assert model.fit_statistics()["null_log_likelihood"] == pytest.approx(ref.llnull, rel=1e-10)


def test_offsets_on_dask_name_a_bad_row():
    pytest.importorskip("distributed")
    dd = pytest.importorskip("dask.dataframe")
    frame = _rows(n=400, seed=3).dropna().reset_index(drop=True)
    frame["y"] = (frame["claim"] == "yes").astype(int)
    frame.loc[321, "exposure"] = np.inf
    parts = dd.from_pandas(frame[["age", "exposure", "y"]], npartitions=3)
    with pytest.raises(DataError, match="offset at row 321"):
        LogisticModel().fit(DaskSource(parts, target="y", offset="exposure"))


def test_offset_sources_refuse_what_takes_no_offset(tmp_path):
    frame = _rows(n=200, seed=4).dropna()
    frame["kind"] = np.random.default_rng(0).choice(["a", "b", "c"], len(frame))
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path)
    with pytest.raises(ValueError, match="binary targets"):
        LogisticModel().fit(FileSource(path, target="kind", offset="exposure", drop=["claim"]))
    with pytest.raises(ValueError, match="'offset' or 'trials'"):
        FileSource(path, target="claim", offset="exposure", trials="age")
    with pytest.raises(ValueError, match="names its offset column itself"):
        LogisticModel().fit(FileSource(path, target="claim"), offset=np.zeros(len(frame)))


def test_cross_val_proba_refuses_a_source_with_offsets(files):
    from logitkit.selection import HashKFold, cross_val_proba

    _, parquet, _ = files
    source = FileSource(parquet, target="claim", offset="exposure", drop=["age"])
    with pytest.raises(ValueError, match="takes no offsets"):
        cross_val_proba(LogisticModel(), source, cv=HashKFold(3))
