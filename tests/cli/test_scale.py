"""``fit_streamed``: what ``logitkit train --stream`` and ``--dask local`` call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from logitkit import DataError, LogisticModel
from logitkit.cli import _scale
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


def test_dask_local_cluster_equals_in_memory(table):
    pytest.importorskip("distributed")
    frame, path = table
    model = fit_streamed(path, "outcome", {"C": 0.5}, drop=["id"], dask="local", n_workers=2)
    memory = _memory(frame, C=0.5)
    assert np.allclose(model.coef_, memory.coef_, rtol=1e-8, atol=1e-12)
    assert list(model.feature_names_in_) == list(memory.feature_names_in_)
    assert model.encoder_ is not None


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
