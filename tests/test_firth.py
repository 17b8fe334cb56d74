"""Firth's bias-reduced logistic regression (penalty="firth") against independent references.

``tests/reference/firth.json`` (made by ``tests/reference/make_firth.py``, scipy only)
holds the closed form for a 2x2 table with an empty cell and an independent fit with
profile penalised-likelihood intervals on quasi-separated data; see that file for the
commands and the tolerances (1e-6 estimates and SEs, 1e-5 profile bounds).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer

from logitkit import DataError, LogisticModel, SeparationError, diagnose
from logitkit.data.memory import ArraySource
from logitkit.solver import Problem, Scaling
from logitkit.solver.firth import _derivatives, _Design, _evaluate, firth, profile_interval

REF = json.loads((Path(__file__).parent / "reference" / "firth.json").read_text())


def separated() -> tuple[np.ndarray, np.ndarray]:
    data = REF["separated"]
    return np.array(data["X"]), np.array(data["y"])


def test_two_by_two_table_is_the_haldane_estimate() -> None:
    """Saturated binary covariate: Firth adds 1/2 to every cell (Firth 1993)."""
    table = REF["table"]
    x, y = np.array(table["x"])[:, None], np.array(table["y"])
    model = LogisticModel(penalty="firth").fit(x, y)
    assert model.intercept_[0] == pytest.approx(table["intercept"], rel=1e-9, abs=1e-12)
    assert model.coef_[0, 0] == pytest.approx(table["coef"], rel=1e-9)


def test_separated_data_matches_independent_fit() -> None:
    X, y = separated()
    ref = REF["separated"]
    model = LogisticModel(penalty="firth").fit(X, y)
    assert [f.features[0] for f in diagnose(model, X, y).select(check="separation")] == ["x0"]
    np.testing.assert_allclose(model.intercept_, [ref["intercept"]], rtol=1e-6)
    np.testing.assert_allclose(model.coef_[0], ref["coef"], rtol=1e-6)
    wald = model.summary()
    np.testing.assert_allclose(wald["std_err"], ref["std_err"], rtol=1e-6)
    assert any("profile" in note for note in wald.notes)


def test_profile_penalised_likelihood_intervals_match_independent_fit() -> None:
    X, y = separated()
    ref = REF["separated"]
    table = LogisticModel(penalty="firth").fit(X, y).summary(method="profile", X=X, y=y)
    np.testing.assert_allclose(table["ci_low"], ref["profile_lower"], rtol=1e-5)
    np.testing.assert_allclose(table["ci_high"], ref["profile_upper"], rtol=1e-5)
    np.testing.assert_allclose(table["z"] ** 2, ref["lr_zero"], rtol=1e-5)
    assert np.isfinite(table[["ci_low", "ci_high"]].to_numpy()).all()
    assert "profile penalised likelihood" in str(table)


def test_gradient_and_hessian_of_the_penalised_likelihood() -> None:
    """The modified score and the exact Newton Hessian against finite differences."""
    rng = np.random.default_rng(0)
    A = np.column_stack([np.ones(50), rng.standard_normal((50, 3))])
    y = (rng.uniform(size=50) < 0.4).astype(np.intp)
    w = rng.uniform(0.5, 2.0, 50)
    design, every = _Design((A, y, w)), np.ones(4, dtype=bool)
    theta = np.array([0.3, -0.5, 0.8, 0.1])
    point = _evaluate(design, theta, every, True)
    score, neg_hess = _derivatives(design, point, every, True, newton=True)
    h = 1e-6
    for j in range(4):
        e = np.eye(4)[j] * h
        up, down = (
            _evaluate(design, theta + e, every, True),
            _evaluate(design, theta - e, every, True),
        )
        assert score[j] == pytest.approx((up.value - down.value) / (2 * h), rel=1e-6)
        s_up = _derivatives(design, up, every, True, newton=False)[0]
        s_down = _derivatives(design, down, every, True, newton=False)[0]
        np.testing.assert_allclose(-neg_hess[:, j], (s_up - s_down) / (2 * h), rtol=1e-5, atol=1e-8)


def test_units_and_weights_do_not_matter() -> None:
    """Firth's penalty is invariant to affine feature changes; weight 2 = the row twice."""
    X, y = separated()
    base = LogisticModel(penalty="firth").fit(X, y)
    raw = LogisticModel(penalty="firth", standardize=False).fit(X, y)
    np.testing.assert_allclose(raw.coef_, base.coef_, rtol=1e-8)
    np.testing.assert_allclose(raw.intercept_, base.intercept_, rtol=1e-8)
    w = np.where(np.arange(len(y)) % 4 == 0, 2.0, 1.0)
    twice = np.repeat(np.arange(len(y)), w.astype(int))
    a = LogisticModel(penalty="firth").fit(X, y, sample_weight=w)
    b = LogisticModel(penalty="firth").fit(X[twice], y[twice])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8)
    np.testing.assert_allclose(a.summary()["std_err"], b.summary()["std_err"], rtol=1e-8)
    sparse = LogisticModel(penalty="firth").fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, base.coef_, rtol=1e-8)


def test_chunked_passes_equal_one_block() -> None:
    """Many chunks (streamed or distributed data) give the single-block solution."""
    X, y = separated()
    codes, w = y.astype(np.intp), np.ones(len(y))
    mean, scale = X.mean(axis=0), X.std(axis=0)
    blocks = [slice(i, min(i + 7, len(y))) for i in range(0, len(y), 7)]
    results = []
    for chunks in (None, blocks):
        source = ArraySource(X, codes, w, w, 1, blocks=chunks)
        problem = Problem(
            source,
            Scaling(mean, scale),
            1,
            np.inf,
            0.0,
            True,
            np.zeros(2, dtype=bool),
            float(len(y)),
            len(y),
        )
        results.append(firth(problem, np.zeros(3), tol=1e-12, max_iter=50))
    assert results[1].converged
    np.testing.assert_allclose(results[1].theta, results[0].theta, rtol=1e-10)


def test_breast_cancer_separates_yet_firth_converges() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.raises(SeparationError):
        LogisticModel(penalty=None).fit(X, y)
    model = LogisticModel(penalty="firth").fit(X, y)  # no ConvergenceWarning
    assert model.solver_result_.converged
    assert model.solver_result_.method == "firth"
    assert np.isfinite(model.summary()["std_err"]).all()


def test_refuses_multiclass_and_collinear_features() -> None:
    X, y = separated()
    with pytest.raises(ValueError, match="binary targets only"):
        LogisticModel(penalty="firth").fit(X, np.arange(len(y)) % 3)
    with pytest.raises(DataError, match="linearly independent"):
        LogisticModel(penalty="firth").fit(np.column_stack([X, X[:, 1] * 2.0]), y)


def test_profile_without_penalty_is_unbounded_under_separation() -> None:
    """Plain profile likelihood never falls far enough where the MLE does not exist."""
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    A = np.column_stack([np.ones(6), x])
    y = np.array([0, 0, 0, 1, 1, 1])
    prof = profile_interval(A, y, np.ones(6), np.array([-5.0, 2.0]), 1, firth=False, max_iter=30)
    assert prof.upper == np.inf
    firth_prof = profile_interval(A, y, np.ones(6), np.zeros(2), 1)
    assert np.isfinite([firth_prof.lower, firth_prof.upper]).all()
