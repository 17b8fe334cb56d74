"""``logitkit train --stream`` and ``--dask``: the fit out of core, and the whole pipeline."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit import DataError, LogisticModel
from logitkit.cli import _scale, app
from logitkit.cli._scale import estimated_bytes, fit_streamed, should_stream
from logitkit.data.encoding import TableEncoder


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),
            "visits": rng.integers(0, 9, n),
            "region": rng.choice(["north", "south", "east"], n),
            "member": rng.random(n) < 0.4,
            "id": np.arange(n),
        }
    )
    eta = 0.05 * (frame["age"] - 50) + 0.8 * frame["member"] - 0.4 * (frame["region"] == "east")
    frame["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    path = tmp_path_factory.mktemp("scale") / "rows.parquet"
    frame.to_parquet(path, row_group_size=1000)
    return frame, path


def _memory(frame: pd.DataFrame, **params) -> LogisticModel:
    X = frame.drop(columns=["outcome", "id"])
    return LogisticModel(**params).fit(TableEncoder().fit(X).transform(X), frame["outcome"])


def test_streamed_equals_in_memory_and_predicts_raw_rows(table):
    frame, path = table
    model = fit_streamed(path, "outcome", {"penalty": "l1", "C": 0.1}, drop=["id"], batch_rows=512)
    memory = _memory(frame, penalty="l1", C=0.1)
    assert np.allclose(model.coef_, memory.coef_, rtol=1e-8, atol=1e-12)
    assert model.encoder_ is not None
    assert (
        model.predict(frame.head(5)).tolist()
        == memory.predict(model.encoder_.transform(frame.head(5))).tolist()
    )


def test_missing_file_and_column(table, tmp_path):
    _, path = table
    with pytest.raises(DataError, match="does not exist"):
        fit_streamed(tmp_path / "nope.parquet", "outcome")
    with pytest.raises(DataError, match="'label'"):
        fit_streamed(path, "label")


def test_should_stream_compares_the_data_with_free_memory(table, monkeypatch):
    frame, path = table
    assert estimated_bytes(path) == len(frame) * frame.shape[1] * 8
    assert not should_stream(path)
    monkeypatch.setattr(_scale, "available_memory", lambda: 1000)
    assert should_stream(path)
    monkeypatch.setattr(_scale, "available_memory", lambda: None)
    assert not should_stream(path)  # unknown: do as asked


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["train", *args])


def test_cli_stream_refuses_what_it_cannot_do_saying_why(table, tmp_path):
    _, path = table
    out = tmp_path / "m.json"
    base = [str(path), "--target", "outcome", "--drop", "id", "--stream", "--out", str(out)]
    result = _cli(*base, "--sep", ";")
    assert result.exit_code == 2
    assert "--sep (sep=) applies to CSV files, but" in " ".join(result.output.split())
    assert not out.exists()
    # Held-out rows with a learned encoding: split off by their raw values first.
    result = _cli(*base, "--test-size", "0.2", "--impute", "median", "--no-report", "--json")
    assert result.exit_code == 0, result.output
    held = json.loads(out.read_text())["training"]["performance"]["held_out"]
    assert 0.1 * 3000 < held["n_rows"] < 0.3 * 3000
    out.unlink()
    spelt = tmp_path / "spelt.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["yes", "no", "Yes", "no"]}).to_csv(spelt)
    result = _cli(str(spelt), "--target", "y", "--stream", "--out", str(out))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "spells one label several ways" in text
    assert "'Yes' (1)" in text
    assert "--normalize-labels" in text


def test_cli_spill_takes_effect_or_says_where_it_cannot(table, tmp_path, monkeypatch):
    _, path = table
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where the scratch file goes
    monkeypatch.setattr("tempfile.tempdir", None)
    base = [str(path), "--target", "outcome", "--drop", "id", "--no-report", "--folds", "3"]
    runs = {}
    for flag in ("--spill", "--no-spill"):
        out = tmp_path / f"{flag}.json"
        result = _cli(*base, "--stream", flag, "--out", str(out))
        assert result.exit_code == 0, result.output
        runs[flag] = json.loads(out.read_text())
    read = {flag: r["training"]["provenance"]["rows_read"] for flag, r in runs.items()}
    assert f"read back from a scratch file in {tmp_path}" in read["--spill"]
    assert "scratch" not in read["--no-spill"]
    assert not list(tmp_path.glob("logitkit-spill-*"))  # deleted after
    np.testing.assert_allclose(
        runs["--spill"]["model"]["coef"], runs["--no-spill"]["model"]["coef"], rtol=1e-10
    )
    assert runs["--spill"]["policy"]["threshold"] == pytest.approx(
        runs["--no-spill"]["policy"]["threshold"], rel=1e-10
    )
    for extra in ([], ["--dask", "tcp://127.0.0.1:1"]):
        result = _cli(*base, "--spill", *extra, "--out", str(tmp_path / "x.json"))
        assert result.exit_code == 2
        text = " ".join(result.output.split())
        assert "--spill applies to a file streamed from this machine" in text
        assert ("--dask reads the file on its workers" in text) == bool(extra)


def test_cli_stream_chooses_C_by_roc_auc(table, tmp_path):
    frame, path = table
    out = tmp_path / "auc.json"
    args = [str(path), "--target", "outcome", "--drop", "id", "--stream", "--folds", "3"]
    args += ["--cv", "--cs", "3", "--scoring", "roc_auc", "--no-report", "--out", str(out)]
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    record = json.loads(out.read_text())["training"]["cross_validation"]
    memory = logitkit.train(
        frame,
        target="outcome",
        drop=["id"],
        folds=3,
        cv=True,
        Cs=3,
        scoring="roc_auc",
        fold_scheme="hash",
    )
    assert memory.search is not None
    assert record["scoring"] == "roc_auc"
    assert record["C"] == memory.search.C_
    scores = [r["mean_score"] for r in record["results"]]
    np.testing.assert_allclose(scores, memory.search.cv_results_["mean_score"], rtol=0, atol=1e-12)
    assert 0.5 < max(scores) < 1.0


@pytest.mark.slow  # starting the worker processes takes most of its time
def test_cli_dask_local_cluster_runs_the_whole_pipeline(table, tmp_path):
    pytest.importorskip("distributed")
    frame, path = table
    out, report = tmp_path / "dask.json", tmp_path / "dask.html"
    # `--dask local` starts a LocalCluster of worker processes (one per core here).
    args = [str(path), "--target", "outcome", "--drop", "id", "--folds", "2", "--dask", "local"]
    result = _cli(
        *args, "--cost-fp", "1", "--cost-fn", "4", "--out", str(out), "--report", str(report)
    )
    assert result.exit_code == 0, result.output
    content = json.loads(out.read_text())
    assert content["training"]["fit"] == "read by a Dask cluster (local)"
    assert content["policy"]["rule"]["method"] == "cost"
    assert (content["policy"]["rule"]["cost_fp"], content["policy"]["rule"]["cost_fn"]) == (1, 4)
    decisions = content["training"]["performance"]["cross_validated"]["decisions"]
    assert sum(decisions["confusion"].values()) == len(frame)
    assert report.exists()
    memory = logitkit.train(
        frame, target="outcome", drop=["id"], folds=2, fold_scheme="hash", cost_fp=1, cost_fn=4
    )
    assert memory.policy is not None
    assert content["policy"]["threshold"] == pytest.approx(memory.policy.threshold, rel=1e-8)
    assert decisions["confusion"] == memory.performance["decisions"]["confusion"]
    model = logitkit.load(out)
    np.testing.assert_allclose(model.coef_, memory.model.coef_, rtol=1e-8, atol=1e-12)
    assert list(model.feature_names_in_) == list(memory.model.feature_names_in_)
    assert model.predict(frame.head(3)).tolist() == memory.model.predict(frame.head(3)).tolist()
