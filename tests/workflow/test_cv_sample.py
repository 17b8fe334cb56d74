"""``--cv`` on hash folds searches C on a hash sample of the fitting rows (``cv_rows``).

The sample is chosen by a hash of each row's encoded values, so memory, Parquet, CSV and
Dask search the same rows and give the same artifact. The search must be exactly the
search on those rows alone; the chosen C is then fitted on every fitting row: the
shipped model and the fold models behind the out-of-fold probabilities, checked against
fits made one by one in memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit import DataError, LogisticModel
from logitkit.cli import app
from logitkit.cli._scale import train_streamed
from logitkit.data.sources import hash_folds
from logitkit.selection import HashKFold
from logitkit.workflow import TrainingSpec
from logitkit.workflow._evidence import sample_share
from logitkit.workflow._hash_search import CV_SEED
from tests.workflow.test_streamed_pipeline import _artifact, _differences

runner = CliRunner()
N_ROWS = 3000
SAMPLE = 700


def _rows(n: int = N_ROWS, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "dose": rng.normal(0, 1, n).round(3),
            "age": rng.normal(50, 10, n).round(1),
            "site": rng.choice(["a", "b", "c", "d"], n),
        }
    )
    eta = 0.3 + 1.1 * frame["dose"] - 0.03 * (frame["age"] - 50) + 0.5 * (frame["site"] == "c")
    frame["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "event", "none")
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    frame = _rows()
    where = tmp_path_factory.mktemp("cv-sample")
    parquet, csv = where / "rows.parquet", where / "rows.csv"
    frame.to_parquet(parquet, row_group_size=500)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


def _streamed(path: Path, dask: str | None = None, **options: Any) -> Any:
    spec = TrainingSpec(target="outcome", **options)
    return train_streamed(path, spec, batch_rows=400, dask=dask, progress=False, explicit=True)


@pytest.mark.parametrize("positive", ["event", "none"])  # the label sorting first, then last
def test_memory_parquet_csv_and_dask_search_the_same_sample(files, tmp_path, positive):
    distributed = pytest.importorskip("distributed")
    frame, parquet, csv = files
    options = {"cv": True, "cv_rows": SAMPLE, "folds": 3, "Cs": 5, "min_recall": 0.9}
    options |= {"positive": positive, "test_size": 0.2}
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    b = _artifact(_streamed(parquet, **options), tmp_path / "parquet.json")
    c = _artifact(_streamed(csv, **options), tmp_path / "csv.json")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        d = _artifact(
            _streamed(parquet, dask=cluster.scheduler_address, **options), tmp_path / "dask.json"
        )
    for other in (b, c, d):
        assert _differences(a, other) == []
    # What the equality covers: a search on a sample, the rest on every fitting row.
    searched = a["training"]["cross_validation"]["rows"]
    n_fit = int(np.sum(memory.model.class_counts_))
    assert searched.startswith("a hash sample of ")
    assert f"of the {n_fit} fitting rows" in searched
    assert searched in a["training"]["provenance"]["C"]
    assert memory.performance["n_rows"] == n_fit
    assert memory.model.positive_class_ == positive


def _sample_of(frame: pd.DataFrame, encoded: np.ndarray, n_fit: int) -> pd.DataFrame:
    """The documented rule: rows whose hash (seed CV_SEED) of their encoded values falls
    below the share that keeps about ``SAMPLE`` of the fitting rows."""
    share = sample_share(n_fit, SAMPLE)
    return frame[hash_folds(encoded, 2**30, CV_SEED) < share]


def test_the_search_is_the_search_on_the_sample_and_c_is_fitted_on_every_row():
    frame = _rows()
    options = {"cv": True, "folds": 3, "Cs": 6, "fold_scheme": "hash", "positive": "event"}
    result = logitkit.train(frame, target="outcome", cv_rows=SAMPLE, **options)
    E = result.model.encoder_.transform(frame.drop(columns="outcome"))
    encoded = E.to_numpy(dtype=float)
    sample = _sample_of(frame, encoded, len(frame))
    assert 0.8 * SAMPLE < len(sample) < 1.2 * SAMPLE
    assert result.search.rows.startswith(f"a hash sample of {len(sample)} of the {len(frame)}")
    # The same grid, folds and scores as a search on those rows alone (all of them).
    alone = logitkit.train(sample, target="outcome", cv_rows=0, **options)
    columns = ["C", "mean_score", "std_score", "split0_score", "split1_score", "split2_score"]
    np.testing.assert_allclose(
        result.search.cv_results_[columns].to_numpy(),
        alone.search.cv_results_[columns].to_numpy(),
        rtol=1e-9,
    )
    C = result.search.C_
    assert C == alone.search.C_
    # The shipped model: C fitted in memory on every row.
    X, y = E, frame["outcome"].to_numpy()  # the encoded rows, fitted in memory
    every = LogisticModel(C=C, positive_class="event").fit(X, y)
    np.testing.assert_allclose(result.model.coef_, every.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(result.model.intercept_, every.intercept_, rtol=1e-7, atol=1e-9)
    # The out-of-fold probabilities: each row from a model at C fitted without its fold.
    fold = HashKFold(3, seed=0).folds(encoded)
    expected = np.empty(len(frame))
    for k in range(3):
        model = LogisticModel(C=C, positive_class="event").fit(X[fold != k], y[fold != k])
        column = list(model.classes_).index("event")
        expected[fold == k] = model.predict_proba(X[fold == k])[:, column]
    labels, oof = result.oof
    column = list(result.model.classes_).index("event")
    np.testing.assert_allclose(oof[:, column], expected, rtol=1e-6, atol=1e-9)
    assert list(labels) == list(y)


def test_every_row_is_searched_when_the_sample_would_hold_them_or_cv_rows_is_0():
    frame = _rows(n=1500)
    options = {"cv": True, "folds": 3, "Cs": 4, "fold_scheme": "hash"}
    for given in ({}, {"cv_rows": 0}, {"cv_rows": 5000}):
        result = logitkit.train(frame, target="outcome", **options, **given)
        assert result.search.rows == "every one of the 1500 fitting rows"


def test_a_sample_lacking_a_class_searches_every_row_and_says_so():
    rng = np.random.default_rng(5)
    n = 8000
    frame = pd.DataFrame({"x": rng.normal(size=n).round(4)})
    frame["rare"] = "common"
    frame.loc[rng.choice(n, 30, replace=False), "rare"] = "seen"
    result = logitkit.train(
        frame, target="rare", cv=True, cv_rows=40, folds=2, Cs=3, fold_scheme="hash"
    )
    assert result.search.rows.startswith("every one of the 8000 fitting rows (the hash sample")
    assert "lacked class 'seen'" in result.search.rows


def test_cv_rows_takes_effect_or_fails(tmp_path):
    frame = _rows(n=600)
    with pytest.raises(DataError, match="--cv-rows sizes the sample"):
        logitkit.train(frame, target="outcome", cv_rows=100, fold_scheme="hash")
    with pytest.raises(DataError, match="stratified folds C is cross-validated on every"):
        logitkit.train(frame, target="outcome", cv=True, cv_rows=100)
    with pytest.raises(DataError, match="at least twice --folds"):
        logitkit.train(frame, target="outcome", cv=True, cv_rows=7, fold_scheme="hash")
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "model.json"
    base = ["train", str(path), "--target", "outcome", "--out", str(out), "--no-report"]
    refused = runner.invoke(app, [*base, "--cv", "--cv-rows", "100"])
    assert refused.exit_code == 2, refused.output
    assert "--cv-rows" in refused.output
    assert not out.exists()
    done = runner.invoke(app, [*base, "--stream", "--cv", "--cs", "3", "--cv-rows", "200"])
    assert done.exit_code == 0, done.output
    saved = json.loads(out.read_text())
    assert "a hash sample of" in saved["training"]["provenance"]["C"]
