"""Options of the pipeline at scale: what in memory takes, streamed and on Dask too.

Each test trains on the same rows in memory (``fold_scheme="hash"``), streamed from
Parquet and CSV, and on a Dask cluster, and compares the artifacts number by number
(:func:`_differences` of :mod:`tests.workflow.test_streamed_pipeline`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import logitkit
from logitkit import LogisticModel
from logitkit.cli import app
from logitkit.data.arrow import read_table
from logitkit.data.encoding import TableEncoder
from logitkit.selection import HashKFold, cross_val_proba
from logitkit.workflow import TrainingSpec
from logitkit.workflow._scaled import raw_split, run_on_frame
from logitkit.workflow._train import _columns
from tests.workflow.test_streamed_pipeline import (
    FORMULA,
    _artifact,
    _differences,
    _frame,
    _streamed,
)


@pytest.fixture(scope="module")
def dialect(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    """Rows with '?' for missing ages: a CSV with ';' and a decimal comma, and Parquet
    whose age column is text (numbers and '?')."""
    frame = _frame(n=900, seed=3)
    frame["spend"] = frame["spend"].round(3)  # as the CSV writes it
    rng = np.random.default_rng(7)
    age = frame["age"].map(lambda v: f"{v:.2f}")
    age[rng.random(len(frame)) < 0.06] = "?"
    where = tmp_path_factory.mktemp("dialect")
    csv, parquet = where / "rows.csv", where / "rows.parquet"
    raw = frame.assign(age=age)
    raw.assign(
        age=age.str.replace(".", ","),
        spend=frame["spend"].map(lambda v: f"{v:.3f}".replace(".", ",")),
    ).to_csv(csv, sep=";", index=False)
    raw.to_parquet(parquet, row_group_size=200)
    return read_table(csv, na_values=["?"], sep=";", decimal=","), csv, parquet


READING = {"na_values": ["?"], "sep": ";", "decimal": ","}


@pytest.mark.parametrize("positive", ["no", "yes"])  # the label sorting first, then last
def test_na_values_sep_and_decimal_read_as_in_memory(dialect, tmp_path, positive):
    frame, csv, parquet = dialect
    assert frame["age"].dtype == np.float64
    assert frame["age"].isna().sum() > 0
    options: dict[str, Any] = {"impute": "median", "cv": True, "Cs": 2, "folds": 3}
    options |= {"min_recall": 0.8, "positive": positive}
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    assert a["model"]["features"][0]["name"] == "age"
    b = _artifact(_streamed(csv, reading=READING, **options), tmp_path / "csv.json")
    assert _differences(a, b) == []
    parquet_reading = {"na_values": ["?"]}
    c = _artifact(_streamed(parquet, reading=parquet_reading, **options), tmp_path / "pq.json")
    assert _differences(a, c) == []


def test_dask_reads_and_scores_as_in_memory(dialect, weighted, tmp_path):
    distributed = pytest.importorskip("distributed")
    frame, csv, parquet = dialect
    options: dict[str, Any] = {"impute": "median", "folds": 3, "min_recall": 0.8}
    memory = _artifact(
        logitkit.train(frame, target="outcome", fold_scheme="hash", **options),
        tmp_path / "memory.json",
    )
    rows, _, weighted_parquet = weighted
    auc: dict[str, Any] = {"cv": True, "Cs": 3, "folds": 3, "scoring": "roc_auc", "weight": "w"}
    auc_memory = _artifact(
        logitkit.train(rows, target="outcome", fold_scheme="hash", **auc), tmp_path / "auc.json"
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        on_csv = _streamed(csv, dask=address, reading=READING, **options)
        on_parquet = _streamed(parquet, dask=address, reading={"na_values": ["?"]}, **options)
        on_auc = _streamed(weighted_parquet, dask=address, **auc)
    assert _differences(memory, _artifact(on_csv, tmp_path / "csv.json")) == []
    assert _differences(memory, _artifact(on_parquet, tmp_path / "pq.json")) == []
    assert _differences(auc_memory, _artifact(on_auc, tmp_path / "dask_auc.json")) == []


def test_cli_stream_takes_the_reading_options(dialect, tmp_path):
    frame, csv, _ = dialect
    out = tmp_path / "m.json"
    args = ["train", str(csv), "--target", "outcome", "--stream", "--impute", "median"]
    args += ["--na-values", "?", "--sep", ";", "--decimal", ",", "--out", str(out), "--no-report"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", impute="median")
    model = logitkit.load(out)
    np.testing.assert_allclose(model.coef_, memory.model.coef_, rtol=1e-8, atol=1e-12)


@pytest.fixture(scope="module")
def weighted(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    """The rows with a weight column, as Parquet and CSV."""
    frame = _frame(n=1200, seed=4)
    frame["w"] = np.random.default_rng(9).uniform(0.5, 2.0, len(frame)).round(3)
    where = tmp_path_factory.mktemp("weighted")
    parquet, csv = where / "rows.parquet", where / "rows.csv"
    frame.to_parquet(parquet, row_group_size=250)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


@pytest.mark.parametrize("positive", ["no", "yes"])  # the label sorting first, then last
def test_roc_auc_chooses_C_on_hash_folds_exactly(weighted, tmp_path, positive):
    frame, parquet, csv = weighted
    options: dict[str, Any] = {"cv": True, "Cs": 4, "folds": 3, "scoring": "roc_auc"}
    options |= {"weight": "w", "min_recall": 0.8, "positive": positive}
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    for path in (parquet, csv):
        b = _artifact(_streamed(path, batch_rows=300, **options), tmp_path / "streamed.json")
        assert _differences(a, b) == []
        for x, y in zip(
            a["training"]["cross_validation"]["results"],
            b["training"]["cross_validation"]["results"],
            strict=True,
        ):
            for k in range(3):
                assert abs(x[f"split{k}_score"] - y[f"split{k}_score"]) <= 1e-12
    # Each fold's score: scikit-learn's weighted ROC-AUC of that fold's rows, predicted by
    # the model fitted in memory on the other folds (HashKFold's folds of the encoded rows).
    X = frame.drop(columns=["outcome", "w"])
    E = TableEncoder().fit(X).transform(X)
    truth = frame["outcome"].to_numpy() == positive
    fold = np.asarray(HashKFold(3).folds(E.to_numpy()))
    results = memory.search.cv_results_
    for i, C in enumerate(results["C"]):
        model = LogisticModel(C=C, positive_class=positive)
        proba = cross_val_proba(model, E, frame["outcome"], frame["w"], cv=HashKFold(3))
        p = proba[:, list(np.unique(frame["outcome"])).index(positive)]
        for k in range(3):
            rows = fold == k
            expected = roc_auc_score(truth[rows], p[rows], sample_weight=frame["w"][rows])
            assert results[f"split{k}_score"][i] == pytest.approx(expected, abs=1e-12)
    assert results["C"][int(np.argmax(results["mean_score"]))] == memory.search.C_
    assert results["rank"][memory.search.best_index_] == 1
    assert a["training"]["cross_validation"]["scoring"] == "roc_auc"


@pytest.fixture(scope="module")
def gapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    """Rows with missing numbers and levels (to impute), as Parquet and CSV."""
    frame = _frame(n=1200, seed=2)
    rng = np.random.default_rng(6)
    frame.loc[rng.random(len(frame)) < 0.08, "age"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.05, "region"] = None
    where = tmp_path_factory.mktemp("gapped")
    parquet, csv = where / "rows.parquet", where / "rows.csv"
    frame.to_parquet(parquet, row_group_size=300)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


def _memory_raw_split(frame: pd.DataFrame, **options: Any) -> logitkit.workflow.TrainingResult:
    """The in-memory pipeline on hash folds with held-out rows split by raw values, through
    the public entry point; it equals the frame runner's own result."""
    result = logitkit.train(frame, fold_scheme="hash", source="memory", **options)
    spec = TrainingSpec(fold_scheme="hash", **options)
    X, y, w = _columns(frame, spec)
    direct = run_on_frame(X, y, w, spec, source="memory")
    np.testing.assert_array_equal(result.model.coef_, direct.model.coef_)
    return result


