"""The pipeline on hash folds: in memory, streamed and on Dask, the same artifact.

The artifacts of the same rows (a Parquet file, the same rows as CSV, and the frame in
memory) may differ only in the fields that say where the rows came from and how the
run went (:data:`RUN_FIELDS`); every number (coefficients, C, threshold, counts,
metrics, findings, reference profiles, fingerprints) is compared. The stages are also
checked against independent computations on the rows in memory: scikit-learn's metrics
on the out-of-fold probabilities, the dense :func:`logitkit.diagnose` and
:func:`logitkit.reference.reference_profile`, and the artifact's row fingerprints.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from typer.testing import CliRunner

import logitkit
from logitkit import DataError, LogisticModel
from logitkit.artifact import data_fingerprint
from logitkit.cli import app
from logitkit.cli._scale import train_streamed
from logitkit.data.encoding import TableEncoder
from logitkit.data.fingerprint import RowFingerprint
from logitkit.data.row_filters import HashShare
from logitkit.reference import reference_profile
from logitkit.selection import HashKFold, cross_val_proba
from logitkit.workflow import TrainingSpec
from logitkit.workflow._rows import FrameRows
from logitkit.workflow._scaled import held_out_split, run_on_rows

runner = CliRunner()

#: Where the rows came from and how the run went: the only fields allowed to differ.
#: The solver's iteration and pass counts and its stopping message (which quotes the
#: final optimality violation) belong here: in memory a small problem takes a one-block
#: fast path that may stop an iteration earlier (coefficients still agree to 1e-8).
RUN_FIELDS = {
    "created",
    "sha256",
    "training.source",
    "training.fit",
    "training.n_iter",
    "training.provenance.rows_read",
    "model.fit.n_iter",
    "model.fit.n_passes",
    "model.fit.message",
    "inference.header.converged_text",
}
#: The solver's state where it stopped: both stops meet tol=1e-10, so the loss
#: gradient at the solution agrees to far below the penalty's share in it.
STOPPING_STATE = {"model.fit.grad": 1e-6}


def _frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n).round(2),
            "visits": rng.integers(0, 9, n),
            "region": rng.choice(["north", "south", "east"], n),
            "member": rng.random(n) < 0.4,
        }
    )
    frame["spend"] = 2.0 * frame["age"] + rng.normal(0, 4, n)  # collinear with age
    eta = 0.05 * (frame["age"] - 50) + 0.8 * frame["member"] - 0.4 * (frame["region"] == "east")
    frame["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    frame = _frame()
    where = tmp_path_factory.mktemp("pipeline")
    parquet, csv = where / "rows.parquet", where / "rows.csv"
    frame.to_parquet(parquet, row_group_size=400)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


@pytest.fixture(scope="module")
def gaps(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    """The rows with missing numbers and levels (to impute), as Parquet and CSV."""
    frame = _frame(seed=1)
    rng = np.random.default_rng(5)
    frame.loc[rng.random(len(frame)) < 0.05, "age"] = np.nan
    frame.loc[rng.random(len(frame)) < 0.05, "region"] = None
    where = tmp_path_factory.mktemp("gaps")
    parquet, csv = where / "rows.parquet", where / "rows.csv"
    frame.to_parquet(parquet, row_group_size=300)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


#: A formula with a categorical and an interaction, on imputed columns.
FORMULA = {
    "formula": "outcome ~ age + C(region) + member + visits + age:member",
    "impute": "median",
    "reference": {"region": "south"},
}


def _artifact(result: logitkit.workflow.TrainingResult, path: Path) -> dict[str, Any]:
    result.save(path)
    content: dict[str, Any] = json.loads(path.read_text())
    return content


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two artifacts differ (floats to 1e-8 relative), run fields left out."""
    if path.lstrip(".") in RUN_FIELDS:
        return []
    if path.lstrip(".") in STOPPING_STATE:
        gap = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)).max()
        return [] if gap <= STOPPING_STATE[path.lstrip(".")] else [f"{path}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only one side" for k in set(a) ^ set(b)]
        for k in sorted(set(a) & set(b)):
            out += _differences(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        same = a == b or (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-8 * max(1.0, abs(a))
        return [] if same else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _streamed(
    path: Path,
    dask: str | None = None,
    batch_rows: int = 256,
    reading: dict[str, Any] | None = None,
    **options: Any,
) -> logitkit.workflow.TrainingResult:
    spec = TrainingSpec(target="outcome", **options)
    return train_streamed(
        path,
        spec,
        batch_rows=batch_rows,
        dask=dask,
        progress=False,
        explicit=True,
        reading=reading,
    )


@pytest.mark.parametrize("positive", ["no", "yes"])  # the label sorting first, then last
def test_memory_parquet_and_csv_give_the_same_artifact(files, tmp_path, positive):
    frame, parquet, csv = files
    options = {"cv": True, "Cs": 3, "folds": 3, "min_recall": 0.9, "positive": positive}
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    b = _artifact(_streamed(parquet, **options), tmp_path / "parquet.json")
    c = _artifact(_streamed(csv, **options), tmp_path / "csv.json")
    assert _differences(a, b) == []
    assert _differences(a, c) == []
    # What the equality covers: the sections are there, and they are about `positive`.
    # The threshold sits at an out-of-fold probability: equal to the fits' precision,
    # and the decisions (the counts, compared exactly above) are the same.
    assert b["policy"]["threshold"] == pytest.approx(a["policy"]["threshold"], rel=1e-8)
    assert b["training"]["positive"] == positive
    assert b["training"]["cross_validation"]["folds"] == 3
    assert b["training"]["performance"]["cross_validated"]["decisions"]["confusion"]
    assert {f["check"] for f in b["diagnostics"]} >= {"vif"}
    assert set(b["reference"]["features"]) == set(memory.model.feature_names_in_)
    rows_read = b["training"]["provenance"]["rows_read"]
    assert "batches of 256 rows; encoded once, then read back from a scratch file" in rows_read


def test_formula_and_imputation_give_the_same_artifact(gaps, tmp_path):
    frame, parquet, csv = gaps
    options = {**FORMULA, "cv": True, "Cs": 2, "folds": 2, "max_fpr": 0.3, "positive": "no"}
    memory = logitkit.train(frame, fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    for path in (parquet, csv):
        b = _artifact(_streamed(path, batch_rows=700, **options), tmp_path / "streamed.json")
        assert _differences(a, b) == []
    assert b["model"]["encoding"]["formula"] is not None
    fills = {c["name"]: c["impute"] for c in b["model"]["features"]}
    assert fills["age"] == pytest.approx(float(frame["age"].median()), rel=1e-12)


def test_rows_held_out_by_row_hash(files, tmp_path):
    frame, parquet, _ = files
    options = {"cv": True, "Cs": 2, "folds": 3, "penalty": "l1", "test_size": 0.25}
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", min_recall=0.8, **options)
    a = _artifact(memory, tmp_path / "memory.json")
    streamed = _streamed(parquet, min_recall=0.8, **options)
    assert _differences(a, _artifact(streamed, tmp_path / "parquet.json")) == []
    # The held-out rows are those whose hash falls in the share, whatever the source;
    # the model never saw them, and their numbers are the shipped model's on them.
    X = frame.drop(columns="outcome")
    E = TableEncoder().fit(X).transform(X)
    held = HashShare(0.25, seed=held_out_split(TrainingSpec(target="y", test_size=0.25)).seed)
    rows = held.mask(E.to_numpy())
    record = streamed.held_out
    assert record is not None
    assert (
        record["n_rows"]
        == int(rows.sum())
        == len(frame) - int(np.sum(streamed.model.class_counts_))
    )
    proba = streamed.model.predict_proba(frame[rows])[:, 1]
    truth = frame["outcome"].to_numpy()[rows] == "yes"
    assert record["metrics"]["roc_auc"]["auc"] == pytest.approx(roc_auc_score(truth, proba))
    flagged = proba >= streamed.policy.threshold
    assert record["decisions"]["confusion"]["tp"] == int((flagged & truth).sum())
    assert "held out by row hash" in streamed.provenance["model"]


def test_dask_gives_the_same_artifact(files, gaps, tmp_path):
    distributed = pytest.importorskip("distributed")
    frame, parquet, _ = files
    # Threads in this process (processes=False) keep the test fast; `--dask local` starts
    # worker processes, which the CLI test of test_scale.py exercises.
    options = {"folds": 3, "min_precision": 0.6, "confidence": 0.9, "positive": "yes"}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        streamed = _streamed(parquet, dask=cluster.scheduler_address, **options)
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    b = _artifact(streamed, tmp_path / "dask.json")
    assert _differences(a, b) == []
    assert b["policy"]["rule"]["at_confidence"] == 0.9
    assert b["training"]["fit"].startswith("read by a Dask cluster")
    # With a formula and imputation learned in passes on the workers.
    frame, parquet, _ = gaps
    options = {**FORMULA, "folds": 3, "min_recall": 0.8}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        streamed = _streamed(parquet, dask=cluster.scheduler_address, **options)
    memory = logitkit.train(frame, fold_scheme="hash", **options)
    a = _artifact(memory, tmp_path / "memory.json")
    assert _differences(a, _artifact(streamed, tmp_path / "dask.json")) == []


def test_stages_match_independent_computations(files):
    frame, parquet, _ = files
    result = _streamed(parquet, folds=4, C=0.5, cost_fp=1.0, cost_fn=3.0)
    X = frame.drop(columns="outcome")
    E = TableEncoder().fit(X).transform(X)
    y = frame["outcome"].to_numpy()
    # Out-of-fold probabilities: HashKFold's own, fitted in memory.
    oof = cross_val_proba(LogisticModel(C=0.5), E, y, cv=HashKFold(4))
    labels, proba = result.oof
    assert labels.tolist() == y.tolist()
    np.testing.assert_allclose(proba, oof, rtol=1e-8, atol=1e-10)
    # Metrics: scikit-learn's on those probabilities.
    metrics = result.performance["metrics"]
    truth = y == "yes"
    assert metrics["roc_auc"]["auc"] == pytest.approx(roc_auc_score(truth, oof[:, 1]), rel=1e-10)
    assert metrics["average_precision"] == pytest.approx(
        average_precision_score(truth, oof[:, 1]), rel=1e-10
    )
    assert metrics["log_loss"] == pytest.approx(log_loss(truth, oof[:, 1]), rel=1e-8)
    assert metrics["brier_score"] == pytest.approx(brier_score_loss(truth, oof[:, 1]), rel=1e-8)
    flagged = oof[:, 1] >= result.policy.threshold
    assert result.performance["decisions"]["confusion"] == {
        "tp": int((flagged & truth).sum()),
        "fp": int((flagged & ~truth).sum()),
        "fn": int((~flagged & truth).sum()),
        "tn": int((~flagged & ~truth).sum()),
    }
    # Diagnostics: the VIFs from the moments equal the dense check's.
    model = result.model
    dense = logitkit.diagnose(model, E, y, oof=(y, oof[:, 1]), policy=result.policy)
    vif = result.findings.select(check="vif")[0]
    expected = dense.select(check="vif")[0]
    assert vif.features == expected.features
    np.testing.assert_allclose(vif.per_feature, expected.per_feature, rtol=1e-8)
    assert [f.check for f in result.findings.select(check="imbalance")] == [
        f.check for f in dense.select(check="imbalance")
    ]
    # Reference profiles: the in-memory profile of the same rows (fewer rows than the
    # hash sample, so the quantile edges are the exact ones).
    score = model.predict_proba(E)[:, 1]
    expected_ref = reference_profile(E, list(E.columns), score)
    assert _differences(expected_ref, result.reference) == []
    # Fingerprints: the artifact's, of the rows in memory.
    assert result.training["fingerprint"] == data_fingerprint(E, y)
    assert result.fingerprint == RowFingerprint.of_rows(E)


def test_what_cannot_run_on_hash_folds_says_why(files):
    frame, parquet, _ = files
    # A learned encoding with held-out rows needs them split off by raw values first.
    spec = TrainingSpec(fold_scheme="hash", test_size=0.2, **FORMULA)
    X = frame.drop(columns="outcome")
    rows = FrameRows(TableEncoder().fit(X).transform(X), frame["outcome"].to_numpy(), None)
    with pytest.raises(DataError, match="split off by their raw values before the encoding"):
        run_on_rows(rows, spec, source="memory", how="read into memory")
    with pytest.raises(DataError, match="--folds-by must be one of"):
        logitkit.train(frame, target="outcome", fold_scheme="random")
    spec = TrainingSpec(target="outcome", fold_scheme="stratified")
    with pytest.raises(DataError, match="stratified folds shuffle row numbers"):
        train_streamed(parquet, spec, batch_rows=256, dask=None, progress=False, explicit=True)


def test_cli_streamed_pipeline_writes_every_section(files, tmp_path):
    _, parquet, _ = files
    out, report = tmp_path / "model.json", tmp_path / "report.html"
    args = ["train", str(parquet), "--target", "outcome", "--stream", "--cv", "--cs", "3"]
    args += ["--min-recall", "0.9", "--report", str(report), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    content = json.loads(out.read_text())
    assert content["policy"]["rule"]["min_recall"] == 0.9
    performance = content["training"]["performance"]["cross_validated"]
    assert performance["decisions"]["recall"]["value"] >= 0.9
    assert "hash folds" in performance["procedure"]
    assert content["diagnostics"]
    assert set(content["reference"]["features"]) >= {"age", "region[T.south]"}
    html = report.read_text()
    assert "out-of-fold probabilities of 5 hash folds" in html
    assert "out of fold on hash folds, C and threshold chosen on the same rows" in html
    assert "cross-validation of the whole procedure" not in html
    model = logitkit.load(out)
    assert model.predict(_frame(5, seed=1).drop(columns="outcome")).shape == (5,)
