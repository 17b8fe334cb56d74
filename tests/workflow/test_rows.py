"""Fold scans: each block's kept rows and hash folds, hashed once and kept between passes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest

from logitkit.data.row_filters import HashShare
from logitkit.data.sources import hash_folds
from logitkit.data.stream import FileSource
from logitkit.selection import HashKFold
from logitkit.workflow import _rows
from logitkit.workflow._rows import FrameRows, SourceRows


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 3_000
    out = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    out["y"] = (out["a"] + rng.normal(size=n) > 0).astype(int)
    return out


def _summary(X, codes, sw, fold):
    """Per fold: rows, sum of the features, positives (a fold scan's block)."""
    return np.array(
        [[(fold == k).sum(), X[fold == k].sum(), codes[fold == k].sum()] for k in range(4)]
    )


def _expected(frame: pd.DataFrame, folds: HashKFold, keep) -> np.ndarray:
    X = frame[["a", "b", "c"]].to_numpy()
    codes = frame["y"].to_numpy()
    if keep is not None:
        mask = keep.mask(X)
        X, codes = X[mask], codes[mask]
    return _summary(X, codes, None, hash_folds(X, folds.n_splits, folds.seed))


def _counting(monkeypatch) -> list[int]:
    calls: list[int] = []

    def counted(X, n_splits, seed=0):
        calls.append(X.shape[0])
        return hash_folds(X, n_splits, seed)

    monkeypatch.setattr(_rows, "hash_folds", counted)
    return calls


@pytest.mark.parametrize("where", ["memory", "file"])
def test_folds_are_hashed_on_the_first_scan_only(frame, tmp_path, monkeypatch, where):
    if where == "memory":
        rows = FrameRows(frame[["a", "b", "c"]], frame["y"].to_numpy(), None)
    else:
        path = tmp_path / "rows.parquet"
        frame.to_parquet(path)
        rows = SourceRows(FileSource(path, "y", batch_rows=700, spill=tmp_path))
    calls = _counting(monkeypatch)
    folds = HashKFold(4, seed=9)
    keep = HashShare(0.2, seed=1, held=False)
    for keep_rows in (None, keep):
        expected = _expected(frame, folds, keep_rows)
        before = len(calls)
        first = sum(rows.scan_folds(_summary, folds, keep_rows))
        hashed = len(calls) - before
        assert hashed >= 1
        second = sum(rows.scan_folds(_summary, folds, keep_rows))
        assert len(calls) - before == hashed  # the second scan hashed nothing
        np.testing.assert_allclose(first, expected, rtol=1e-12)
        np.testing.assert_allclose(second, expected, rtol=1e-12)
    # Another seed is another assignment: hashed afresh.
    before = len(calls)
    other = HashKFold(4, seed=10)
    result = sum(rows.scan_folds(_summary, other, None))
    assert len(calls) > before
    np.testing.assert_allclose(result, _expected(frame, other, None), rtol=1e-12)


def test_a_scan_stopped_early_keeps_nothing(frame, tmp_path, monkeypatch):
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path)
    rows = SourceRows(FileSource(path, "y", batch_rows=500))
    calls = _counting(monkeypatch)
    folds = HashKFold(4)
    scan = rows.scan_folds(partial(_summary), folds, None)
    next(scan)
    scan.close()  # type: ignore[attr-defined]
    assert len(calls) == 1
    total = sum(rows.scan_folds(_summary, folds, None))
    assert len(calls) == 1 + 6  # every block hashed: the stopped scan kept nothing
    np.testing.assert_allclose(total, _expected(frame, folds, None), rtol=1e-12)
