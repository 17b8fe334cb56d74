"""The solver's shortcuts change its speed, never its answer."""

from __future__ import annotations

import numpy as np
import pytest

import logitkit.solver.objective as objective_module
from logitkit import LogisticModel
from logitkit.solver.prox_newton import coordinate_descent
from tests.helpers import make_logistic


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
