"""Hash folds: each row's fold from its values alone, the same in memory and streamed."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from logitkit import LogisticModel, LogisticModelCV
from logitkit.data.sources import FoldFilter, hash_folds
from logitkit.data.stream import FileSource
from logitkit.selection._hash_folds import HashKFold, cross_val_proba
from tests.helpers import make_logistic


def test_folds_depend_on_the_row_values_only():
    X, _ = make_logistic(n=2000, p=6, seed=0)
    folds = hash_folds(X, 5)
    order = np.random.default_rng(1).permutation(2000)
    assert np.array_equal(hash_folds(X[order], 5), folds[order])
    assert np.array_equal(hash_folds(np.asfortranarray(X), 5), folds)
    assert np.array_equal(
        hash_folds(X.astype(np.float32).astype(np.float64), 5), hash_folds(X.astype(np.float32), 5)
    )
    assert np.array_equal(hash_folds(X[:700], 5), folds[:700])  # in any block split


def _by_hand(row: np.ndarray, n_splits: int, seed: int) -> int:
    """The documented hash in plain Python integers (independent of numpy's uint64)."""
    m = 2**64

    def mix(z: int) -> int:  # splitmix64
        z = (z + 0x9E3779B97F4A7C15) % m
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % m
        return z ^ (z >> 31)

    h = 0
    for j, value in enumerate(row):
        b = struct.unpack("<Q", struct.pack("<d", float(value) + 0.0))[0]
        a = mix(((seed & 0xFFFFFFFF) << 32) + j) | 1
        h = (h + a * (b ^ (b >> 32))) % m
    return ((mix(h ^ seed) >> 32) * n_splits) >> 32


@pytest.mark.parametrize("seed", [0, 3])
def test_hash_is_the_documented_one(seed):
    rng = np.random.default_rng(seed)
    X = np.vstack(
        [
            [[0.0, 1.0, 2.0], [-0.0, 1.0, 2.0], [1e300, -7.0, 0.5]],
            rng.normal(size=(30, 3)) * 10.0 ** rng.integers(-3, 4, size=(30, 3)),
            rng.integers(-5, 5, size=(30, 3)),
        ]
    )
    expected = [_by_hand(row, 7, seed) for row in X]
    assert hash_folds(X, 7, seed=seed).tolist() == expected
    assert expected[0] == expected[1]  # -0.0 counts as 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_folds_are_balanced_even_for_integer_features(seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 50, size=(50_000, 3)).astype(np.float64)  # round numbers, many ties
    distinct, first = np.unique(X, axis=0, return_index=True)
    sizes = np.bincount(hash_folds(distinct, 5, seed=seed), minlength=5)
    expected = distinct.shape[0] / 5
    # A binomial count's sd is sqrt(n p (1 - p)); 5 sd is far beyond chance.
    assert np.all(np.abs(sizes - expected) < 5 * np.sqrt(expected * 0.8)), sizes
    assert first.size == distinct.shape[0]


def test_seeds_give_independent_assignments():
    X, _ = make_logistic(n=5000, p=4, seed=2)
    a, b = hash_folds(X, 5, seed=0), hash_folds(X, 5, seed=1)
    agree = float((a == b).mean())
    assert 0.15 < agree < 0.25  # 1/5 by chance


def test_splitter_partitions_rows_and_works_in_cv():
    X, y = make_logistic(n=600, p=4, seed=3)
    cv = HashKFold(4)
    tests = [test for _, test in cv.split(X, y)]
    assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(600))
    assert cv.get_n_splits() == 4
    search = LogisticModelCV(Cs=3, cv=cv).fit(X, y)
    assert not np.isnan(search.oof_proba_).any()
    frame = pd.DataFrame(X)
    assert np.array_equal(cv.folds(frame), cv.folds(X))


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"'n_splits' parameter of HashKFold .* Got 1"):
        HashKFold(1)
    with pytest.raises(ValueError, match="fold must be in"):
        FoldFilter(3, 3)


def test_out_of_fold_proba_in_memory_and_streamed(tmp_path):
    X, y = make_logistic(n=1500, p=4, seed=4)
    cv = HashKFold(3, seed=5)
    memory = cross_val_proba(LogisticModel(C=0.5), X, y, cv=cv)
    for train, test in cv.split(X):
        fitted = LogisticModel(C=0.5).fit(X[train], y[train])
        assert np.allclose(memory[test], fitted.predict_proba(X[test]), rtol=1e-12)
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame["y"] = y
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path, row_group_size=400)
    streamed = cross_val_proba(LogisticModel(C=0.5), FileSource(path, "y", batch_rows=256), cv=cv)
    assert np.allclose(streamed, memory, rtol=1e-8, atol=1e-12)