@pytest.mark.parametrize("positive", ["no", "yes"])  # the label sorting first, then last
def test_test_size_with_a_learned_encoding_learns_on_fitting_rows(gapped, tmp_path, positive):
    frame, parquet, csv = gapped
    options: dict[str, Any] = {**FORMULA, "cv": True, "Cs": 2, "folds": 3, "test_size": 0.25}
    options |= {"min_recall": 0.8, "positive": positive}
    memory = _memory_raw_split(frame, **options)
    a = _artifact(memory, tmp_path / "memory.json")
    for path in (parquet, csv):
        b = _artifact(_streamed(path, batch_rows=350, **options), tmp_path / "streamed.json")
        assert _differences(a, b) == []
    # The held-out rows: those whose raw values hash into the share; the imputed median
    # is that of the other rows only, and the held-out numbers are the model's on them.
    spec = TrainingSpec(fold_scheme="hash", **options)
    X = frame.drop(columns="outcome")
    held = raw_split(spec, X.columns, held=True).mask(X)
    assert 0.15 * len(frame) < held.sum() < 0.35 * len(frame)
    record = memory.held_out
    assert record is not None
    assert record["n_rows"] == int(held.sum())
    assert int(np.sum(memory.model.class_counts_)) == int((~held).sum())
    fills = {c["name"]: c["impute"] for c in a["model"]["features"]}
    assert fills["age"] == pytest.approx(float(frame["age"][~held].median()), rel=1e-12)
    assert fills["age"] != pytest.approx(float(frame["age"].median()), rel=1e-9)
    proba = memory.model.predict_proba(frame[held])[:, list(memory.model.classes_).index(positive)]
    truth = frame["outcome"].to_numpy()[held] == positive
    assert record["metrics"]["roc_auc"]["auc"] == pytest.approx(roc_auc_score(truth, proba))
    assert "hash of raw values" in memory.provenance["held_out"]


def test_test_size_with_a_learned_encoding_on_dask(gapped, tmp_path):
    distributed = pytest.importorskip("distributed")
    frame, parquet, csv = gapped
    options: dict[str, Any] = {**FORMULA, "folds": 3, "test_size": 0.25, "max_fpr": 0.3}
    memory = _artifact(_memory_raw_split(frame, **options), tmp_path / "memory.json")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        results = [_streamed(path, dask=address, **options) for path in (parquet, csv)]
    for result in results:
        assert _differences(memory, _artifact(result, tmp_path / "dask.json")) == []
