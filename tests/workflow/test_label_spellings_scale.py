"""Target labels spelt several ways (``--normalize-labels``) at scale, as in memory.

In memory ``normalize_labels=True`` merges labels that differ only in case or spaces
into their most frequent spelling; streamed from Parquet and CSV and on Dask the same
merge must give the same artifact (:func:`_differences` of
:mod:`tests.workflow.test_streamed_pipeline`), held-out rows included, and without the
option the spellings are refused, as in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import logitkit
from logitkit import DataError
from logitkit.cli import app
from logitkit.cli._scale import train_streamed
from logitkit.workflow import TrainingSpec
from tests.workflow.test_streamed_pipeline import _artifact, _differences, _frame


@pytest.fixture(scope="module")
def spelt(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, Path]:
    """The rows with 'yes' also typed 'Yes' and 'yes ' (and 'no' as 'No')."""
    frame = _frame(n=1200, seed=6)
    rng = np.random.default_rng(11)
    draw = rng.random(len(frame))
    yes = frame["outcome"] == "yes"
    frame.loc[yes & (draw < 0.1), "outcome"] = "Yes"
    frame.loc[yes & (draw > 0.95), "outcome"] = "yes "
    frame.loc[~yes & (draw < 0.05), "outcome"] = "No"
    frame.loc[rng.random(len(frame)) < 0.04, "age"] = np.nan
    where = tmp_path_factory.mktemp("spelt")
    parquet, csv = where / "rows.parquet", where / "rows.csv"
    frame.to_parquet(parquet, row_group_size=300)
    frame.to_csv(csv, index=False)
    return frame, parquet, csv


def _streamed(path: Path, dask: str | None = None, **options: Any) -> Any:
    spec = TrainingSpec(target="outcome", **options)
    return train_streamed(path, spec, batch_rows=256, dask=dask, progress=False, explicit=True)


@pytest.mark.parametrize("positive", ["no", "yes"])
def test_merged_spellings_give_the_in_memory_artifact(spelt, tmp_path, positive):
    distributed = pytest.importorskip("distributed")
    frame, parquet, csv = spelt
    options = {"normalize_labels": True, "impute": "median", "folds": 3, "test_size": 0.2}
    options |= {"min_recall": 0.8, "positive": positive}
    memory = logitkit.train(frame, target="outcome", fold_scheme="hash", **options)
    assert sorted(memory.model.classes_) == ["no", "yes"]
    a = _artifact(memory, tmp_path / "memory.json")
    b = _artifact(_streamed(parquet, **options), tmp_path / "parquet.json")
    c = _artifact(_streamed(csv, **options), tmp_path / "csv.json")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        d = _artifact(
            _streamed(parquet, dask=cluster.scheduler_address, **options), tmp_path / "d.json"
        )
        plain = {k: v for k, v in options.items() if k != "test_size"}
        e_memory = _artifact(
            logitkit.train(frame, target="outcome", fold_scheme="hash", **plain),
            tmp_path / "e.json",
        )
        e = _artifact(
            _streamed(parquet, dask=cluster.scheduler_address, **plain), tmp_path / "f.json"
        )
    for other in (b, c, d):
        assert _differences(a, other) == []
    assert _differences(e_memory, e) == []


def test_spellings_without_the_option_are_refused_at_scale(spelt, tmp_path):
    _, parquet, _ = spelt
    with pytest.raises(DataError, match="--normalize-labels") as err:
        _streamed(parquet)
    assert "'Yes'" in str(err.value)
    out = tmp_path / "m.json"
    args = ["train", str(parquet), "--target", "outcome", "--stream", "--impute", "median"]
    args += ["--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-report"])
    assert result.exit_code == 2
    assert "--normalize-labels" in result.output
    result = CliRunner().invoke(app, [*args, "--no-report", "--normalize-labels"])
    assert result.exit_code == 0, result.output
    assert sorted(logitkit.load(out).classes_) == ["no", "yes"]
