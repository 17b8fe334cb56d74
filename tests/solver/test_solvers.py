"""The solver's shortcuts change its speed, never its answer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import logitkit.solver as solver_module
import logitkit.solver.objective as objective_module
from logitkit import LogisticModel
from logitkit.solver.prox_newton import coordinate_descent
from tests.helpers import make_logistic, objective


@pytest.fixture(scope="module")
def large() -> tuple[np.ndarray, np.ndarray]:
    # Large enough for the sampled Hessian (more than four times 20,000 rows).
    return make_logistic(n=120_000, p=6, seed=5)


@pytest.mark.parametrize(("penalty", "C"), [("l2", 1.0), ("l1", 0.0005), (None, 1.0)])
def test_sampled_curvature_reaches_the_exact_optimum(large, penalty, C, monkeypatch):
    X, y = large
    sampled = LogisticModel(penalty=penalty, C=C).fit(X, y)
    assert sampled.solver_result_.n_passes > 0
    monkeypatch.setattr(objective_module, "_SAMPLE_FRACTION", 0.0)  # never sample
    exact = LogisticModel(penalty=penalty, C=C).fit(X, y)
    np.testing.assert_allclose(sampled.coef_, exact.coef_, rtol=1e-7, atol=1e-10)
    if penalty == "l1":
        assert 0 < np.count_nonzero(exact.coef_) < X.shape[1]


def test_unpenalised_fit_carries_the_exact_hessian_at_the_solution(large, monkeypatch):
    X, y = large
    sampled = LogisticModel(penalty=None).fit(X, y).solver_result_.stats.hess
    monkeypatch.setattr(objective_module, "_SAMPLE_FRACTION", 0.0)
    exact = LogisticModel(penalty=None).fit(X, y).solver_result_.stats.hess
    np.testing.assert_allclose(sampled, exact, rtol=1e-7)


def test_working_set_lasso_equals_full_coordinate_descent():
    # Many irrelevant features: the working set stays small, the answer is the same.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 60))
    y = (X[:, 0] - 2 * X[:, 1] + rng.standard_normal(400) > 0).astype(int)
    model = LogisticModel(penalty="l1", C=0.05).fit(X, y)
    lbfgs = LogisticModel(penalty="l1", C=0.05, solver="lbfgs").fit(X, y)
    assert np.count_nonzero(model.coef_) < 15
    np.testing.assert_allclose(model.predict_proba(X), lbfgs.predict_proba(X), atol=1e-6)


def test_coordinate_descent_solves_the_lasso_quadratic():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((50, 5))
    H = A.T @ A / 50 + 0.1 * np.eye(5)
    g = rng.standard_normal(5)
    pen = np.array([False, True, True, True, True])
    u, _ = coordinate_descent(H, g, np.zeros(5), 0.3, pen, np.ones(5, bool), 1e-12)
    # Optimality: gradient of the model at u balanced by the L1 subgradient.
    grad = g + H @ u
    assert abs(grad[0]) < 1e-10
    for j in range(1, 5):
        if u[j] != 0:
            assert grad[j] + 0.3 * np.sign(u[j]) == pytest.approx(0.0, abs=1e-10)
        else:
            assert abs(grad[j]) <= 0.3 + 1e-10


@pytest.fixture(scope="module")
def wide_sparse() -> tuple[sp.csr_matrix, np.ndarray, float]:
    """Text-like sparse rows with a few relevant columns, and C at lambda_max / 3."""
    rng = np.random.default_rng(7)
    n, p = 300, 400
    X = sp.random(
        n,
        p,
        density=0.03,
        random_state=rng,
        format="csr",
        data_rvs=lambda k: rng.uniform(0.5, 2, k),
    )
    beta = np.zeros(p)
    beta[:8] = 3.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta - 1.0)))).astype(int)
    mean = np.asarray(X.mean(axis=0)).ravel()
    std = np.sqrt(np.asarray(X.multiply(X).mean(axis=0)).ravel() - mean**2)
    lambda_max = float(np.abs(X.T @ (y - y.mean()) / std).max())
    return X, y, 3.0 / lambda_max


def _glum_l1(X: sp.csr_matrix, y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    glum = pytest.importorskip("glum")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tabmat's notes on copies
        ref = glum.GeneralizedLinearRegressor(
            family="binomial",
            alpha=1.0 / (C * X.shape[0]),
            l1_ratio=1.0,
            scale_predictors=True,
            gradient_tol=1e-12,
            max_iter=1000,
        ).fit(X, y)
    return np.asarray(ref.coef_)[None, :], np.array([ref.intercept_])


def test_wide_l1_solves_on_the_working_set_and_matches_glum(wide_sparse, monkeypatch):
    # More parameters than a full Hessian may cover (the cap lowered to make this data
    # wide): proximal Newton forms the Hessian of the working set only.
    monkeypatch.setattr(solver_module, "MAX_HESSIAN_PARAMETERS", 200)
    X, y, C = wide_sparse
    model = LogisticModel(penalty="l1", C=C).fit(X, y)
    result = model.solver_result_
    assert result.method == "prox-newton"
    assert result.converged
    assert result.kkt <= 1e-10
    assert result.stats.hess is None or result.stats.hess.shape[0] < 200
    assert 0 < np.count_nonzero(model.coef_) < 100
    coef, intercept = _glum_l1(X, y, C)
    np.testing.assert_allclose(model.coef_, coef, atol=1e-7)
    np.testing.assert_allclose(model.intercept_, intercept, atol=1e-7)
    dense = X.toarray()
    scale = model.feature_scale_
    ours = objective(model.coef_, model.intercept_, dense, y, C=C, l1_ratio=1.0, scale=scale)
    theirs = objective(coef, intercept, dense, y, C=C, l1_ratio=1.0, scale=scale)
    assert ours <= theirs * (1 + 1e-12)


def test_a_working_set_past_the_cap_goes_on_with_lbfgs(wide_sparse, monkeypatch):
    X, y, C = wide_sparse
    capped = LogisticModel(penalty="l1", C=C)
    monkeypatch.setattr(solver_module, "MAX_HESSIAN_PARAMETERS", 200)
    exact = capped.fit(X, y).coef_.copy()
    # A cap below the support: the fit moves to L-BFGS from where proximal Newton got.
    monkeypatch.setattr(solver_module, "MAX_HESSIAN_PARAMETERS", 5)
    model = LogisticModel(penalty="l1", C=C).fit(X, y)
    assert model.solver_result_.method == "lbfgs"
    assert model.solver_result_.converged
    np.testing.assert_allclose(model.coef_, exact, atol=1e-5)


@pytest.mark.parametrize("penalty", ["l2", None])
def test_the_presolve_hessian_carries_over_to_the_full_data(large, penalty, monkeypatch):
    # A cold start solves on the row sample first; its last Hessian is a sampled Hessian
    # at the new start, reused on the full data while steps stay fast.
    X, y = large
    formed: list[int] = []  # rows of each pass that formed a Hessian
    one_pass = objective_module.Objective._pass

    def counting(self, source, theta, hessian, columns, linear=None):
        stats = one_pass(self, source, theta, hessian, columns, linear)
        if hessian:
            formed.append(stats.n_rows)
        return stats

    monkeypatch.setattr(objective_module.Objective, "_pass", counting)
    model = LogisticModel(penalty=penalty).fit(X, y)
    assert model.solver_result_.kkt <= 1e-8
    assert formed.count(len(y)) <= 1  # at most the exact one an unpenalised fit ends with
    monkeypatch.setattr(objective_module, "_SAMPLE_FRACTION", 0.0)  # no sample, no presolve
    exact = LogisticModel(penalty=penalty).fit(X, y)
    np.testing.assert_allclose(model.coef_, exact.coef_, rtol=1e-7, atol=1e-10)
    if penalty is None:
        np.testing.assert_allclose(
            model.solver_result_.stats.hess, exact.solver_result_.stats.hess, rtol=1e-7
        )
