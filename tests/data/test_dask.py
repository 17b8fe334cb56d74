"""Distributed fits on a real ``dask.distributed.LocalCluster`` of two worker processes.

Each solver pass maps the chunk function over the partitions on the workers and adds
the statistics in a tree; the coefficients must equal the in-memory fit's to 1e-8
relative (observed about 1e-14), for dask DataFrames and Arrays, L2 and L1, and the
hash folds (hence out-of-fold probabilities) must be those of the same rows in memory.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from logitkit import DataError, LogisticModel
from logitkit.data.dask import DaskSource
from logitkit.selection._hash_folds import HashKFold, cross_val_proba
from tests.helpers import make_logistic, two_worker_cluster

RTOL = 1e-8


@pytest.fixture(scope="module")
def client():
    with two_worker_cluster() as c:
        yield c


def _frame(n: int, classes: int = 2, seed: int = 0) -> pd.DataFrame:
    X, y = make_logistic(n=n, p=5, n_classes=classes, seed=seed)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(5)])
    frame["y"] = y
    frame["w"] = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    return frame


def _assert_same(model: LogisticModel, memory: LogisticModel) -> None:
    scale = np.abs(memory.coef_).max()
    assert np.abs(model.coef_ - memory.coef_).max() <= RTOL * scale
    assert np.abs(model.intercept_ - memory.intercept_).max() <= RTOL * max(scale, 1.0)
    assert np.array_equal(model.classes_, memory.classes_)
    assert np.array_equal(model.class_counts_, memory.class_counts_)


PARAMS = [{"C": 1.0}, {"penalty": "l1", "C": 0.02}]


@pytest.mark.parametrize("params", PARAMS, ids=["l2", "l1"])
def test_dataframe_with_target_column(client, params):
    frame = _frame(4000)
    ddf = dd.from_pandas(frame, npartitions=5)
    model = LogisticModel(**params).fit(DaskSource(ddf, target="y", weight="w"))
    X = frame.drop(columns=["y", "w"])
    memory = LogisticModel(**params).fit(X, frame["y"], sample_weight=frame["w"])
    _assert_same(model, memory)
    assert list(model.feature_names_in_) == list(X.columns)


@pytest.mark.parametrize("params", PARAMS, ids=["l2", "l1"])
def test_array_and_target_array(client, params):
    frame = _frame(4000, classes=3, seed=1)
    X = frame.drop(columns=["y", "w"]).to_numpy()
    y = frame["y"].to_numpy()
    # Column chunks are joined; y's chunks follow X's.
    model = LogisticModel(**params).fit(
        da.from_array(X, chunks=(700, 2)), da.from_array(y, chunks=1000)
    )
    _assert_same(model, LogisticModel(**params).fit(X, y))
    assert not hasattr(model, "feature_names_in_")
    assert model.n_features_in_ == 5


def test_frame_and_series_and_the_row_sample(client):
    # 100,000 rows: above 4 x 20,400, so the Hessian's row sample is fetched from the
    # workers and the solver presolves on it, as in memory.
    frame = _frame(100_000, seed=2)
    ddf = dd.from_pandas(frame, npartitions=4)
    model = LogisticModel(class_weight="balanced").fit(ddf.drop(columns=["y", "w"]), ddf["y"])
    memory = LogisticModel(class_weight="balanced").fit(frame.drop(columns=["y", "w"]), frame["y"])
    _assert_same(model, memory)
    assert model.solver_result_.n_passes == memory.solver_result_.n_passes


def test_passes_run_on_the_workers_next_to_the_data(client):
    frame = _frame(2000)
    ddf = dd.from_pandas(frame, npartitions=4)
    with distributed.get_task_stream(client) as stream:
        model = LogisticModel().fit(DaskSource(ddf, target="y", weight="w"))
    applied = [t for t in stream.data if "_apply" in str(t["key"])]
    # One task per partition and statistics pass (the first pass included).
    assert len(applied) == 4 * (model.solver_result_.n_passes + 1)
    assert len({t["worker"] for t in applied}) == 2  # both worker processes took part


def test_nan_names_column_partition_and_row(client):
    frame = _frame(1000)
    frame.loc[612, "x3"] = np.nan
    ddf = dd.from_pandas(frame, npartitions=4)
    with pytest.raises(DataError, match=r"Column 'x3' .* at row 612 \(index 612\)") as info:
        LogisticModel().fit(DaskSource(ddf, target="y"))
    assert (info.value.column, info.value.row) == ("x3", 612)


def test_non_numeric_column_is_refused(client):
    frame = _frame(100)
    frame["region"] = "north"
    with pytest.raises(DataError, match="'region'"):
        LogisticModel().fit(DaskSource(dd.from_pandas(frame, npartitions=2), target="y"))


def test_unaligned_partitions_are_refused(client):
    frame = _frame(300)
    X = dd.from_pandas(frame.drop(columns=["y", "w"]), npartitions=3)
    y = dd.from_pandas(frame["y"], npartitions=2)
    with pytest.raises(DataError, match="partitions"):
        LogisticModel().fit(X, y)


def test_hash_folds_and_out_of_fold_probabilities_match_memory(client):
    frame = _frame(3000, seed=5)
    X = frame.drop(columns=["y", "w"]).to_numpy()
    y = frame["y"].to_numpy()
    cv = HashKFold(4, seed=7)
    memory = cross_val_proba(LogisticModel(), X, y, cv=cv)
    # Another partitioning, the same rows: the same folds, fits and probabilities.
    source = DaskSource(da.from_array(X, chunks=900), da.from_array(y, chunks=900))
    scaled = cross_val_proba(LogisticModel(), source, cv=cv)
    assert isinstance(scaled, da.Array)
    values = scaled.compute()
    assert values.shape == (3000, 2)
    assert np.allclose(values, memory, rtol=1e-8, atol=1e-12)
