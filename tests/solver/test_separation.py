"""Complete and quasi-complete separation, told apart on data whose answer is known.

Each case is cross-checked with linear programs written here from the definitions
(Albert and Anderson, 1984), independent of the module's own formulation: complete
separation is the feasibility of ``s_i a_i . theta >= 1`` for every row; a row ``i`` is
strictly separable exactly when ``s_i a_i . theta >= 0`` for all rows with
``s_i a_i . theta = 1`` for row ``i`` is feasible.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from logitkit.solver.separation import find_separation, single_feature_separation


def signed_design(X: np.ndarray, positive: np.ndarray) -> np.ndarray:
    A = np.column_stack([np.ones(len(X)), X])
    return A * np.where(positive, 1.0, -1.0)[:, None]


def completely_separable(X: np.ndarray, positive: np.ndarray) -> bool:
    S = signed_design(X, positive)
    res = linprog(
        np.zeros(S.shape[1]),
        A_ub=-S,
        b_ub=-np.ones(len(S)),
        bounds=[(None, None)] * S.shape[1],
        method="highs",
    )
    return bool(res.status == 0)


def strictly_separable_rows(X: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """One feasibility LP per row: can some separating direction give it a margin?"""
    S = signed_design(X, positive)
    out = []
    for i in range(len(S)):
        res = linprog(
            np.zeros(S.shape[1]),
            A_ub=-S,
            b_ub=np.zeros(len(S)),
            A_eq=S[i : i + 1],
            b_eq=[1.0],
            bounds=[(None, None)] * S.shape[1],
            method="highs",
        )
        out.append(res.status == 0)
    return np.array(out)


def complete_by_a_combination(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Continuous features, classes split by x0 + x2 = 0: no ties, no single separator."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((150, 3))
    return X, X[:, 0] + X[:, 2] > 0


def quasi_with_ties() -> tuple[np.ndarray, np.ndarray]:
    """Positives at x0 >= 0, negatives at x0 <= 0, and both classes at x0 = 0.

    On the line x0 = 0 the negatives' x1 lie between the positives', so no tilt of the
    boundary pulls them apart: the separation is quasi-complete, with exactly those
    8 rows tied.
    """
    rng = np.random.default_rng(7)
    x0 = np.concatenate([rng.uniform(0.5, 2.0, 40), rng.uniform(-2.0, -0.5, 40), np.zeros(8)])
    x1 = rng.standard_normal(88)
    x1[80:] = [-1.0, 0.0, 1.0, 0.5, -2.0, -0.5, 2.0, 0.2]  # even rows are positive
    positive = np.concatenate([np.ones(40, bool), np.zeros(40, bool), np.arange(8) % 2 == 0])
    return np.column_stack([x0, x1]), positive


@pytest.mark.parametrize("seed", range(5))
def test_complete_separation_by_a_combination(seed: int) -> None:
    X, positive = complete_by_a_combination(seed)
    assert completely_separable(X, positive)
    found = find_separation(X, positive)
    assert found is not None
    assert found.complete
    assert found.n_separated == len(X)
    assert found.separated.all()
    assert set(found.features[:2]) == {0, 2}  # x1 at most fine-tunes the margin
    assert single_feature_separation(X, positive) == []


def test_quasi_complete_separation_counts_the_tied_rows() -> None:
    X, positive = quasi_with_ties()
    assert not completely_separable(X, positive)
    expected = strictly_separable_rows(X, positive)
    assert expected.sum() == 80  # all but the 8 rows at x0 = 0
    found = find_separation(X, positive)
    assert found is not None
    assert not found.complete
    np.testing.assert_array_equal(found.separated, expected)
    assert found.n_separated == 80
    assert found.features == [0]
    assert single_feature_separation(X, positive) == [0]
    assert single_feature_separation(X, positive, strict=True) == []


def test_quasi_complete_separation_by_a_combination() -> None:
    """Ties on a tilted boundary: x0 + x1 = 0 holds rows of both classes."""
    X, positive = quasi_with_ties()
    rotated = np.column_stack([X[:, 0] + X[:, 1], X[:, 0] - X[:, 1]]) / 2.0
    found = find_separation(rotated, positive)
    assert found is not None
    assert not found.complete
    np.testing.assert_array_equal(found.separated, strictly_separable_rows(rotated, positive))
    assert single_feature_separation(rotated, positive) == []


def test_overlap_is_not_separation() -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))
    positive = X[:, 0] + rng.logistic(size=200) > 0
    assert find_separation(X, positive) is None
    assert not strictly_separable_rows(X, positive).any()


def test_a_single_separating_feature_with_a_gap_is_complete() -> None:
    X, positive = quasi_with_ties()
    gap = X[:80]
    found = find_separation(gap, positive[:80])
    assert found is not None
    assert found.complete
    assert single_feature_separation(gap, positive[:80], strict=True) == [0]


def test_without_an_intercept_the_boundary_passes_through_the_origin() -> None:
    # Separated by x > 1.5, but no line through the origin separates them.
    X = np.array([[1.0], [2.0], [1.2], [3.0]])
    positive = np.array([False, True, False, True])
    assert find_separation(X, positive).complete  # type: ignore[union-attr]
    assert find_separation(X, positive, fit_intercept=False) is None
